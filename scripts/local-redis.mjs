#!/usr/bin/env node
// A throw-away redis-server plus the local Upstash-compatible REST endpoint in front of it,
// for development (`node scripts/local-redis.mjs`) and tests (`startLocalRedis()`).
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, realpathSync } from "node:fs";
import { connect } from "node:net";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { freePort } from "./lib/free-port.mjs";
import { startUpstashRestServer } from "./upstash-rest-server.mjs";

export const INSTALL_COMMAND = "apt-get install -y redis-server";
const START_TIMEOUT_MS = 10_000;

/**
 * @typedef {object} LocalRedis
 * @property {number} redisPort
 * @property {string} restUrl
 * @property {string} token
 * @property {() => Promise<void>} stopRedis  stop redis-server only (the REST endpoint stays up), for outage tests
 * @property {() => Promise<void>} startRedis restart redis-server on the same port; resolves once the REST endpoint reaches it again
 * @property {() => Promise<void>} stop       stop both
 */

/** @returns {boolean} */
export function hasRedisServer() {
  const probe = spawnSync("redis-server", ["--version"], { stdio: "ignore" });
  return !probe.error && probe.status === 0;
}

/**
 * Start redis-server (a child process, not daemonized, no persistence) and the REST endpoint.
 * `host` is a loopback IP (redis `--bind` and the REST endpoint both use it). `dataDir`:
 * keep the data there instead (append-only file, flushed every second and on shutdown), so
 * that the next start with the same `dataDir` has it again.
 * @param {{ redisPort?: number, restPort?: number, token?: string, host?: string, dataDir?: string }} [options]
 * @returns {Promise<LocalRedis>}
 */
export async function startLocalRedis({ redisPort, restPort, token, host = "127.0.0.1", dataDir } = {}) {
  if (!hasRedisServer()) {
    throw new Error(`redis-server is not installed. Install it with: ${INSTALL_COMMAND}`);
  }
  const port = redisPort ?? (await freePort(host));
  const secret = token ?? randomBytes(24).toString("base64url");

  /** @type {RedisProcess | undefined} */
  let child;
  // A parent that exits without stop() (crash, process.exit) must not leave redis-server behind.
  const killOnExit = () => child?.process.kill("SIGKILL");
  process.on("exit", killOnExit);

  async function startRedis() {
    if (child && isRunning(child.process)) return;
    child = spawnRedis(host, port, dataDir);
    await waitForPing(host, port, child);
  }

  async function stopRedis() {
    const running = child;
    child = undefined;
    if (running) await terminate(running.process);
  }

  /** @type {Awaited<ReturnType<typeof startUpstashRestServer>>} */
  let rest;
  try {
    await startRedis();
    rest = await startUpstashRestServer({ redisPort: port, redisHost: host, host, port: restPort ?? 0, token: secret });
  } catch (err) {
    await stopRedis();
    process.off("exit", killOnExit);
    throw err;
  }

  return {
    redisPort: port,
    restUrl: rest.url,
    token: secret,
    stopRedis,
    async startRedis() {
      await startRedis();
      await waitForRest(rest.url, secret);
    },
    async stop() {
      await rest.close();
      await stopRedis();
      process.off("exit", killOnExit);
    },
  };
}

/** @typedef {{ process: import("node:child_process").ChildProcess, log: () => string }} RedisProcess */

/** @param {string} host @param {number} port @param {string} [dataDir] @returns {RedisProcess} */
function spawnRedis(host, port, dataDir) {
  if (dataDir) mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const persistence = dataDir ? ["--dir", dataDir, "--appendonly", "yes", "--appendfsync", "everysec"] : ["--appendonly", "no"];
  const child = spawn("redis-server", ["--port", String(port), "--bind", host, "--save", "", ...persistence, "--daemonize", "no"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  // Keep a short tail of redis' own log to explain a failed start (e.g. port in use).
  let tail = "";
  const keep = (/** @type {Buffer} */ chunk) => {
    tail = (tail + chunk.toString("utf8")).slice(-2000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  child.on("error", (err) => keep(Buffer.from(err.message))); // e.g. spawn failure
  return { process: child, log: () => tail };
}

/**
 * Poll until redis answers, failing early if the process exits. The answer must come from our
 * child (INFO's process_id): with the port taken, another redis would answer while ours exits.
 * @param {string} host @param {number} port @param {RedisProcess} child
 */
async function waitForPing(host, port, child) {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (!isRunning(child.process)) throw new Error(`redis-server exited during start:\n${child.log()}`);
    if ((await redisPid(host, port)) === child.process.pid) return;
    await sleep(50);
  }
  await terminate(child.process);
  throw new Error(`redis-server did not answer on ${host}:${port} within ${START_TIMEOUT_MS} ms`);
}

/**
 * `INFO server` over a raw socket; the pid of the redis answering, or undefined.
 * @param {string} host @param {number} port @returns {Promise<number | undefined>}
 */
function redisPid(host, port) {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    let reply = "";
    const finish = (/** @type {number | undefined} */ pid) => {
      socket.destroy();
      resolve(pid);
    };
    socket.setTimeout(1000, () => finish(undefined));
    socket.once("error", () => finish(undefined));
    socket.once("close", () => finish(undefined));
    socket.once("connect", () => socket.write("INFO server\r\n"));
    socket.on("data", (chunk) => {
      reply += chunk.toString("utf8");
      if (reply.startsWith("-")) return finish(undefined); // e.g. -LOADING
      const match = /process_id:(\d+)\r\n/.exec(reply);
      if (match) finish(Number(match[1]));
    });
  });
}

/**
 * Wait until the REST endpoint has reconnected to redis (its client reconnects on its own).
 * @param {string} url @param {string} token
 */
async function waitForRest(url, token) {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const res = await fetch(url, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify(["PING"]),
    }).catch(() => undefined);
    await res?.body?.cancel();
    if (res?.ok) return;
    await sleep(50);
  }
  throw new Error(`the REST endpoint did not reach redis again within ${START_TIMEOUT_MS} ms`);
}

/**
 * SIGTERM, then SIGKILL if redis does not exit in time; resolves when the process is gone.
 * @param {import("node:child_process").ChildProcess} child
 */
function terminate(child) {
  if (!isRunning(child)) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve(undefined);
    });
    child.kill("SIGTERM");
  });
}

/** @param {import("node:child_process").ChildProcess} child */
function isRunning(child) {
  // No pid: the spawn itself failed (and no "exit" event will follow).
  return child.pid !== undefined && child.exitCode === null && child.signalCode === null;
}

/** @param {number} ms */
function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function main() {
  const usage = "Usage: node scripts/local-redis.mjs [--redis-port N] [--port N] [--token T]";
  /** @type {{ "redis-port"?: string, port?: string, token?: string, help?: boolean }} */
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        "redis-port": { type: "string" },
        port: { type: "string" },
        token: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (err) {
    console.error(`${err instanceof Error ? err.message : err}\n${usage}`);
    process.exit(2);
  }
  if (values.help) {
    console.log(usage);
    return;
  }
  const toPort = (/** @type {string | undefined} */ value, /** @type {string} */ flag) => {
    if (value === undefined) return undefined;
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1 || n > 65535) {
      console.error(`${flag} must be a port number (1-65535)\n${usage}`);
      process.exit(2);
    }
    return n;
  };
  const redisPort = toPort(values["redis-port"], "--redis-port");
  const restPort = toPort(values.port, "--port");

  if (!hasRedisServer()) {
    console.error(`redis-server is not installed. Install it with: ${INSTALL_COMMAND}`);
    process.exit(1);
  }
  const local = await startLocalRedis({ redisPort, restPort, token: values.token });
  console.log(`UPSTASH_REDIS_REST_URL=${local.restUrl}`);
  console.log(`UPSTASH_REDIS_REST_TOKEN=${local.token}`);
  console.error(`redis-server on 127.0.0.1:${local.redisPort}; press Ctrl-C to stop.`);

  let stopping = false;
  const shutdown = () => {
    if (stopping) return;
    stopping = true;
    local.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on("SIGINT", shutdown);
  process.on("SIGTERM", shutdown);
}

const invokedDirectly = (() => {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
})();

if (invokedDirectly) {
  main().catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
