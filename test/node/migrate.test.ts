// `approuter-edge init` on a sample SAP approuter project (test/fixtures/sap-approuter: static
// files in resources/, destinations, an XSUAA and a destination-service binding in
// default-env.json, an xsuaa route, a public API route, an HTML5-repository route without the
// repository bound): the real CLI writes
// the edge project, the input folder stays byte for byte the same, and the output runs under
// the real `wrangler dev` (through `approuter-edge dev`): the static page, the public API, a
// missing file, and a login through the XSUAA simulator in the XSUAA binding's place (what an
// SAP user has: the binding's credentials go into default-env.json as they would come from `cf env`).
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort as freePortUntyped } from "../../scripts/lib/free-port.mjs";
import { startLoopbackServer, type LoopbackServer } from "../support/loopback-http.js";
import { loginThroughSapForm } from "../support/sap-form-login.js";
import { startXsuaaSim, type XsuaaSim } from "../support/sap-idp.js";
import { useDevLock } from "../support/dev-process.js";
import { html5RuntimeBinding } from "../support/html5-binding.js";
import { loadConfig } from "../../src/config/index.js";
import { UNSUPPORTED_VARIABLES } from "../../src/config/unsupported-env.js";
import { ROUTER_VARIABLES } from "../../scripts/init.mjs";
import { readSapEnv } from "../../scripts/lib/sap-env.mjs";

const freePort = freePortUntyped as (host?: string) => Promise<number>;
const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const FIXTURE = join(ROOT, "test/fixtures/sap-approuter");
const CLI = join(ROOT, "bin/approuter-edge.mjs");
const XSAPPNAME = "my-app!t1";
const CLIENT_ID = `sb-${XSAPPNAME}`;
const CLIENT_SECRET = "migrate-test-client-secret";

/** Every file's path, mode and content: equal hashes, unchanged tree. */
function treeHash(dir: string): string {
  const hash = createHash("sha256");
  const walk = (rel: string) => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const path = join(dir, rel, name);
      const stat = statSync(path);
      hash.update(`${join(rel, name)}\0${stat.mode}\0`);
      if (stat.isDirectory()) walk(join(rel, name));
      else hash.update(readFileSync(path));
    }
  };
  walk("");
  return hash.digest("hex");
}

/** The variables of a project's .dev.vars (`NAME='value'` lines, as init writes them). */
function devVarsOf(dir: string): Record<string, string> {
  return Object.fromEntries(
    readFileSync(join(dir, ".dev.vars"), "utf8")
      .split("\n")
      .filter((l) => /^\w+=/.test(l))
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 2, -1)]),
  );
}

function cli(args: string[], cwd = ROOT) {
  const run = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: "utf8", timeout: 60_000 });
  return { code: run.status, out: `${run.stdout}${run.stderr}` };
}

let work: string;
let source: string;
let out: string;
let backend: LoopbackServer;
let xsuaa: XsuaaSim;
let routerPort: number;
let init: { code: number | null; out: string };
let before: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "approuter-migrate-"));
  source = join(work, "my-approuter");
  cpSync(FIXTURE, source, { recursive: true });
  backend = await startLoopbackServer((req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ path: req.url, authorization: req.headers.authorization ?? null }));
  });
  routerPort = await freePort();
  xsuaa = await startXsuaaSim({
    xsappname: XSAPPNAME,
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    redirectUris: [`http://127.0.0.1:${routerPort}/login/callback`],
    users: [{ username: "alice", password: "alice-password", scopes: ["$XSAPPNAME.Display"] }],
  });
  // The copy's default-env.json points at this test's backend and XSUAA (ports are free ones):
  // the simulator's binding credentials, as `cf env` shows a real one.
  const env = JSON.parse(readFileSync(join(source, "default-env.json"), "utf8"));
  for (const d of env.destinations) if (d.name === "backend" || d.name === "public-api") d.url = backend.url;
  const fixtureBinding = env.VCAP_SERVICES.xsuaa[0];
  fixtureBinding.credentials = xsuaa.binding({ name: fixtureBinding.name }).credentials;
  writeFileSync(join(source, "default-env.json"), JSON.stringify(env, null, 2));

  before = treeHash(source);
  init = cli(["init", "my-approuter"], work);
  out = join(work, "my-approuter-edge");
});

afterAll(async () => {
  await backend?.close();
  await xsuaa?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("approuter-edge init", () => {
  it("writes the edge project beside the approuter folder and never changes the original", () => {
    expect(init.code, init.out).toBe(0);
    expect(treeHash(source)).toBe(before);
    expect(existsSync(join(out, "public/resources/index.html"))).toBe(true);
    expect(existsSync(join(out, "public/resources/css/style.css"))).toBe(true);
    const toml = readFileSync(join(out, "wrangler.toml"), "utf8");
    expect(toml).toMatch(/\[assets\]\ndirectory = "\.\/public"\nbinding = "ASSETS"\nrun_worker_first = true/);
    expect(toml).toContain('name = "my-approuter"');
    const pkg = JSON.parse(readFileSync(join(out, "package.json"), "utf8"));
    expect(pkg.dependencies["approuter-edge"]).toBeDefined();
    expect(pkg.scripts.dev).toBe("approuter-edge dev");
    expect(readFileSync(join(out, "worker.js"), "utf8")).toContain(
      'import { createWorker } from "approuter-edge"',
    );
  });

  it("turns default-env.json into .dev.vars: JSON as strings, only what the router reads, private to the user", () => {
    const devVars = readFileSync(join(out, ".dev.vars"), "utf8");
    expect(statSync(join(out, ".dev.vars")).mode & 0o777).toBe(0o600);
    const lines = devVarsOf(out);
    expect(Object.keys(lines).sort()).toEqual(["SESSION_TIMEOUT", "VCAP_SERVICES", "destinations"]);
    const destinations = JSON.parse(lines.destinations!);
    expect(destinations.map((d: { name: string }) => d.name)).toEqual([
      "backend",
      "public-api",
      "legacy",
      "erp",
    ]);
    // strictSSL false stays where the router honours it (http), goes where it cannot (https).
    expect(destinations[1]).toEqual({ name: "public-api", url: backend.url, strictSSL: false });
    expect(destinations[2]).toEqual({ name: "legacy", url: "https://legacy.example" });
    expect(destinations[3]).not.toHaveProperty("proxyHost");
    const vcap = JSON.parse(lines.VCAP_SERVICES!);
    expect(Object.keys(vcap)).toEqual(["xsuaa", "destination"]); // the router reads both
    expect(vcap.xsuaa[0].credentials.clientsecret).toBe(CLIENT_SECRET);
    expect(devVars).not.toContain("PORT");
  });

  it("reports everything it could not carry over, why, and what to do, on stdout and in MIGRATION.md", () => {
    const md = readFileSync(join(out, "MIGRATION.md"), "utf8");
    for (const text of [
      "html5-apps-repo-rt", // the service route
      "on-premise", // the erp destination
      "strictSSL",
      "PKCE_ENABLED", // not supported, with the router's own reason
      "PKCE (S256) is always on",
      "PORT",
      "XS_APP_LOG_LEVEL",
      "redirect-uris",
    ]) {
      expect(init.out, text).toContain(text);
      expect(md, text).toContain(text);
    }
    expect(md).toContain("npx wrangler secret put VCAP_SERVICES");
    const xsApp = JSON.parse(readFileSync(join(out, "xs-app.json"), "utf8"));
    expect(xsApp.routes.map((r: { source: string }) => r.source)).toEqual([
      "^/api/public/(.*)$",
      "^/api/(.*)$",
      "^/(.*)$",
    ]);
    expect(init.out).not.toContain(CLIENT_SECRET);
  });

  it("knows every variable the router reads: what the configuration loader asks for is what init carries", () => {
    const read = new Set<string>();
    const recording = (base: Record<string, unknown>) =>
      new Proxy(base, {
        get(target, key) {
          if (typeof key === "string") read.add(key);
          return target[key as string];
        },
      });
    const store = { instanceName: "store", storageType: "redis", sessionSecret: "s".repeat(64) };
    // X.509 identity bindings (their mTLS binding names are read) and a store without a
    // binding (its fallback credentials are read): the variables read only in those cases.
    const x509 = { clientid: "c", certificate: "-----BEGIN CERTIFICATE-----", key: "k" };
    loadConfig(
      recording({
        EXT_SESSION_MGT: JSON.stringify(store),
        VCAP_SERVICES: JSON.stringify({
          xsuaa: [
            {
              label: "xsuaa",
              tags: ["xsuaa"],
              credentials: {
                ...x509,
                url: "https://a.example",
                certurl: "https://c.example",
                xsappname: "x",
              },
            },
          ],
          identity: [{ label: "identity", credentials: { ...x509, url: "https://i.example" } }],
        }),
      }),
      {},
    );
    // Workers bindings (static assets, mTLS certificates) are not variables.
    for (const binding of ["ASSETS", "XSUAA_MTLS", "IAS_MTLS"]) read.delete(binding);
    expect([...read].sort()).toEqual([...ROUTER_VARIABLES].sort());
    // And none of the SAP variables the router does not support is mistaken for one it reads.
    for (const { name } of UNSUPPORTED_VARIABLES) expect(ROUTER_VARIABLES.has(name), name).toBe(false);
  });

  it("carries what the router supports (HTML5 repository, destination service, replace, user API, whitelist, back-channel logout) and the result loads without a problem", () => {
    const project = join(work, "full-approuter");
    mkdirSync(join(project, "webapp"), { recursive: true });
    writeFileSync(join(project, "webapp/index.html"), "<h1>{{ UI5_URL }}</h1>");
    const html5Runtime = html5RuntimeBinding({
      uri: "https://html5-apps-repo-rt.example/applications/content",
      uaaUrl: "https://sub.authentication.example",
      secret: "html5-secret",
    });
    const businessService = {
      label: "business-service",
      name: "bs",
      credentials: {
        "sap.cloud.service": "com.sap.bs",
        "html5-apps-repo": { app_host_id: "1f7a2b3c-0000-4000-8000-00000000abcd" },
      },
    };
    writeFileSync(
      join(project, "xs-app.json"),
      JSON.stringify({
        authenticationMethod: "route",
        whitelistService: { endpoint: "/whitelist/service" },
        pluginMetadataEndpoint: "/metadata",
        logout: { logoutEndpoint: "/logout", backChannelLogoutEndpoint: "/backchannel" },
        errorPage: [{ status: 404, path: "/books/404.html" }],
        routes: [
          { source: "^/user-api(.*)", target: "$1", service: "sap-approuter-userapi" },
          { source: "^/bs/(.*)$", target: "$1", service: "com.sap.bs", endpoint: "api" },
          { source: "^/api/(.*)$", target: "/$1", destination: "from-service", authenticationType: "xsuaa" },
          {
            source: "^/local/(.*)$",
            target: "$1",
            localDir: "webapp",
            authenticationType: "none",
            replace: { pathSuffixes: ["index.html"], vars: ["UI5_URL"] },
          },
          {
            source: "^/idp/(.*)$",
            target: "$1",
            localDir: "webapp",
            authenticationType: "xsuaa",
            dynamicIdentityProvider: true,
          },
          { source: "^(.*)$", target: "$1", service: "html5-apps-repo-rt", authenticationType: "none" },
        ],
      }),
    );
    writeFileSync(
      join(project, "default-env.json"),
      JSON.stringify({
        UI5_URL: "https://ui5.example/resources",
        JWT_REFRESH: "10",
        DIRECT_ROUTING_URI_PATTERNS: ["api"],
        OWN_SAP_CLOUD_SERVICE: ["com.sap.own"],
        CJ_PROTECT_WHITELIST: [{ host: "*.example.com", protocol: "https" }],
        plugins: [{ name: "p", source: "^/p/(.*)$", target: "$1", destination: "from-service" }],
        MINIMUM_TOKEN_VALIDITY: "300",
        VCAP_SERVICES: {
          xsuaa: [
            {
              label: "xsuaa",
              name: "uaa",
              tags: ["xsuaa"],
              credentials: {
                url: "https://sub.authentication.example",
                clientid: "sb-app!t1",
                clientsecret: "uaa-secret",
                xsappname: "app!t1",
              },
            },
          ],
          destination: [
            {
              label: "destination",
              name: "dest",
              credentials: {
                uri: "https://destination-configuration.example",
                url: "https://sub.authentication.example",
                clientid: "sb-dest",
                clientsecret: "dest-secret",
              },
            },
          ],
          "html5-apps-repo": [html5Runtime],
          "business-service": [businessService],
          "user-provided": [{ label: "user-provided", name: "other", credentials: { password: "x" } }],
        },
      }),
    );
    const run = cli(["init", "full-approuter"], work);
    expect(run.code, run.out).toBe(0);
    const edge = join(work, "full-approuter-edge");

    const xsApp = JSON.parse(readFileSync(join(edge, "xs-app.json"), "utf8"));
    expect(xsApp.routes.map((r: { source: string }) => r.source)).toEqual([
      "^/user-api(.*)",
      "^/api/(.*)$",
      "^/local/(.*)$",
      "^/idp/(.*)$",
      "^(.*)$",
    ]);
    expect(xsApp.routes[2].replace).toEqual({ pathSuffixes: ["index.html"], vars: ["UI5_URL"] });
    expect(xsApp.routes[3].dynamicIdentityProvider).toBe(true);
    expect(xsApp.whitelistService).toEqual({ endpoint: "/whitelist/service" });
    expect(xsApp.logout.backChannelLogoutEndpoint).toBe("/backchannel");
    expect(xsApp.errorPage).toEqual([{ status: 404, path: "/books/404.html" }]);

    const vars = devVarsOf(edge);
    const vcap = JSON.parse(vars.VCAP_SERVICES!);
    expect(Object.keys(vcap)).toEqual(["xsuaa", "destination", "html5-apps-repo", "business-service"]);
    for (const name of ["UI5_URL", "JWT_REFRESH", "DIRECT_ROUTING_URI_PATTERNS", "OWN_SAP_CLOUD_SERVICE"])
      expect(vars, name).toHaveProperty(name);
    expect(vars).not.toHaveProperty("MINIMUM_TOKEN_VALIDITY");
    for (const text of [
      "com.sap.bs", // the business-service route, removed
      "MINIMUM_TOKEN_VALIDITY",
      "a token's remaining lifetime is not checked at login", // the router's own reason
      'user-provided "other"',
    ])
      expect(run.out, text).toContain(text);
    for (const text of [
      "html5-apps-repo-rt",
      "destination service",
      "whitelistService",
      "backChannelLogout",
      "errorPage",
      "dynamicIdentityProvider",
    ])
      expect(run.out, text).not.toContain(text);

    // The router's own configuration loader, on what init wrote: no problem at all.
    const loaded = loadConfig({ ...vars, ASSETS: { fetch: () => new Response() } }, xsApp);
    expect(loaded.ok ? [] : loaded.problems).toEqual([]);
  });

  it("default-services.json: the entries SAP's router asks @sap/xsenv for, `uaa` and `ias`, become the XSUAA and IAS bindings", () => {
    const dir = mkdtempSync(join(work, "services-"));
    const uaa = { url: "https://sub.authentication.example", clientid: "sb-app!t1", xsappname: "app!t1" };
    const ias = { url: "https://tenant.accounts.example", clientid: "ias-client" };
    // A destination service's credentials carry an xsappname too: never taken for XSUAA.
    const destination = { uri: "https://destination.example", clientid: "d", xsappname: "clone!b1" };
    writeFileSync(join(dir, "default-services.json"), JSON.stringify({ destination, uaa, ias }));
    expect(readSapEnv(dir)).toEqual({
      vars: {
        VCAP_SERVICES: {
          xsuaa: [{ name: "uaa", label: "xsuaa", tags: ["xsuaa"], credentials: uaa }],
          identity: [{ name: "ias", label: "identity", tags: ["ias"], credentials: ias }],
        },
      },
      files: ["default-services.json"],
    });
    writeFileSync(join(dir, "default-services.json"), JSON.stringify({ destination }));
    expect(readSapEnv(dir)).toEqual({ vars: {}, files: [] });
    // VCAP_SERVICES in default-env.json wins, as in SAP (xsenv looks there first).
    writeFileSync(join(dir, "default-env.json"), JSON.stringify({ VCAP_SERVICES: { xsuaa: [] } }));
    expect(readSapEnv(dir).vars.VCAP_SERVICES).toEqual({ xsuaa: [] });
  });

  it("--out may name folders that do not exist yet: they are made (never inside the approuter folder)", () => {
    const deeper = join(work, "not-yet", "there", "edge");
    const run = cli(["init", source, "--out", deeper]);
    expect(run.code, run.out).toBe(0);
    expect(existsSync(join(deeper, "xs-app.json"))).toBe(true);
    expect(cli(["init", source, "--out", join(source, "new", "edge")])).toMatchObject({
      code: 1,
      out: expect.stringContaining("inside the approuter folder"),
    });
    expect(treeHash(source)).toBe(before);
  });

  it("refuses, saying why, what it cannot do safely", () => {
    const notApprouter = join(work, "empty");
    mkdirSync(notApprouter);
    expect(cli(["init", notApprouter])).toMatchObject({
      code: 1,
      out: expect.stringContaining("no xs-app.json"),
    });
    expect(cli(["init", source, "--out", out])).toMatchObject({
      code: 1,
      out: expect.stringContaining("not empty"),
    });
    expect(cli(["init", source, "--out", join(source, "edge")])).toMatchObject({
      code: 1,
      out: expect.stringContaining("inside the approuter folder"),
    });
    expect(cli(["init"])).toMatchObject({ code: 2, out: expect.stringContaining("Usage") });
    expect(treeHash(source)).toBe(before);
  });

  it("deploys as it is: wrangler deploy --dry-run bundles the worker and reads the static files", () => {
    mkdirSync(join(out, "node_modules"), { recursive: true });
    if (!existsSync(join(out, "node_modules/approuter-edge")))
      symlinkSync(ROOT, join(out, "node_modules/approuter-edge"), "dir");
    const run = spawnSync(
      process.execPath,
      [
        join(ROOT, "node_modules/wrangler/bin/wrangler.js"),
        "deploy",
        "--dry-run",
        "--outdir",
        join(work, "dist"),
      ],
      {
        cwd: out,
        encoding: "utf8",
        timeout: 90_000,
        env: { ...process.env, WRANGLER_SEND_METRICS: "false", CLOUDFLARE_CF_FETCH_ENABLED: "false" },
      },
    );
    expect(run.status, `${run.stdout}${run.stderr}`).toBe(0);
    expect(run.stdout).toMatch(/Read \d+ files? from the assets directory/);
    expect(run.stdout).toContain("env.ASSETS");
    // Without esbuild's helper that names every function anew (keep_names = false): it runs
    // Object.defineProperty on each closure created per request.
    const bundle = readFileSync(join(work, "dist/worker.js"), "utf8");
    expect(/"name",\{value:/.test(bundle), "the bundle renames functions (keep_names)").toBe(false);
    expect(bundle).toContain("x-csrf-token");
  });
});

describe("the migrated project under wrangler dev", () => {
  useDevLock(); // wrangler dev's inspector port is fixed: one at a time (test/support/dev-process.ts)
  let dev: ChildProcess;
  let output = "";
  let url: string;

  beforeAll(async () => {
    mkdirSync(join(out, "node_modules"), { recursive: true });
    if (!existsSync(join(out, "node_modules/approuter-edge")))
      symlinkSync(ROOT, join(out, "node_modules/approuter-edge"), "dir");
    url = `http://127.0.0.1:${routerPort}`;
    // SAP's default-env.json is read too (SESSION_COOKIE_NAME comes only from there), and
    // .dev.vars wins where both set a variable (these destinations lead nowhere).
    writeFileSync(
      join(out, "default-env.json"),
      JSON.stringify({
        SESSION_COOKIE_NAME: "EDGE_SESSION",
        destinations: [
          { name: "backend", url: "http://127.0.0.1:9" },
          { name: "public-api", url: "http://127.0.0.1:9" },
          { name: "erp", url: "http://127.0.0.1:9" },
        ],
      }),
    );
    dev = spawn(process.execPath, [CLI, "dev", "--port", String(routerPort)], {
      cwd: out,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    dev.stdout!.on("data", (c: Buffer) => (output += c.toString("utf8")));
    dev.stderr!.on("data", (c: Buffer) => (output += c.toString("utf8")));
    const deadline = Date.now() + 60_000;
    while (!output.includes(`approuter-edge: ${url}`)) {
      if (dev.exitCode !== null) throw new Error(`approuter-edge dev exited:\n${output}`);
      if (Date.now() > deadline) throw new Error(`approuter-edge dev did not start:\n${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  afterAll(async () => {
    if (!dev || dev.exitCode !== null) return;
    const exited = new Promise((r) => dev.once("exit", r));
    dev.kill("SIGTERM");
    const timer = setTimeout(() => {
      try {
        process.kill(-dev.pid!, "SIGKILL");
      } catch {
        // gone
      }
    }, 15_000);
    await exited;
    clearTimeout(timer);
  });

  it("announces where it runs and which configuration it read", () => {
    expect(output).toContain("your configuration from default-env.json, .dev.vars");
  });

  it("serves the static page from resources/ (welcome file first)", async () => {
    const welcome = await fetch(`${url}/`, { redirect: "manual" });
    expect(welcome.status).toBe(302);
    expect(welcome.headers.get("location")).toBe("/index.html");
    const page = await fetch(`${url}/index.html`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("Hello from resources/index.html");
    expect(page.headers.get("cache-control")).toBe("no-cache");
    const css = await fetch(`${url}/css/style.css`);
    expect(css.status).toBe(200);
    expect(css.headers.get("content-type")).toContain("text/css");
  });

  it("forwards the public API route without login", async () => {
    const res = await fetch(`${url}/api/public/hello?x=1`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ path: "/hello?x=1", authorization: null });
  });

  it("answers a missing file with the router's 404 page and logs the path looked up", async () => {
    const res = await fetch(`${url}/nowhere.html`);
    expect(res.status).toBe(404);
    const body = await res.text();
    expect(body).toContain("Page not found");
    expect(body).toContain("FILE_NOT_FOUND");
    const deadline = Date.now() + 5000;
    while (!output.includes('"path":"/resources/nowhere.html"') && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    expect(output).toContain('"event":"static.not-found.warn","path":"/resources/nowhere.html"');
  });

  it("logs in through the XSUAA simulator bound as xsuaa and forwards the user's XSUAA token to the backend", async () => {
    const start = await fetch(`${url}/api/me`, { redirect: "manual" });
    const callback = await loginThroughSapForm({
      routerFetch: (u, init) => fetch(u, init),
      routerOrigin: url,
      start,
      startUrl: `${url}/api/me`,
      username: "alice",
      password: "alice-password",
    });
    // The authorize request went to the binding's /oauth/authorize, without scope (as SAP sends it).
    const authorize = xsuaa.requests().find((r) => r.path === "/oauth/authorize");
    expect(authorize?.query).not.toHaveProperty("scope");
    expect(callback.status).toBe(302);
    expect(callback.headers.get("location")).toBe("/api/me");
    const cookie = callback.headers
      .getSetCookie()
      .find((c) => c.startsWith("EDGE_SESSION="))! // the cookie name from default-env.json
      .split(";")[0]!;
    const me = await fetch(`${url}/api/me`, { headers: { cookie } });
    expect(me.status).toBe(200);
    const seen = (await me.json()) as { path: string; authorization: string | null };
    expect(seen.path).toBe("/me");
    const token = seen.authorization?.match(/^Bearer ([\w-]+\.[\w-]+\.[\w-]+)$/)?.[1];
    expect(token, "an XSUAA access token (JWT)").toBeDefined();
    const claims = JSON.parse(Buffer.from(token!.split(".")[1]!, "base64url").toString("utf8"));
    expect(claims).toMatchObject({ user_name: "alice", cid: CLIENT_ID, ext_attr: { enhancer: "XSUAA" } });
    expect(claims.scope).toContain(`${XSAPPNAME}.Display`);
  });
});
