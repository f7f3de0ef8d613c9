#!/usr/bin/env node
// `npm start`: the router under `wrangler dev` with login: a local XSUAA simulator with a
// demo user (scripts/demo/xsuaa.mjs, demo / demo, the demo app's $XSAPPNAME scopes), bound
// as SAP binds XSUAA; the demo configuration (scripts/demo/xs-app.json as XS_APP: /public/…
// open, everything else behind an xsuaa login with the $XSAPPNAME.Display scope) and the demo
// backend, which receives the user's token and shows who is logged in.
// `npm start -- --idp oidc`: a generic OpenID provider instead (scripts/demo/idp.mjs, bound
// as `identity`; the demo routes then log in with `ias` and ask no scope).
// `npm start -- --no-login`: the router on its embedded defaults instead (wrangler.toml
// [vars], bundled xs-app.json), no provider.
// `npm run dev:redis`: either, plus the external session tier on a local redis-server
// behind the local Upstash-compatible REST endpoint. Its state is kept in .wrangler/dev/
// (Redis data, the session secret, the provider's port and keys; the OpenID provider's sessions
// and tokens too), so a user stays logged in across restarts; `--fresh` starts from nothing.
//
// Stops everything it started (backend, identity provider, redis, REST endpoint, wrangler
// and its workerd processes) on Ctrl-C / SIGTERM / SIGHUP or when wrangler exits, and exits
// with wrangler's code.
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { DEFAULT_PORT as DEFAULT_BACKEND_PORT, startDemoBackend } from "./demo-backend.mjs";
import { CliError, httpUrlOf, parseCommandLine, portOf, runIfMain, UsageError } from "./lib/cli.mjs";
import { dotenvJson } from "./lib/dotenv.mjs";
import { freePort } from "./lib/free-port.mjs";
import { announceWhenReady, findWrangler, wranglerStopStack } from "./lib/wrangler-dev.mjs";
import { DEV_CLIENT_ID, DEV_USER, readDemoXsApp, startDemoIdp, identityBinding } from "./demo/idp.mjs";
import { DEMO_XSUAA_CLIENT_ID, startDemoXsuaa } from "./demo/xsuaa.mjs";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const HOST = "127.0.0.1";
const DEFAULT_ROUTER_PORT = 8787;
const INSTANCE_NAME = "approuter-redis";
const MIN_SECRET_LENGTH = 64;
/** What `npm run dev:redis` keeps between runs (env APPROUTER_DEV_STATE_DIR moves it). */
const STATE_DIR = resolve(process.env.APPROUTER_DEV_STATE_DIR || join(ROOT, ".wrangler", "dev"));

const USAGE = `Usage: node scripts/dev.mjs [options]      (npm start / npm run dev:redis)

Runs the router under \`wrangler dev\` on ${HOST}, the demo backend that the "backend"
destination points at, and a local XSUAA simulator with the user ${DEV_USER.login} / ${DEV_USER.password}: open
the router, log in, see who is logged in, log out. The router gets the demo configuration
scripts/demo/xs-app.json as XS_APP (/public/… open, the rest behind an xsuaa login with the
$XSAPPNAME.Display scope) and forwards the user's token to the backend.

Options:
  --port N            router port (default: env PORT, else ${DEFAULT_ROUTER_PORT})
  --backend-port N    demo backend port (default ${DEFAULT_BACKEND_PORT}); with --no-login, when given,
                      the "backend" destination is pointed at it
  --no-login          no identity provider: the router on its embedded defaults (the bundled
                      xs-app.json, no login)
  --idp KIND          xsuaa (default): the XSUAA simulator, bound as xsuaa;
                      oidc: a generic OpenID provider (oidc-provider), bound as identity, the
                      demo routes with authenticationType "ias" and no scope
  --idp-url URL       (--idp oidc) use an already-running OpenID provider instead of starting one, e.g.
                      \`node scripts/demo/idp.mjs --router-origin http://${HOST}:PORT\` (its issuer;
                      client "${DEV_CLIENT_ID}" registered for this router)
  --redis             add the external session tier: starts redis-server and a local
                      Upstash-compatible REST endpoint (needs redis-server installed). Keeps
                      its state in ${relative(ROOT, STATE_DIR) || STATE_DIR}/ (Redis data, session secret, the
                      provider's port and keys): logged-in users stay logged in across restarts
                      (the XSUAA simulator's refresh tokens are not kept: a token refresh after a
                      restart asks the user to sign in again)
  --fresh             with --redis: forget that state first
  --redis-url URL     use an already-running Upstash-compatible REST endpoint instead of
                      starting one (implies --redis)
  --redis-token=T     its token (default: env UPSTASH_REDIS_REST_TOKEN); write it with "="
                      when it may start with "-"
  -h, --help          this text

Environment:
  SESSION_SECRET      sessionSecret of the external tier (${MIN_SECRET_LENGTH}+ characters); default: one
                      generated once and kept in ${relative(ROOT, STATE_DIR) || STATE_DIR}/session-secret
  APPROUTER_DEV_STATE_DIR  where --redis keeps its state (default .wrangler/dev)
  IDP_HOST, IDP_PORT  where the started provider listens (default 127.0.0.2 on Linux, so that
                      its redirect back to the router is cross-site as in production; a free port)

Local files .dev.vars / .env / default-env.json are not used here: \`npm run dev\` runs the
router on your own configuration.`;

/** The options of this run, checked; undefined after --help. @param {string[]} argv */
function parseOptions(argv) {
  const parsed = parseCommandLine(argv, {
    usage: USAGE,
    options: {
      port: { type: "string" },
      "backend-port": { type: "string" },
      "no-login": { type: "boolean" },
      idp: { type: "string" },
      "idp-url": { type: "string" },
      redis: { type: "boolean" },
      fresh: { type: "boolean" },
      "redis-url": { type: "string" },
      "redis-token": { type: "string" },
    },
  });
  if (!parsed) return undefined;
  /** @type {{ port?: string, "backend-port"?: string, "no-login"?: boolean, idp?: string, "idp-url"?: string, redis?: boolean, fresh?: boolean, "redis-url"?: string, "redis-token"?: string }} */
  const values = parsed.values;

  const routerPort =
    portOf(values.port, "--port") ??
    (process.env.PORT ? portOf(process.env.PORT, "PORT") : undefined) ??
    DEFAULT_ROUTER_PORT;
  const backendPortGiven = portOf(values["backend-port"], "--backend-port");
  const backendPort = backendPortGiven ?? DEFAULT_BACKEND_PORT;
  if (backendPort === routerPort)
    throw new UsageError("the router and the demo backend need different ports");

  /** @type {undefined | { url: string, token: string }} */
  let externalRedis;
  const redisUrl = httpUrlOf(values["redis-url"], "--redis-url must be an http(s) URL");
  if (redisUrl !== undefined) {
    const token = values["redis-token"] ?? process.env.UPSTASH_REDIS_REST_TOKEN;
    if (!token) throw new UsageError("--redis-url needs --redis-token T (or env UPSTASH_REDIS_REST_TOKEN)");
    externalRedis = { url: redisUrl, token };
  } else if (values["redis-token"] !== undefined) {
    throw new UsageError("--redis-token is only used with --redis-url");
  }
  const redis = values.redis === true || externalRedis !== undefined;

  const login = values["no-login"] !== true;
  if (values.idp !== undefined && values.idp !== "xsuaa" && values.idp !== "oidc")
    throw new UsageError("--idp must be xsuaa or oidc");
  if (values.idp !== undefined && !login) throw new UsageError("--idp and --no-login exclude each other");
  if (values.idp === "xsuaa" && values["idp-url"] !== undefined)
    throw new UsageError("--idp-url names an OpenID provider: use it with --idp oidc (or without --idp)");
  /** Which provider logs users in: the XSUAA simulator unless an OpenID provider is asked for. */
  const idpKind = values.idp === "oidc" || values["idp-url"] !== undefined ? "oidc" : "xsuaa";
  /** @type {string | undefined} */
  let idpUrl;
  if (values["idp-url"] !== undefined) {
    if (!login) throw new UsageError("--idp-url and --no-login exclude each other");
    idpUrl = httpUrlOf(
      values["idp-url"],
      "--idp-url must be an http(s) URL (the provider's issuer)",
    )?.replace(/\/+$/, "");
  }

  let sessionSecret;
  if (redis) {
    const fromEnv = process.env.SESSION_SECRET;
    if (fromEnv !== undefined && fromEnv !== "") {
      if (fromEnv.length < MIN_SECRET_LENGTH)
        throw new CliError(
          `SESSION_SECRET must be at least ${MIN_SECRET_LENGTH} characters (it has ${fromEnv.length}).`,
          2,
        );
      sessionSecret = fromEnv;
    } else {
      if (values.fresh) rmSync(STATE_DIR, { recursive: true, force: true });
      sessionSecret = keptSessionSecret();
    }
  } else if (values.fresh) {
    throw new UsageError("--fresh is only used with --redis");
  }

  return {
    routerPort,
    backendPort,
    backendPortGiven: backendPortGiven !== undefined,
    login,
    idpKind,
    idpUrl,
    redis,
    externalRedis,
    sessionSecret,
  };
}

/** The session secret kept in STATE_DIR (made on first use): sessions in Redis stay readable across restarts. */
function keptSessionSecret() {
  const file = join(STATE_DIR, "session-secret");
  if (existsSync(file)) {
    const kept = readFileSync(file, "utf8").trim();
    if (kept.length >= MIN_SECRET_LENGTH) return kept;
  }
  mkdirSync(STATE_DIR, { recursive: true, mode: 0o700 });
  const secret = randomBytes(64).toString("base64url"); // 86 characters
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}

/** Resolves when `port` can be bound on HOST; rejects with a clear message otherwise. */
function assertPortFree(/** @type {number} */ port, /** @type {string} */ hint) {
  return new Promise((resolvePromise, reject) => {
    const server = createServer();
    server.once("error", (/** @type {NodeJS.ErrnoException} */ err) =>
      reject(
        new Error(
          err.code === "EADDRINUSE" ? `port ${port} on ${HOST} is already in use; ${hint}` : err.message,
        ),
      ),
    );
    server.listen(port, HOST, () => server.close(() => resolvePromise(undefined)));
  });
}

/** @param {string} message */
function log(message) {
  console.log(`dev: ${message}`);
}

/** @param {string[]} argv */
async function main(argv) {
  const options = parseOptions(argv);
  if (!options) return 0;
  const wranglerBin = findWrangler([join(ROOT, "package.json")]);
  const { stack, startWrangler } = wranglerStopStack("dev");
  try {
    await assertPortFree(options.routerPort, "pass --port N (or PORT=N) to run the router elsewhere");
    // Checked early too, so that a taken port costs no provider start.
    await assertPortFree(options.backendPort, "pass --backend-port N to run the demo backend elsewhere");
    const demoXsApp = readDemoXsApp();
    const idp = await startIdentityProvider(options, demoXsApp, stack);
    const backend = await startBackend(options, idp, demoXsApp, stack);
    const sessions = await startSessionStore(options, stack);
    const started = { options, demoXsApp, idp, backend, sessions };
    const wrangler = startWrangler({
      bin: wranglerBin,
      cwd: ROOT,
      host: HOST,
      port: options.routerPort,
      inspectorPort: await freePort(HOST),
      envFiles: [writeEnvFile(started, stack)],
      env: wranglerEnv(),
    });
    await announceWhenReady(wrangler, HOST, options.routerPort, startLine(started));
    const code = await wrangler.exited;
    if (!stack.stopping)
      console.error(`dev: wrangler dev exited (code ${code}); stopping ${othersOf(started)}.`);
    return code;
  } finally {
    await stack.stop(); // everything started, last first (at once when a start step failed)
  }
}

/**
 * What a run started before wrangler.
 * @typedef {{ options: Options, demoXsApp: DemoXsApp, idp: Idp | undefined,
 *   backend: { url: string }, sessions: Sessions | undefined }} Started
 * @typedef {NonNullable<ReturnType<typeof parseOptions>>} Options
 * @typedef {ReturnType<typeof readDemoXsApp>} DemoXsApp
 * @typedef {{ issuer: string, started: boolean, clientId: string, binding: Record<string, unknown> & { label: string } }} Idp
 * @typedef {{ restUrl: string, token: string, note: string }} Sessions
 * @typedef {import("./lib/cli.mjs").StopStack} StopStack
 */

/**
 * The identity provider: the XSUAA simulator (default), an already-running OpenID provider
 * (--idp-url) or one started here (--idp oidc); none with --no-login.
 * @param {Options} options @param {DemoXsApp} demoXsApp @param {StopStack} stack
 * @returns {Promise<Idp | undefined>}
 */
async function startIdentityProvider(options, demoXsApp, stack) {
  if (!options.login) return undefined;
  const routerOrigin = `http://${HOST}:${options.routerPort}`;
  if (options.idpKind === "xsuaa") {
    // With --redis its port, key and zone are kept beside Redis' data (same tokens valid after a restart).
    const sim = await startStep("the local XSUAA simulator", () =>
      startDemoXsuaa({
        routerOrigin,
        logoutPage: logoutPageOf(demoXsApp),
        ...(options.redis ? { stateDir: join(STATE_DIR, "xsuaa") } : {}),
      }),
    );
    stack.push(() => sim.stop());
    return {
      issuer: sim.url,
      started: true,
      clientId: DEMO_XSUAA_CLIENT_ID,
      binding: sim.binding({ name: "demo-xsuaa" }),
    };
  }
  if (options.idpUrl) {
    const issuer = options.idpUrl;
    try {
      const res = await fetch(`${issuer}/.well-known/openid-configuration`, {
        signal: AbortSignal.timeout(5000),
      });
      await res.body?.cancel();
      if (!res.ok) throw new Error(`its discovery document answered HTTP ${res.status}`);
    } catch (err) {
      throw new CliError(
        `the identity provider at ${issuer} does not answer (${messageOf(err)}); start one with \`node scripts/demo/idp.mjs --router-origin ${routerOrigin}\``,
      );
    }
    return { issuer, started: false, clientId: DEV_CLIENT_ID, binding: identityBinding(issuer) };
  }
  // With --redis it keeps its state beside Redis'.
  const idp = await startStep("the local identity provider", () =>
    startDemoIdp({ routerOrigin, ...(options.redis ? { stateDir: join(STATE_DIR, "idp") } : {}) }),
  );
  stack.push(() => idp.stop());
  return { issuer: idp.issuer, started: true, clientId: DEV_CLIENT_ID, binding: identityBinding(idp.issuer) };
}

/**
 * The demo backend, which shows who is logged in (asking the provider).
 * @param {Options} options @param {Idp | undefined} idp @param {DemoXsApp} demoXsApp @param {StopStack} stack
 */
async function startBackend(options, idp, demoXsApp, stack) {
  let backend;
  try {
    backend = await startDemoBackend({
      port: options.backendPort,
      host: HOST,
      ...(idp
        ? { login: { issuer: idp.issuer, clientId: idp.clientId, logoutPage: logoutPageOf(demoXsApp) } }
        : {}),
    });
  } catch (err) {
    throw new CliError(
      `cannot start the demo backend: ${messageOf(err)}; pass --backend-port N to use another port`,
    );
  }
  stack.push(() => backend.close());
  return backend;
}

/**
 * With --redis, the external session tier: an already-running REST endpoint (--redis-url) or
 * a local redis-server behind one, keeping its data in STATE_DIR.
 * @param {Options} options @param {StopStack} stack @returns {Promise<Sessions | undefined>}
 */
async function startSessionStore(options, stack) {
  if (!options.redis) return undefined;
  if (options.externalRedis) {
    const { url, token } = options.externalRedis;
    return { restUrl: url, token, note: `sessions in memory + redis via ${url}` };
  }
  const local = await startStep("the local redis", async () => {
    const { startLocalRedis } = await import("./local-redis.mjs");
    return startLocalRedis({ host: HOST, dataDir: join(STATE_DIR, "redis") });
  });
  stack.push(() => local.stop());
  log(
    `redis-server on ${HOST}:${local.redisPort}, REST endpoint ${local.restUrl} (data kept in ${relative(ROOT, STATE_DIR) || STATE_DIR}/redis; --fresh forgets it)`,
  );
  return { restUrl: local.restUrl, token: local.token, note: "sessions in memory + redis" };
}

/**
 * The env file handed to wrangler: the variables of this run, nothing from .dev.vars / .env.
 * Removed when the run stops.
 * @param {Started} started @param {StopStack} stack
 */
function writeEnvFile({ options, demoXsApp, idp, backend, sessions }, stack) {
  const tempDir = mkdtempSync(join(tmpdir(), "approuter-edge-dev-"));
  const removeTemp = () => rmSync(tempDir, { recursive: true, force: true });
  stack.push(removeTemp);
  process.on("exit", removeTemp);

  // APPROUTER_DEV: configuration problems are listed on the router's error page.
  const envLines = [
    "# written by scripts/dev.mjs for one run of wrangler dev; removed when it stops",
    "APPROUTER_DEV='true'",
  ];
  /** VCAP_SERVICES of this run: the identity provider and the session store, as bound. @type {Record<string, unknown[]>} */
  const vcapServices = {};
  if (idp) {
    // The demo configuration: the token goes to the backend, which shows whose it is.
    envLines.push(
      `destinations=${dotenvJson([{ name: "backend", url: backend.url, forwardAuthToken: true }])}`,
      `XS_APP=${dotenvJson(options.idpKind === "xsuaa" ? demoXsApp : asIasDemo(demoXsApp))}`,
    );
    vcapServices[idp.binding.label] = [idp.binding];
  } else if (options.backendPortGiven) {
    envLines.push(`destinations=${dotenvJson([{ name: "backend", url: backend.url }])}`);
  }
  if (sessions) {
    envLines.push(
      `EXT_SESSION_MGT=${dotenvJson({ instanceName: INSTANCE_NAME, storageType: "redis", sessionSecret: options.sessionSecret })}`,
    );
    vcapServices["user-provided"] = [
      {
        name: INSTANCE_NAME,
        label: "user-provided",
        credentials: { url: sessions.restUrl, token: sessions.token },
      },
    ];
  }
  if (Object.keys(vcapServices).length > 0) envLines.push(`VCAP_SERVICES=${dotenvJson(vcapServices)}`);

  const envFile = join(tempDir, "dev.vars");
  writeFileSync(envFile, `${envLines.join("\n")}\n`, { mode: 0o600 });
  chmodSync(envFile, 0o600);
  for (const file of [".dev.vars", ".env"]) {
    if (existsSync(join(ROOT, file)))
      log(`note: ${file} is not used by this script (\`npm run dev\` runs the router on it)`);
  }
  return envFile;
}

/** wrangler's environment: the env file must be read; the shell's environment must not become bindings. */
function wranglerEnv() {
  /** @type {NodeJS.ProcessEnv} */
  const env = {
    ...process.env,
    CLOUDFLARE_LOAD_DEV_VARS_FROM_DOT_ENV: "true",
    CLOUDFLARE_INCLUDE_PROCESS_ENV: "false",
  };
  delete env.SESSION_SECRET;
  delete env.UPSTASH_REDIS_REST_TOKEN;
  return env;
}

/** The line that announces the router. @param {Started} started */
function startLine({ options, idp, backend, sessions }) {
  const loginNote = idp
    ? `, login as ${DEV_USER.login} / ${DEV_USER.password} at ${idp.issuer}${idp.started ? "" : " (already running)"}`
    : ", no login";
  return `approuter-edge: http://${HOST}:${options.routerPort} (demo backend on ${backend.url}, ${sessions?.note ?? "sessions in memory"}${loginNote})`;
}

/** What is stopped with wrangler, for the message when it exits by itself. @param {Started} started */
function othersOf({ options, idp }) {
  const others = [
    "the demo backend",
    ...(idp?.started ? [options.idpKind === "xsuaa" ? "the XSUAA simulator" : "the identity provider"] : []),
    ...(options.redis && !options.externalRedis ? ["redis"] : []),
  ];
  return others.join(", ").replace(/, ([^,]*)$/, " and $1");
}

/**
 * Runs one start step; its failure becomes "cannot start <what>: <why>".
 * @template T @param {string} what @param {() => Promise<T>} start @returns {Promise<T>}
 */
async function startStep(what, start) {
  try {
    return await start();
  } catch (err) {
    throw new CliError(`cannot start ${what}: ${messageOf(err)}`);
  }
}

/** @param {DemoXsApp} demoXsApp */
const logoutPageOf = (demoXsApp) => demoXsApp.logout?.logoutPage ?? "/";

/** @param {unknown} err */
const messageOf = (err) => (err instanceof Error ? err.message : String(err));

/**
 * The demo configuration for a generic OpenID provider bound as `identity`: its xsuaa routes
 * log in with ias, and ask no $XSAPPNAME scope (such a provider grants none).
 * @param {ReturnType<typeof readDemoXsApp> & { routes?: Array<Record<string, unknown>> }} xsApp
 */
function asIasDemo(xsApp) {
  const routes = (xsApp.routes ?? []).map(({ scope: _scope, ...route }) =>
    route.authenticationType === "xsuaa" ? { ...route, authenticationType: "ias" } : route,
  );
  return { ...xsApp, routes };
}

await runIfMain(import.meta.url, { name: "dev", usage: USAGE, main });
