#!/usr/bin/env node
// `approuter-edge init <approuter folder> [--out DIR]`: reads an SAP approuter project as it
// is (xs-app.json, package.json, default-env.json / default-services.json, the folders its
// localDir routes name, xs-security.json) and writes an edge project beside it: wrangler.toml
// with the static assets bound, the files under public/ where the router serves them,
// .dev.vars from default-env.json, xs-app.json, and MIGRATION.md: everything it could not
// carry over, why, and what to do instead. The original folder is only read, never written.
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { basename, dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { command, parseCommandLine, runIfMain, UsageError } from "./lib/cli.mjs";
import { dotenvLine } from "./lib/dotenv.mjs";
import { readJsonFile, readSapEnv } from "./lib/sap-env.mjs";

const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const OWN_PACKAGE = JSON.parse(readFileSync(join(PACKAGE_ROOT, "package.json"), "utf8"));
const COMPATIBILITY_DATE = "2026-04-26";

const USAGE = `Usage: approuter-edge init <approuter folder> [--out DIR]

Writes an edge project for the SAP approuter project in <approuter folder> into DIR
(default: <approuter folder>-edge, which must not exist yet or be empty) and prints what it
could not carry over. The approuter folder is only read.`;

/**
 * Environment variables the router reads (README "Configuration"); a test checks the list
 * against what the router's configuration loader reads.
 */
export const ROUTER_VARIABLES = new Set([
  "destinations",
  "VCAP_SERVICES",
  "EXT_SESSION_MGT",
  "SESSION_TIMEOUT",
  "SESSION_ABSOLUTE_TIMEOUT",
  "SESSION_COOKIE_NAME",
  "SESSION_MEMORY_MAX_ENTRIES",
  "SESSION_MEMORY_MAX_BYTES",
  "UPSTASH_REDIS_REST_URL",
  "UPSTASH_REDIS_REST_TOKEN",
  "SEND_XFRAMEOPTIONS",
  "httpHeaders",
  "CORS",
  "COOKIES",
  "SECURE_SESSION_COOKIE",
  "WS_ALLOWED_ORIGINS",
  "CJ_PROTECT_WHITELIST",
  "MERGE_CSP_HEADERS",
  "plugins",
  "COMPRESSION",
  "DESTINATION_HOST_PATTERN",
  "OWN_SAP_CLOUD_SERVICE",
  "DIRECT_ROUTING_URI_PATTERNS",
  "JWT_REFRESH",
  "TENANT_HOST_PATTERN",
  "PRESERVE_FRAGMENT",
  "UAA_SERVICE_NAME",
  "IAS_SERVICE_NAME",
  "ENABLE_PERMANENT_AUTHTYPE",
  "LOGOUT_WITH_TOKEN_HINT",
  "XS_BIND_ADDRESS",
  "DYNAMIC_IDENTITY_PROVIDER",
  "XSUAA_MTLS_BINDING",
  "IAS_MTLS_BINDING",
  "STATUS_TOKEN",
  "XS_APP",
]);

/**
 * SAP variables the router does not support, and why: the router's own list (it names them
 * in a start-up warning; README "SAP variables not supported"), by name.
 * @type {Map<string, string>}
 */
const UNSUPPORTED_VARIABLES = new Map(
  JSON.parse(readFileSync(join(PACKAGE_ROOT, "src/config/unsupported-variables.json"), "utf8")).map(
    (/** @type {{ name: string, reason: string }} */ v) => [v.name, v.reason],
  ),
);

/** SAP variables with no meaning at the edge, and what to do instead. */
export const SAP_ONLY_VARIABLES = {
  PORT: "wrangler dev picks the port (`npm run dev -- --port N`); deployed, Cloudflare does",
  NODE_ENV: "not needed: local runs read default-env.json and .dev.vars by themselves",
  XS_APP_LOG_LEVEL: "logs are Workers Logs: `npx wrangler tail`",
  CF_NODEJS_LOGGING_LEVEL: "logs are Workers Logs: `npx wrangler tail`",
  REQUEST_TRACE: "logs are Workers Logs: `npx wrangler tail`",
  INCOMING_CONNECTION_TIMEOUT: "Cloudflare manages client connections",
  SERVER_KEEP_ALIVE: "Cloudflare manages client connections",
  HTTP2_SUPPORT: "Cloudflare speaks HTTP/2 and HTTP/3 with browsers by itself",
  SSO_LOGOUT: "not supported",
};

/** Destination properties the router reads (README "Configuration"). */
const DESTINATION_PROPERTIES = new Set([
  "name",
  "url",
  "forwardAuthToken",
  "timeout",
  "setXForwardedHeaders",
  "strictSSL",
  "proxyType",
]);

/** Route services the router serves: SAP's user API, and the HTML5 repository when it is bound. */
const USER_API_SERVICE = "sap-approuter-userapi";
const HTML5_REPO_SERVICE = "html5-apps-repo-rt";

/** xs-app.json route properties the router refuses, and why. */
const ROUTE_UNSUPPORTED = {
  endpoint: "belongs to routes to business services (not supported)",
};
const TOP_UNSUPPORTED = {
  services: "routes to business services are not supported at the edge",
  plugins: "not an xs-app.json property: SAP's router and this one read plugins from the `plugins` variable",
};

/**
 * @typedef {{ item: string, why: string, todo: string }} Note
 * @typedef {{ outDir: string, notes: Note[], carried: string[], name: string }} Result
 */

/**
 * Migrates `sourceDir` into `outDir`. Throws with a clear message when the input is not an
 * approuter project or the output would overwrite something.
 * @param {{ source: string, out?: string, routerSpec?: string }} options
 * @returns {Result}
 */
export function migrate(options) {
  const source = resolve(options.source);
  if (!existsSync(source) || !statSync(source).isDirectory())
    throw new Error(`${options.source}: no such folder`);
  const xsAppFile = join(source, "xs-app.json");
  if (!existsSync(xsAppFile))
    throw new Error(
      `${options.source}: no xs-app.json, so not an SAP approuter project (the folder with package.json, xs-app.json and resources/)`,
    );
  const outDir = resolve(options.out ?? `${source.replace(/[\\/]+$/, "")}-edge`);
  const realSource = realpathSync(source);
  const outReal = realPathOf(outDir);
  if (outReal === realSource || outReal.startsWith(realSource + sep)) {
    throw new Error(
      `--out ${outDir} is inside the approuter folder, which is never changed: choose a folder beside it`,
    );
  }
  if (existsSync(outDir) && readdirSync(outDir).length > 0)
    throw new Error(`${outDir} exists and is not empty: choose another --out (nothing is overwritten)`);

  /** @type {Note[]} */
  const notes = [];
  /** @type {string[]} */
  const carried = [];
  const note = (/** @type {string} */ item, /** @type {string} */ why, /** @type {string} */ todo) =>
    notes.push({ item, why, todo });

  // ---- package.json ----
  /** @type {Record<string, any>} */
  let pkg = {};
  if (existsSync(join(source, "package.json"))) {
    pkg = /** @type {Record<string, any>} */ (readJsonFile(join(source, "package.json")));
    const deps = Object.keys({ ...(pkg.dependencies ?? {}) }).filter((d) => d !== "@sap/approuter");
    if (deps.length > 0) {
      note(
        `package.json dependencies: ${deps.join(", ")}`,
        "a Worker runs no Node.js middleware or approuter extensions",
        "rebuild what they do as a backend behind a destination, or ask for it as a router feature",
      );
    }
    const start = pkg.scripts?.start;
    if (
      typeof start === "string" &&
      !/node\s+node_modules\/@sap\/approuter\/approuter\.js\s*$/.test(start.trim())
    ) {
      note(
        `package.json scripts.start (${start})`,
        "a custom start script (an approuter extension?) does not run at the edge",
        "see the dependencies note; `npm run dev` starts the edge router",
      );
    }
  }
  const name = workerName(typeof pkg.name === "string" ? pkg.name : basename(source));

  // ---- xs-app.json ----
  const xsApp = /** @type {Record<string, any>} */ (readJsonFile(xsAppFile));
  if (typeof xsApp !== "object" || xsApp === null || Array.isArray(xsApp))
    throw new Error(`${xsAppFile}: must be a JSON object`);
  const xsOut = structuredClone(xsApp);
  for (const [key, why] of Object.entries(TOP_UNSUPPORTED)) {
    if (key in xsOut) {
      delete xsOut[key];
      note(`xs-app.json ${key}`, why, "removed from xs-app.json");
    }
  }
  // default-env.json first: whether the HTML5 repository is bound decides its routes.
  const { vars, files: envFiles } = readSapEnv(source);
  const html5Bound = hasHtml5Runtime(vars.VCAP_SERVICES);
  /** @type {string[]} */
  const localDirs = [];
  const routes = Array.isArray(xsOut.routes) ? xsOut.routes : [];
  xsOut.routes = routes.filter((/** @type {any} */ route, /** @type {number} */ i) => {
    if (typeof route !== "object" || route === null) return true;
    const where = `xs-app.json routes[${i}] (${route.source})`;
    if (route.service === HTML5_REPO_SERVICE && !html5Bound) {
      note(
        where,
        "an html5-apps-repo-rt route, and default-env.json binds no HTML5 application repository runtime (service html5-apps-repo, plan app-runtime)",
        "removed; add the runtime's binding to VCAP_SERVICES in .dev.vars and put the route back (the router serves the repository's apps then)",
      );
      return false;
    }
    if (
      route.service !== undefined &&
      route.service !== HTML5_REPO_SERVICE &&
      route.service !== USER_API_SERVICE
    ) {
      note(
        where,
        `a route to the business service ${route.service}: its token flows (user-token exchange, client credentials, mTLS) are not supported at the edge`,
        "removed; reach the service through a backend of yours behind a destination",
      );
      return false;
    }
    if (route.authenticationType === "basic") {
      note(
        where,
        "basic authentication against the identity provider is not supported",
        'removed; use "xsuaa" or "ias" (the login page) instead',
      );
      return false;
    }
    for (const [key, why] of Object.entries(ROUTE_UNSUPPORTED)) {
      if (key in route) {
        delete route[key];
        note(`${where} ${key}`, why, "removed from the route");
      }
    }
    if (typeof route.localDir === "string") localDirs.push(route.localDir);
    return true;
  });

  // ---- default-env.json / default-services.json ----
  // Variables a route's `replace` puts into its files are the router's to read too.
  const replaceVars = new Set(
    xsOut.routes.flatMap((/** @type {any} */ route) =>
      Array.isArray(route?.replace?.vars) ? route.replace.vars.filter((v) => typeof v === "string") : [],
    ),
  );
  /** @type {Record<string, unknown>} */
  const devVars = {};
  /** @type {string[]} */
  const commented = [];
  for (const [key, value] of Object.entries(vars)) {
    if (key === "VCAP_SERVICES") devVars.VCAP_SERVICES = carryServices(value, vars.EXT_SESSION_MGT, note);
    else if (key === "destinations") devVars.destinations = carryDestinations(value, note);
    else if (key === "EXT_SESSION_MGT") {
      commented.push(key);
      note(
        "EXT_SESSION_MGT",
        "SAP's session store is a Redis binding; the edge router needs an Upstash Redis database (REST URL and token)",
        "create one, bind it as a user-provided service named like EXT_SESSION_MGT.instanceName (credentials url, token) or set UPSTASH_REDIS_REST_URL/TOKEN, give sessionSecret 64+ characters, then uncomment EXT_SESSION_MGT in .dev.vars",
      );
      devVars[key] = value;
    } else if (ROUTER_VARIABLES.has(key) || replaceVars.has(key)) devVars[key] = value;
    else if (UNSUPPORTED_VARIABLES.has(key))
      note(`default-env.json ${key}`, `not supported: ${UNSUPPORTED_VARIABLES.get(key)}`, "left out");
    else if (key in SAP_ONLY_VARIABLES)
      note(
        `default-env.json ${key}`,
        "not used at the edge",
        SAP_ONLY_VARIABLES[/** @type {keyof typeof SAP_ONLY_VARIABLES} */ (key)],
      );
    else
      note(
        `default-env.json ${key}`,
        "not a variable the router reads",
        "left out; set it in .dev.vars if a backend of yours needs it through the router (it does not)",
      );
  }
  if (
    devVars.VCAP_SERVICES !== undefined &&
    Object.keys(/** @type {object} */ (devVars.VCAP_SERVICES)).length === 0
  )
    delete devVars.VCAP_SERVICES;

  // ---- xs-security.json ----
  let xsSecurity;
  if (existsSync(join(source, "xs-security.json"))) {
    xsSecurity = /** @type {Record<string, any>} */ (readJsonFile(join(source, "xs-security.json")));
    const callback = xsOut.login?.callbackEndpoint ?? "/login/callback";
    note(
      "xs-security.json oauth2-configuration.redirect-uris",
      "XSUAA only sends users back to registered addresses, and the edge router has new ones",
      `add "https://<your worker's host>/**" (or exactly https://<host>${callback}) and, for local runs, "http://127.0.0.1:8787/**"; then \`cf update-service <your xsuaa instance> -c xs-security.json\``,
    );
  }
  for (const file of ["manifest.yml", "mta.yaml", "mta.yml"]) {
    if (existsSync(join(source, file)))
      note(
        file,
        "Cloud Foundry deployment descriptors are not read",
        "deploy with `npx wrangler deploy`; bindings become the VCAP_SERVICES secret, env entries variables (see README, Deployment)",
      );
  }

  // ---- write the project ----
  mkdirSync(join(outDir, "public"), { recursive: true });
  for (const dir of [...new Set(localDirs)]) {
    const rel = dir.replace(/^\.?\/+/, "").replace(/\/+$/, "");
    if (rel === "" || rel === "." || rel.split("/").includes("..")) {
      note(
        `localDir "${dir}"`,
        "serves the project folder itself (or outside it), which holds xs-app.json and default-env.json",
        "move the public files into a folder of their own, copy it under public/, and point localDir at it",
      );
      continue;
    }
    const from = join(source, rel);
    if (!existsSync(from)) {
      note(
        `localDir "${dir}"`,
        "the folder does not exist in the approuter project",
        `create public/${rel}/ with the files`,
      );
      continue;
    }
    cpSync(from, join(outDir, "public", rel), {
      recursive: true,
      dereference: true,
      filter: (f) => basename(f) !== "node_modules",
    });
    carried.push(`${rel}/ → public/${rel}/ (${countFiles(join(outDir, "public", rel))} files)`);
  }
  for (const entry of Array.isArray(xsOut.errorPage) ? xsOut.errorPage : []) {
    if (typeof entry?.file !== "string") continue;
    const rel = entry.file.replace(/^\.?\/+/, "");
    const target = join(outDir, "public", rel);
    if (existsSync(target)) continue;
    if (rel.split("/").includes("..") || !existsSync(join(source, rel))) {
      note(`errorPage file "${entry.file}"`, "not found in the approuter project", `put it at public/${rel}`);
      continue;
    }
    mkdirSync(dirname(target), { recursive: true });
    cpSync(join(source, rel), target, { dereference: true });
    carried.push(`${rel} → public/${rel}`);
  }
  writeFileSync(
    join(outDir, "public", ".assetsignore"),
    "# Everything in public/ is uploaded with `wrangler deploy`: public files only.\n.*\n",
  );

  writeFileSync(join(outDir, "xs-app.json"), `${JSON.stringify(xsOut, null, 2)}\n`);
  carried.push("xs-app.json");
  if (xsSecurity) {
    writeFileSync(join(outDir, "xs-security.json"), `${JSON.stringify(xsSecurity, null, 2)}\n`);
    carried.push("xs-security.json (unchanged, for `cf update-service`)");
  }
  writeFileSync(join(outDir, "worker.js"), WORKER_JS);
  writeFileSync(join(outDir, "wrangler.toml"), wranglerToml(name));
  writeFileSync(
    join(outDir, "package.json"),
    `${JSON.stringify(packageJson(name, options.routerSpec ?? routerSpec()), null, 2)}\n`,
  );
  writeFileSync(join(outDir, ".gitignore"), "node_modules/\n.wrangler/\n.dev.vars\n.env\ndefault-env.json\n");

  const lines = [
    "# Local variables for wrangler dev, from " +
      (envFiles.join(" and ") || "nothing") +
      " (written by approuter-edge init).",
    "# Never commit this file. Deployed, these are secrets: see MIGRATION.md.",
  ];
  for (const [key, value] of Object.entries(devVars)) {
    const line = dotenvLine(key, value);
    if (line === null) {
      note(
        `default-env.json ${key}`,
        "its value cannot be written to .dev.vars unchanged (text with $, ' or a line break, or JSON that does not parse)",
        "set it in .dev.vars by hand",
      );
      continue;
    }
    lines.push(commented.includes(key) ? `# ${line}` : line);
  }
  writeFileSync(join(outDir, ".dev.vars"), `${lines.join("\n")}\n`, { mode: 0o600 });
  if (envFiles.length > 0)
    carried.push(
      `${envFiles.join(", ")} → .dev.vars (${Object.keys(devVars).join(", ") || "nothing usable"})`,
    );

  const result = { outDir, notes, carried, name };
  writeFileSync(
    join(outDir, "MIGRATION.md"),
    migrationMd(
      source,
      result,
      Object.keys(devVars).filter((k) => !commented.includes(k)),
    ),
  );
  return result;
}

/**
 * @param {unknown} raw @param {unknown} extSessionMgt @param {(item: string, why: string, todo: string) => void} note
 * @returns {Record<string, unknown[]>}
 */
function carryServices(raw, extSessionMgt, note) {
  const services = jsonValue(raw);
  if (services === INVALID) {
    note("default-env.json VCAP_SERVICES", "not valid JSON", "write it as a JSON object in .dev.vars");
    return {};
  }
  if (typeof services !== "object" || services === null || Array.isArray(services)) return {};
  const store = jsonValue(extSessionMgt);
  const storeName = store === INVALID ? undefined : /** @type {any} */ (store)?.instanceName;
  /** @type {Record<string, unknown[]>} */
  const kept = {};
  const WHY = {
    connectivity: [
      "on-premise systems behind SAP's Cloud Connector are not reachable from the edge",
      "expose the system through Cloudflare Tunnel (or a public endpoint) and add it to `destinations`",
    ],
    "redis-cache": [
      "SAP's Redis speaks the Redis protocol; the edge router needs Upstash Redis over HTTP",
      "see the EXT_SESSION_MGT note",
    ],
  };
  for (const [label, bindings] of Object.entries(/** @type {Record<string, unknown>} */ (services))) {
    if (!Array.isArray(bindings)) continue;
    for (const binding of bindings) {
      const b = /** @type {Record<string, any>} */ (binding ?? {});
      const isStore = storeName !== undefined && b.name === storeName && label !== "redis-cache";
      if (isStore || routerReads(label, b)) {
        if (label === "xsuaa" && typeof b.credentials?.clientsecret !== "string") {
          note(
            `VCAP_SERVICES xsuaa "${b.name ?? "?"}"`,
            "has no clientsecret: an X.509 credential, which the router presents through a Workers mTLS certificate binding",
            "upload the certificate and key with `npx wrangler mtls-certificate upload` and bind it as XSUAA_MTLS in wrangler.toml (README, Identity providers)",
          );
        }
        (kept[label] ??= []).push(binding);
        continue;
      }
      const [why, todo] = WHY[/** @type {keyof typeof WHY} */ (label)] ?? [
        "not used by the edge router",
        "left out; if an xs-app.json `replace.services` entry names it, add it to VCAP_SERVICES in .dev.vars",
      ];
      note(`VCAP_SERVICES ${label} "${b.name ?? "?"}"`, why, todo);
    }
  }
  return kept;
}

/**
 * A binding the router reads (README "Configuration"): the identity providers, the
 * destination service, the HTML5 application repository, and business services whose UIs
 * live there (an `html5-apps-repo.app_host_id` in their credentials).
 * @param {string} label @param {Record<string, any>} binding
 */
function routerReads(label, binding) {
  return (
    ["xsuaa", "identity", "destination", "html5-apps-repo"].includes(label) ||
    typeof binding.credentials?.["html5-apps-repo"]?.app_host_id === "string"
  );
}

/**
 * Whether VCAP_SERVICES binds the HTML5 repository's runtime, found as the router finds it:
 * tag or `sap.cloud.service` html5-apps-repo-rt, or label html5-apps-repo with plan app-runtime.
 * @param {unknown} raw
 */
function hasHtml5Runtime(raw) {
  const services = jsonValue(raw);
  if (typeof services !== "object" || services === null) return false;
  return Object.entries(services).some(
    ([label, bindings]) =>
      Array.isArray(bindings) &&
      bindings.some(
        (/** @type {any} */ b) =>
          b?.tags?.includes?.(HTML5_REPO_SERVICE) ||
          b?.credentials?.["sap.cloud.service"] === HTML5_REPO_SERVICE ||
          (label === "html5-apps-repo" && b?.plan === "app-runtime"),
      ),
  );
}

/** @param {unknown} raw @param {(item: string, why: string, todo: string) => void} note @returns {unknown} */
function carryDestinations(raw, note) {
  const list = jsonValue(raw);
  if (list === INVALID) {
    note("default-env.json destinations", "not valid JSON", "write it as a JSON array in .dev.vars");
    return [];
  }
  if (!Array.isArray(list)) return list; // the router names what is wrong
  return list.map((d) => {
    if (typeof d !== "object" || d === null) return d;
    const out = /** @type {Record<string, unknown>} */ ({});
    const dropped = [];
    for (const [key, value] of Object.entries(d)) {
      const refused =
        (key === "strictSSL" && value === false && /^(https|wss):/i.test(String(d.url))) ||
        (key === "proxyType" && value !== "Internet");
      if (DESTINATION_PROPERTIES.has(key) && !refused) out[key] = value;
      else dropped.push(key);
    }
    const name = JSON.stringify(d.name ?? "?");
    const onPremise =
      dropped.some((k) => /^proxy(Host|Port)$/i.test(k)) ||
      String(d.proxyType ?? d.ProxyType ?? "").toLowerCase() === "onpremise";
    if (onPremise) {
      note(
        `destination ${name}`,
        "on-premise (through SAP's Cloud Connector): not reachable from the edge",
        `expose the system through Cloudflare Tunnel (or a public endpoint) and set the destination's url to it; until then requests to it get 502`,
      );
    }
    const others = dropped.filter((k) => !/^proxy(Host|Port|Type)$/i.test(k));
    if (others.length > 0) {
      note(
        `destination ${name}: ${others.join(", ")}`,
        "properties the edge router does not support",
        others.includes("strictSSL")
          ? "removed; an https backend needs a certificate from a public CA (a Worker always verifies TLS)"
          : "removed",
      );
    }
    return out;
  });
}

const INVALID = Symbol("invalid JSON");

/**
 * A default-env.json value that may hold JSON as text (as a variable would) or as JSON:
 * the JSON value either way, INVALID for text that does not parse.
 * @param {unknown} raw
 */
function jsonValue(raw) {
  if (typeof raw !== "string") return raw;
  try {
    return JSON.parse(raw);
  } catch {
    return INVALID;
  }
}

/**
 * Where `path` really is: its nearest existing ancestor with links resolved, then the rest
 * (folders `--out` names that do not exist yet are made when the project is written).
 * @param {string} path
 */
function realPathOf(path) {
  if (existsSync(path)) return realpathSync(path);
  const parent = dirname(path);
  return parent === path ? path : join(realPathOf(parent), basename(path));
}

/** Cloudflare Worker names: lower-case letters, digits and dashes, at most 63. */
function workerName(raw) {
  const name = raw
    .toLowerCase()
    .replace(/^@[^/]+\//, "")
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 63);
  return name === "" ? "approuter-edge-app" : name;
}

/** The dependency on the router: the published version, or this checkout when run from one. */
function routerSpec() {
  const inNodeModules = PACKAGE_ROOT.split(sep).includes("node_modules");
  return inNodeModules ? `^${OWN_PACKAGE.version}` : `file:${PACKAGE_ROOT}`;
}

const WORKER_JS = `// The Worker: approuter-edge (a versioned dependency: \`npm update approuter-edge\`) with this
// project's xs-app.json. A custom session store driver would be passed as \`customStore\`.
import { createWorker } from "approuter-edge";
import xsApp from "./xs-app.json";

export default createWorker({ xsApp });
`;

/** @param {string} name */
function wranglerToml(name) {
  return `name = "${name}"
main = "worker.js"
compatibility_date = "${COMPATIBILITY_DATE}"
minify = true
# esbuild's name-keeping helper would redefine \`name\` on every function created per
# request (Object.defineProperty, a slow path in V8).
keep_names = false

# Static files: public/ plays the role of the approuter's working directory, so the route
# { "localDir": "resources" } serves public/resources/. Everything in public/ is uploaded:
# public files only. The Worker runs first, so routes, login and scopes apply to them.
[assets]
directory = "./public"
binding = "ASSETS"
run_worker_first = true

# Variables for local runs are in .dev.vars; deployed, they are secrets (see MIGRATION.md).
# Routes or a custom domain, e.g.:
# routes = [{ pattern = "app.example.com", custom_domain = true }]
`;
}

/** @param {string} name @param {string} spec */
function packageJson(name, spec) {
  return {
    name,
    private: true,
    type: "module",
    scripts: {
      start: "approuter-edge dev",
      dev: "approuter-edge dev",
      deploy: "wrangler deploy",
      tail: "wrangler tail",
    },
    dependencies: { "approuter-edge": spec },
    devDependencies: { wrangler: OWN_PACKAGE.devDependencies.wrangler },
  };
}

/** @param {string} dir */
function countFiles(dir) {
  let n = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true }))
    n += entry.isDirectory() ? countFiles(join(dir, entry.name)) : 1;
  return n;
}

/** @param {string} source @param {Result} result @param {string[]} secrets */
function migrationMd(source, result, secrets) {
  const rel = relative(result.outDir, source) || source;
  const rows = result.notes.map((n) => `| ${md(n.item)} | ${md(n.why)} | ${md(n.todo)} |`);
  return `# Moved from SAP's application router

Written by \`approuter-edge init\` from \`${rel}\` (which was not changed).

## Carried over

${result.carried.map((c) => `- ${c}`).join("\n")}

## Not carried over${
    result.notes.length === 0
      ? "\n\nNothing: everything was carried over.\n"
      : `

| what | why | what to do |
|---|---|---|
${rows.join("\n")}
`
  }
## Run it locally

\`\`\`sh
npm install
npm run dev        # http://127.0.0.1:8787 with .dev.vars (and default-env.json, if you put one here)
\`\`\`

Configuration problems are listed on the router's error page locally, and in the log.

## Deploy

\`\`\`sh
npx wrangler login
${secrets.length ? secrets.map((s) => `npx wrangler secret put ${s}`).join("\n") : "# no variables to set"}
npx wrangler deploy
npx wrangler tail   # the router's log
\`\`\`

(\`npx wrangler secret bulk .dev.vars\` puts them all at once.) Then register
\`https://<your worker's host>/login/callback\` as a redirect URI with your identity provider
(XSUAA: \`oauth2-configuration.redirect-uris\` in xs-security.json).
`;
}

/** @param {string} text */
function md(text) {
  return text.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

/** @param {string[]} argv */
async function run(argv) {
  const parsed = parseCommandLine(argv, {
    usage: USAGE,
    allowPositionals: true,
    options: { out: { type: "string" } },
  });
  if (!parsed) return 0;
  if (parsed.positionals.length !== 1) throw new UsageError("name one approuter folder");
  const result = migrate({
    source: parsed.positionals[0],
    ...(parsed.values.out ? { out: parsed.values.out } : {}),
  });
  const near = relative(process.cwd(), result.outDir) || ".";
  const where = near.startsWith("..") ? result.outDir : near;
  console.log(`Wrote ${where} (Worker "${result.name}"):`);
  for (const c of result.carried) console.log(`  ${c}`);
  if (result.notes.length > 0) {
    console.log(`\nNot carried over (${result.notes.length}; also in ${join(where, "MIGRATION.md")}):`);
    for (const n of result.notes) console.log(`  - ${n.item}: ${n.why}.\n    → ${n.todo}`);
  }
  console.log(`\nNext: cd ${where} && npm install && npm run dev   (then MIGRATION.md, "Deploy")`);
  return 0;
}

/** `approuter-edge init`: the exit code. */
export const main = command({ name: "init", usage: USAGE, main: run });

await runIfMain(import.meta.url, main);
