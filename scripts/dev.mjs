#!/usr/bin/env node
// `npm start`: the router on its embedded defaults (wrangler.toml [vars], bundled
// xs-app.json) under `wrangler dev`, with the demo backend it points at.
// `npm run dev:redis`: the same, plus the external session tier on a local redis-server
// behind the local Upstash-compatible REST endpoint.
//
// Stops everything it started (backend, redis, REST endpoint, wrangler and its workerd
// processes) on Ctrl-C / SIGTERM / SIGHUP or when wrangler exits, and exits with
// wrangler's code.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { connect, createServer } from "node:net";
import { constants, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { DEFAULT_PORT as DEFAULT_BACKEND_PORT, startDemoBackend } from "./demo-backend.mjs";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const HOST = "127.0.0.1";
const DEFAULT_ROUTER_PORT = 8787;
const INSTANCE_NAME = "approuter-redis";
const MIN_SECRET_LENGTH = 64;
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

Runs the router under \`wrangler dev\` on ${HOST} with its embedded defaults, and the demo
backend that the "backend" destination points at.

Options:
  --port N            router port (default: env PORT, else ${DEFAULT_ROUTER_PORT})
  --backend-port N    demo backend port (default ${DEFAULT_BACKEND_PORT}); when given, the "backend"
                      destination is pointed at it
  --redis             add the external session tier: starts redis-server and a local
                      Upstash-compatible REST endpoint (needs redis-server installed)
  --redis-url URL     use an already-running Upstash-compatible REST endpoint instead of
                      starting one (implies --redis)
  --redis-token=T     its token (default: env UPSTASH_REDIS_REST_TOKEN); write it with "="
                      when it may start with "-"
  -h, --help          this text

Environment:
  SESSION_SECRET      sessionSecret of the external tier (${MIN_SECRET_LENGTH}+ characters); default: a
                      random one per run (sessions then do not survive a restart)

Local files .dev.vars / .env are not used here (run \`npx wrangler dev\` for those).`;

/** @param {string} message */
function usageError(message) {
  console.error(`dev: ${message}\n\n${USAGE}`);
  process.exit(2);
}

/** @param {string | undefined} value @param {string} what */
function toPort(value, what) {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isInteger(n) || n < 1 || n > 65535) usageError(`${what} must be a port number (1-65535)`);
  return n;
}

function parseOptions() {
  /** @type {{ port?: string, "backend-port"?: string, redis?: boolean, "redis-url"?: string, "redis-token"?: string, help?: boolean }} */
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        port: { type: "string" },
        "backend-port": { type: "string" },
        redis: { type: "boolean" },
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
    if (parsed?.protocol !== "http:" && parsed?.protocol !== "https:") usageError("--redis-url must be an http(s) URL");
    const token = values["redis-token"] ?? process.env.UPSTASH_REDIS_REST_TOKEN;
    if (!token) usageError("--redis-url needs --redis-token T (or env UPSTASH_REDIS_REST_TOKEN)");
    externalRedis = { url, token: /** @type {string} */ (token) };
  } else if (values["redis-token"] !== undefined) {
    usageError("--redis-token is only used with --redis-url");
  }
  const redis = values.redis === true || externalRedis !== undefined;

  let sessionSecret;
  if (redis) {
    const fromEnv = process.env.SESSION_SECRET;
    if (fromEnv !== undefined && fromEnv !== "") {
      if (fromEnv.length < MIN_SECRET_LENGTH) {
        console.error(`dev: SESSION_SECRET must be at least ${MIN_SECRET_LENGTH} characters (it has ${fromEnv.length}).`);
        process.exit(2);
      }
      sessionSecret = fromEnv;
    } else {
      sessionSecret = randomBytes(64).toString("base64url"); // 86 characters
    }
  }

  return { routerPort, backendPort, backendPortGiven: backendPortGiven !== undefined, redis, externalRedis, sessionSecret };
}

/** Resolves when `port` can be bound on HOST; rejects with a clear message otherwise. */
function assertPortFree(/** @type {number} */ port, /** @type {string} */ hint) {
  return new Promise((resolvePromise, reject) => {
    const server = createServer();
    server.once("error", (/** @type {NodeJS.ErrnoException} */ err) =>
      reject(new Error(err.code === "EADDRINUSE" ? `port ${port} on ${HOST} is already in use; ${hint}` : err.message)),
    );
    server.listen(port, HOST, () => server.close(() => resolvePromise(undefined)));
  });
}

/** @param {number} port @returns {Promise<boolean>} */
function accepts(port) {
  return new Promise((resolvePromise) => {
    const socket = connect({ host: HOST, port });
    const done = (/** @type {boolean} */ ok) => {
      socket.destroy();
      resolvePromise(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/**
 * A dotenv-style value that wrangler reads back verbatim: single-quoted, and since wrangler
 * also expands `$VAR` inside quotes, `$` and `'` are written as JSON \u escapes (every
 * value here is JSON, so the router's JSON.parse restores them).
 * @param {unknown} json
 */
function dotenvJson(json) {
  return `'${JSON.stringify(json).replace(/[$']/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)}'`;
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
  for (const signal of /** @type {NodeJS.Signals[]} */ (["SIGINT", "SIGTERM", "SIGHUP"])) process.on(signal, onSignal);
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
  } catch (err) {
    return fail(err instanceof Error ? err.message : String(err));
  }

  let backend;
  try {
    backend = await startDemoBackend({ port: options.backendPort, host: HOST });
  } catch (err) {
    return fail(`cannot start the demo backend: ${err instanceof Error ? err.message : err}; pass --backend-port N to use another port`);
  }
  const backendClose = backend.close;
  undo.push(() => backendClose());
  if (stopped()) return;

  /** @type {string[]} */
  const envLines = ["# written by scripts/dev.mjs for one run of wrangler dev; removed when it stops"];
  if (options.backendPortGiven) {
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
        local = await startLocalRedis({ host: HOST });
      } catch (err) {
        return fail(`cannot start the local redis: ${err instanceof Error ? err.message : err}`);
      }
      const localStop = local.stop;
      undo.push(() => localStop());
      if (stopped()) return;
      ({ restUrl, token } = local);
      log(`redis-server on ${HOST}:${local.redisPort}, REST endpoint ${restUrl} (started for this run, no persistence)`);
      sessionsNote = "sessions in memory + redis";
    }
    envLines.push(
      `EXT_SESSION_MGT=${dotenvJson({ instanceName: INSTANCE_NAME, storageType: "redis", sessionSecret: options.sessionSecret })}`,
      `VCAP_SERVICES=${dotenvJson({
        "user-provided": [{ name: INSTANCE_NAME, label: "user-provided", credentials: { url: restUrl, token } }],
      })}`,
    );
  }

  const envFile = join(tempDir, "dev.vars");
  writeFileSync(envFile, `${envLines.join("\n")}\n`, { mode: 0o600 });
  chmodSync(envFile, 0o600);

  for (const file of [".dev.vars", ".env"]) {
    if (existsSync(join(ROOT, file))) log(`note: ${file} is not used by this script (run \`npx wrangler dev\` to use it)`);
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
      console.error(`dev: wrangler dev exited (${signal ?? `code ${code}`}); stopping the demo backend${options.redis && !options.externalRedis ? " and redis" : ""}.`);
    }
    const exitCode = code ?? 128 + ((signal && constants.signals[signal]) || 1);
    void cleanup().then(() => process.exit(exitCode));
  });

  // Announce the router once it accepts connections.
  const routerUrl = `http://${HOST}:${options.routerPort}`;
  while (!ready) {
    if (await accepts(options.routerPort)) {
      if (!ready) console.log(`approuter-edge: ${routerUrl} (demo backend on ${backend.url}, ${sessionsNote})`);
      break;
    }
    await new Promise((r) => setTimeout(r, 150));
  }
}

main().catch((err) => {
  console.error(`dev: ${err instanceof Error ? err.stack : err}`);
  process.exit(1);
});
