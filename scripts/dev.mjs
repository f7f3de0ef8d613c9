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
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { constants, tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { DEFAULT_PORT as DEFAULT_BACKEND_PORT, startDemoBackend } from "./demo-backend.mjs";
import { dotenvJson } from "./lib/dotenv.mjs";
import { accepts } from "./lib/free-port.mjs";
import { DEV_CLIENT_ID, DEV_USER, readDemoXsApp, startDemoIdp, identityBinding } from "./demo/idp.mjs";
import { DEMO_XSUAA_CLIENT_ID, startDemoXsuaa } from "./demo/xsuaa.mjs";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const HOST = "127.0.0.1";
const DEFAULT_ROUTER_PORT = 8787;
const INSTANCE_NAME = "approuter-redis";
const MIN_SECRET_LENGTH = 64;
/** What `npm run dev:redis` keeps between runs (env APPROUTER_DEV_STATE_DIR moves it). */
const STATE_DIR = resolve(process.env.APPROUTER_DEV_STATE_DIR || join(ROOT, ".wrangler", "dev"));
/** How long wrangler gets to shut down cleanly before its whole process group is killed. */
const STOP_GRACE_MS = 8000;

/** Keeps wrangler offline: no metrics, no error reports, no Cloudflare API lookups. */
const OFFLINE_ENV = {
  WRANGLER_SEND_METRICS: "false",
  WRANGLER_SEND_ERROR_REPORTS: "false",
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
  WRANGLER_HIDE_BANNER: "true",
};

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

/** @param {string} message */
function usageError(message) {
  console.error(`dev: ${message}\n\n${USAGE}`);
  process.exit(2);
}

/** @param {string | undefined} value @param {string} what */
function toPort(value, what) {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isInteger(n) || n < 1 || n > 65535)
    usageError(`${what} must be a port number (1-65535)`);
  return n;
}

function parseOptions() {
  /** @type {{ port?: string, "backend-port"?: string, "no-login"?: boolean, idp?: string, "idp-url"?: string, redis?: boolean, fresh?: boolean, "redis-url"?: string, "redis-token"?: string, help?: boolean }} */
  let values;
  try {
    ({ values } = parseArgs({
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
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (err) {
    usageError(err instanceof Error ? err.message : String(err));
    throw err; // unreachable
  }
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }

  const routerPort =
    toPort(values.port, "--port") ??
    (process.env.PORT ? toPort(process.env.PORT, "PORT") : undefined) ??
    DEFAULT_ROUTER_PORT;
  const backendPortGiven = toPort(values["backend-port"], "--backend-port");
  const backendPort = backendPortGiven ?? DEFAULT_BACKEND_PORT;
  if (backendPort === routerPort) usageError("the router and the demo backend need different ports");

  /** @type {undefined | { url: string, token: string }} */
  let externalRedis;
  if (values["redis-url"] !== undefined) {
    const url = values["redis-url"];
    let parsed;
    try {
      parsed = new URL(url);
    } catch {
      usageError("--redis-url must be an http(s) URL");
    }
    if (parsed?.protocol !== "http:" && parsed?.protocol !== "https:")
      usageError("--redis-url must be an http(s) URL");
    const token = values["redis-token"] ?? process.env.UPSTASH_REDIS_REST_TOKEN;
    if (!token) usageError("--redis-url needs --redis-token T (or env UPSTASH_REDIS_REST_TOKEN)");
    externalRedis = { url, token: /** @type {string} */ (token) };
  } else if (values["redis-token"] !== undefined) {
    usageError("--redis-token is only used with --redis-url");
  }
  const redis = values.redis === true || externalRedis !== undefined;

  const login = values["no-login"] !== true;
  if (values.idp !== undefined && values.idp !== "xsuaa" && values.idp !== "oidc")
    usageError("--idp must be xsuaa or oidc");
  if (values.idp !== undefined && !login) usageError("--idp and --no-login exclude each other");
  if (values.idp === "xsuaa" && values["idp-url"] !== undefined)
    usageError("--idp-url names an OpenID provider: use it with --idp oidc (or without --idp)");
  /** Which provider logs users in: the XSUAA simulator unless an OpenID provider is asked for. */
  const idpKind = values.idp === "oidc" || values["idp-url"] !== undefined ? "oidc" : "xsuaa";
  /** @type {string | undefined} */
  let idpUrl;
  if (values["idp-url"] !== undefined) {
    if (!login) usageError("--idp-url and --no-login exclude each other");
    let parsed;
    try {
      parsed = new URL(values["idp-url"]);
    } catch {
      usageError("--idp-url must be an http(s) URL (the provider's issuer)");
    }
    if (parsed?.protocol !== "http:" && parsed?.protocol !== "https:")
      usageError("--idp-url must be an http(s) URL (the provider's issuer)");
    idpUrl = values["idp-url"].replace(/\/+$/, "");
  }

  let sessionSecret;
  if (redis) {
    const fromEnv = process.env.SESSION_SECRET;
    if (fromEnv !== undefined && fromEnv !== "") {
      if (fromEnv.length < MIN_SECRET_LENGTH) {
        console.error(
          `dev: SESSION_SECRET must be at least ${MIN_SECRET_LENGTH} characters (it has ${fromEnv.length}).`,
        );
        process.exit(2);
      }
      sessionSecret = fromEnv;
    } else {
      if (values.fresh) rmSync(STATE_DIR, { recursive: true, force: true });
      sessionSecret = keptSessionSecret();
    }
  } else if (values.fresh) {
    usageError("--fresh is only used with --redis");
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

async function main() {
  const options = parseOptions();
  let wranglerBin;
  try {
    wranglerBin = createRequire(join(ROOT, "package.json")).resolve("wrangler/bin/wrangler.js");
  } catch {
    console.error("dev: wrangler is not installed here; run `npm install` first.");
    process.exit(1);
  }

  /** Cleanup steps of what has been started, undone last-first. @type {(() => Promise<void> | void)[]} */
  const undo = [];
  let cleanedUp = false;
  const cleanup = async () => {
    if (cleanedUp) return;
    cleanedUp = true;
    while (undo.length > 0) {
      const step = undo.pop();
      try {
        await step?.();
      } catch (err) {
        console.error(`dev: while stopping: ${err instanceof Error ? err.message : err}`);
      }
    }
  };

  /** @type {import("node:child_process").ChildProcess | undefined} */
  let wrangler;
  /** @type {NodeJS.Signals | undefined} */
  let stopSignal;
  /** @type {NodeJS.Timeout | undefined} */
  let forceTimer;

  const killWranglerGroup = (/** @type {NodeJS.Signals} */ signal) => {
    if (!wrangler?.pid) return;
    try {
      // wrangler runs in its own process group (detached): this reaches its node child
      // and the workerd processes too, which survive their parent otherwise.
      if (process.platform === "win32") wrangler.kill(signal);
      else process.kill(-wrangler.pid, signal);
    } catch {
      // already gone
    }
  };

  const onSignal = (/** @type {NodeJS.Signals} */ signal) => {
    if (stopSignal !== undefined) {
      // A second Ctrl-C: no more waiting.
      killWranglerGroup("SIGKILL");
      return;
    }
    stopSignal = signal;
    if (wrangler && wrangler.exitCode === null && wrangler.signalCode === null) {
      wrangler.kill("SIGTERM"); // wrangler's launcher passes it on to wrangler proper
      forceTimer = setTimeout(() => killWranglerGroup("SIGKILL"), STOP_GRACE_MS);
      forceTimer.unref();
    } else {
      // Not started yet: stop what is there; main() sees stopSignal and does not go on.
      void cleanup().then(() => process.exit(128 + (constants.signals[signal] ?? 1)));
    }
  };
  for (const signal of /** @type {NodeJS.Signals[]} */ (["SIGINT", "SIGTERM", "SIGHUP"]))
    process.on(signal, onSignal);
  const stopped = () => stopSignal !== undefined;

  const fail = async (/** @type {string} */ message) => {
    console.error(`dev: ${message}`);
    await cleanup();
    process.exit(1);
  };

  // The env file handed to wrangler: the variables of this run, nothing from .dev.vars / .env.
  const tempDir = mkdtempSync(join(tmpdir(), "approuter-edge-dev-"));
  const removeTemp = () => rmSync(tempDir, { recursive: true, force: true });
  undo.push(removeTemp);
  process.on("exit", removeTemp);

  try {
    await assertPortFree(options.routerPort, "pass --port N (or PORT=N) to run the router elsewhere");
    // Checked early too, so that a taken port costs no provider start.
    await assertPortFree(options.backendPort, "pass --backend-port N to run the demo backend elsewhere");
  } catch (err) {
    return fail(err instanceof Error ? err.message : String(err));
  }

  const routerUrl = `http://${HOST}:${options.routerPort}`;

  // The identity provider: started here (stopped with everything else), or already running.
  const demoXsApp = readDemoXsApp();
  const logoutPage = demoXsApp.logout?.logoutPage ?? "/";
  /** @type {undefined | { issuer: string, started: boolean, clientId: string, binding: Record<string, unknown> & { label: string } }} */
  let idp;
  if (options.login && options.idpKind === "xsuaa") {
    let sim;
    try {
      // With --redis its port, key and zone are kept beside Redis' data (same tokens valid after a restart).
      sim = await startDemoXsuaa({
        routerOrigin: routerUrl,
        logoutPage,
        ...(options.redis ? { stateDir: join(STATE_DIR, "xsuaa") } : {}),
      });
    } catch (err) {
      return fail(`cannot start the local XSUAA simulator: ${err instanceof Error ? err.message : err}`);
    }
    const simStop = () => sim.stop();
    undo.push(simStop);
    if (stopped()) return;
    idp = {
      issuer: sim.url,
      started: true,
      clientId: DEMO_XSUAA_CLIENT_ID,
      binding: sim.binding({ name: "demo-xsuaa" }),
    };
  } else if (options.login && options.idpUrl) {
    const issuer = options.idpUrl;
    try {
      const res = await fetch(`${issuer}/.well-known/openid-configuration`, {
        signal: AbortSignal.timeout(5000),
      });
      await res.body?.cancel();
      if (!res.ok) throw new Error(`its discovery document answered HTTP ${res.status}`);
    } catch (err) {
      return fail(
        `the identity provider at ${issuer} does not answer (${err instanceof Error ? err.message : err}); start one with \`node scripts/demo/idp.mjs --router-origin ${routerUrl}\``,
      );
    }
    idp = { issuer, started: false, clientId: DEV_CLIENT_ID, binding: identityBinding(issuer) };
  } else if (options.login) {
    let started;
    try {
      // The one place the provider is chosen; with --redis it keeps its state beside Redis'.
      started = await startDemoIdp({
        routerOrigin: routerUrl,
        ...(options.redis ? { stateDir: join(STATE_DIR, "idp") } : {}),
      });
    } catch (err) {
      return fail(`cannot start the local identity provider: ${err instanceof Error ? err.message : err}`);
    }
    const idpStop = started.stop;
    undo.push(() => idpStop());
    if (stopped()) return;
    idp = {
      issuer: started.issuer,
      started: true,
      clientId: DEV_CLIENT_ID,
      binding: identityBinding(started.issuer),
    };
  }

  let backend;
  try {
    backend = await startDemoBackend({
      port: options.backendPort,
      host: HOST,
      ...(idp ? { login: { issuer: idp.issuer, clientId: idp.clientId, logoutPage } } : {}),
    });
  } catch (err) {
    return fail(
      `cannot start the demo backend: ${err instanceof Error ? err.message : err}; pass --backend-port N to use another port`,
    );
  }
  const backendClose = backend.close;
  undo.push(() => backendClose());
  if (stopped()) return;

  /** @type {string[]} */
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

  let sessionsNote = "sessions in memory";
  if (options.redis) {
    let restUrl;
    let token;
    if (options.externalRedis) {
      ({ url: restUrl, token } = options.externalRedis);
      sessionsNote = `sessions in memory + redis via ${restUrl}`;
    } else {
      let local;
      try {
        const { startLocalRedis } = await import("./local-redis.mjs");
        local = await startLocalRedis({ host: HOST, dataDir: join(STATE_DIR, "redis") });
      } catch (err) {
        return fail(`cannot start the local redis: ${err instanceof Error ? err.message : err}`);
      }
      const localStop = local.stop;
      undo.push(() => localStop());
      if (stopped()) return;
      ({ restUrl, token } = local);
      log(
        `redis-server on ${HOST}:${local.redisPort}, REST endpoint ${restUrl} (data kept in ${relative(ROOT, STATE_DIR) || STATE_DIR}/redis; --fresh forgets it)`,
      );
      sessionsNote = "sessions in memory + redis";
    }
    envLines.push(
      `EXT_SESSION_MGT=${dotenvJson({ instanceName: INSTANCE_NAME, storageType: "redis", sessionSecret: options.sessionSecret })}`,
    );
    vcapServices["user-provided"] = [
      { name: INSTANCE_NAME, label: "user-provided", credentials: { url: restUrl, token } },
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

  /** @type {NodeJS.ProcessEnv} */
  const env = {
    ...process.env,
    ...OFFLINE_ENV,
    // The env file must be read; the shell's environment must not become bindings.
    CLOUDFLARE_LOAD_DEV_VARS_FROM_DOT_ENV: "true",
    CLOUDFLARE_INCLUDE_PROCESS_ENV: "false",
  };
  delete env.SESSION_SECRET;
  delete env.UPSTASH_REDIS_REST_TOKEN;

  const args = [
    wranglerBin,
    "dev",
    "--ip",
    HOST,
    "--port",
    String(options.routerPort),
    "--log-level",
    "warn",
    "--env-file",
    envFile,
    "--show-interactive-dev-session=false",
  ];
  wrangler = spawn(process.execPath, args, {
    cwd: ROOT,
    env,
    // No stdin: wrangler runs in its own process group (so it can be stopped as a whole)
    // and must not read the terminal.
    stdio: ["ignore", "inherit", "inherit"],
    detached: process.platform !== "win32",
  });
  const child = wrangler;
  undo.push(() => killWranglerGroup("SIGKILL")); // anything of wrangler's still around

  child.once("error", (err) => {
    void fail(`cannot run wrangler (${err.message}); run npm install first`);
  });

  let ready = false;
  child.once("exit", (code, signal) => {
    ready = true; // stop polling
    if (forceTimer) clearTimeout(forceTimer);
    if (stopSignal === undefined) {
      const others = [
        "the demo backend",
        ...(idp?.started
          ? [options.idpKind === "xsuaa" ? "the XSUAA simulator" : "the identity provider"]
          : []),
        ...(options.redis && !options.externalRedis ? ["redis"] : []),
      ];
      console.error(
        `dev: wrangler dev exited (${signal ?? `code ${code}`}); stopping ${others.join(", ").replace(/, ([^,]*)$/, " and $1")}.`,
      );
    }
    const exitCode = code ?? 128 + ((signal && constants.signals[signal]) || 1);
    void cleanup().then(() => process.exit(exitCode));
  });

  // Announce the router once it accepts connections.
  const loginNote = idp
    ? `, login as ${DEV_USER.login} / ${DEV_USER.password} at ${idp.issuer}${idp.started ? "" : " (already running)"}`
    : ", no login";
  while (!ready) {
    if (await accepts(options.routerPort, HOST)) {
      if (!ready)
        console.log(
          `approuter-edge: ${routerUrl} (demo backend on ${backend.url}, ${sessionsNote}${loginNote})`,
        );
      break;
    }
    await new Promise((r) => setTimeout(r, 150));
  }
}

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

main().catch((err) => {
  console.error(`dev: ${err instanceof Error ? err.stack : err}`);
  process.exit(1);
});
