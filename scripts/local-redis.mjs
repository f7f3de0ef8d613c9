#!/usr/bin/env node
// A throw-away redis-server plus the local Upstash-compatible REST endpoint in front of it,
// for development (`node scripts/local-redis.mjs`) and tests (`startLocalRedis()`).
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { countOf, parseCommandLine, portOf, runIfMain, stopOnSignals, UsageError } from "./lib/cli.mjs";
import { freePort } from "./lib/free-port.mjs";
import { startLagLink } from "./lib/lag-link.mjs";
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
 * that the next start with the same `dataDir` has it again. With `replicas` > 0 the endpoint
 * is in replicated mode (see scripts/upstash-rest-server.mjs): that many read replicas, each
 * `replicaLagMs` behind the primary.
 * @param {{ redisPort?: number, restPort?: number, token?: string, host?: string, dataDir?: string,
 *   replicas?: number, replicaLagMs?: number, syncWaitMs?: number, getex?: "replica" | "primary" }} [options]
 * @returns {Promise<LocalRedis & { replicaPorts: number[], stats: import("./upstash-rest-server.mjs").EndpointStats }>}
 */
export async function startLocalRedis({
  redisPort,
  restPort,
  token,
  host = "127.0.0.1",
  dataDir,
  replicas = 0,
  replicaLagMs = 0,
  syncWaitMs,
  getex,
} = {}) {
  const started = await startReplicatedRedis({
    redisPort,
    token,
    host,
    ...(dataDir ? { dataDir } : {}),
    ...(syncWaitMs !== undefined ? { syncWaitMs } : {}),
    ...(getex ? { getex } : {}),
    regions: [{ replicas, replicaLagMs, primaryDelayMs: 0, ...(restPort !== undefined ? { restPort } : {}) }],
  });
  const [region] = started.regions;
  return { ...started, restUrl: region.restUrl, replicaPorts: region.replicaPorts, stats: region.stats };
}

/**
 * @typedef {object} RegionOptions
 * @property {number} [replicas] read replicas of this region (0: reads go to the primary)
 * @property {number} [replicaLagMs] how far behind the primary each of them applies writes
 * @property {number} [primaryDelayMs] network delay from this region's endpoint to the primary, per request
 * @property {number} [restPort]
 */

/**
 * One primary redis-server and, per region, its own lagging replicas and its own REST
 * endpoint (reads from the region's replicas, writes to the primary after the region's
 * delay): a Global Upstash database in miniature. `dataDir`: the primary keeps its data there.
 * @param {{ regions: RegionOptions[], redisPort?: number, token?: string, host?: string, dataDir?: string,
 *   syncWaitMs?: number, getex?: "replica" | "primary" }} options
 */
export async function startReplicatedRedis({
  regions,
  redisPort,
  token,
  host = "127.0.0.1",
  dataDir,
  syncWaitMs,
  getex,
}) {
  if (!hasRedisServer()) {
    throw new Error(`redis-server is not installed. Install it with: ${INSTALL_COMMAND}`);
  }
  const port = redisPort ?? (await freePort(host));
  const secret = token ?? randomBytes(24).toString("base64url");

  /** @type {RedisProcess | undefined} */
  let child;
  /** @type {RedisProcess[]} */
  const replicaChildren = [];
  /** @type {Array<() => Promise<void>>} */
  const closers = [];
  // A parent that exits without stop() (crash, process.exit) must not leave redis-servers behind.
  const killOnExit = () => {
    child?.process.kill("SIGKILL");
    for (const r of replicaChildren) r.process.kill("SIGKILL");
  };
  process.on("exit", killOnExit);

  async function startRedis() {
    if (child && isRunning(child.process)) return;
    child = spawnRedis(host, port, [], dataDir);
    await waitForPing(host, port, child);
  }

  async function stopRedis() {
    const running = child;
    child = undefined;
    if (running) await terminate(running.process);
  }

  /** @type {{ restUrl: string, replicaPorts: number[], stats: import("./upstash-rest-server.mjs").EndpointStats }[]} */
  const started = [];
  try {
    await startRedis();
    for (const region of regions) {
      /** @type {number[]} */
      const replicaPorts = [];
      /** @type {Awaited<ReturnType<typeof startLagLink>>[]} */
      const links = [];
      for (let i = 0; i < (region.replicas ?? 0); i++) {
        // No lag during the first full sync (it would take several times the lag); set after it.
        const link = await startLagLink({ targetHost: host, targetPort: port, lagMs: 0, host });
        closers.push(link.close);
        links.push(link);
        const replicaPort = await freePort(host);
        const replica = spawnRedis(host, replicaPort, ["--replicaof", host, String(link.port)]);
        replicaChildren.push(replica);
        await waitForPing(host, replicaPort, replica);
        replicaPorts.push(replicaPort);
      }
      await Promise.all(replicaPorts.map((p) => waitForLink(host, p)));
      for (const link of links.splice(0)) link.setLag(region.replicaLagMs ?? 0);
      const rest = await startUpstashRestServer({
        redisPort: port,
        redisHost: host,
        host,
        port: region.restPort ?? 0,
        token: secret,
        replicas: replicaPorts.map((p) => ({ host, port: p })),
        primaryDelayMs: region.primaryDelayMs ?? 0,
        ...(syncWaitMs !== undefined ? { syncWaitMs } : {}),
        ...(getex ? { getex } : {}),
      });
      closers.push(rest.close);
      started.push({ restUrl: rest.url, replicaPorts, stats: rest.stats });
    }
  } catch (err) {
    await stopAll();
    throw err;
  }

  async function stopAll() {
    for (const close of closers.splice(0).reverse()) await close().catch(() => {});
    await Promise.all(replicaChildren.splice(0).map((r) => terminate(r.process)));
    await stopRedis();
    process.off("exit", killOnExit);
  }

  return {
    redisPort: port,
    restUrl: started[0]?.restUrl ?? "",
    token: secret,
    regions: started,
    stopRedis,
    async startRedis() {
      await startRedis();
      await Promise.all(started.map((r) => waitForRest(r.restUrl, secret)));
    },
    stop: stopAll,
  };
}

/** @typedef {{ process: import("node:child_process").ChildProcess, log: () => string }} RedisProcess */

/**
 * Diskless replication both ways and no delay before a full sync, so a replica is up at
 * once. Without `dataDir` nothing is written to disk; with it, an append-only file there.
 * @param {string} host @param {number} port @param {string[]} [extra] @param {string} [dataDir] @returns {RedisProcess}
 */
function spawnRedis(host, port, extra = [], dataDir) {
  if (dataDir) mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const persistence = dataDir
    ? ["--dir", dataDir, "--appendonly", "yes", "--appendfsync", "everysec"]
    : ["--dir", tmpdir(), "--appendonly", "no"];
  const child = spawn(
    "redis-server",
    [
      "--port",
      String(port),
      "--bind",
      host,
      "--save",
      "",
      ...persistence,
      "--daemonize",
      "no",
      "--repl-diskless-sync",
      "yes",
      "--repl-diskless-sync-delay",
      "0",
      "--repl-diskless-load",
      "on-empty-db",
      ...extra,
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
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
async function redisPid(host, port) {
  const match = /process_id:(\d+)\r\n/.exec(
    (await infoSection(host, port, "server", /process_id:\d+\r\n/)) ?? "",
  );
  return match ? Number(match[1]) : undefined;
}

/**
 * One INFO section over a raw socket, once `complete` matches; undefined on error.
 * @param {string} host @param {number} port @param {string} section @param {RegExp} complete
 * @returns {Promise<string | undefined>}
 */
function infoSection(host, port, section, complete) {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    let reply = "";
    const finish = (/** @type {string | undefined} */ text) => {
      socket.destroy();
      resolve(text);
    };
    socket.setTimeout(1000, () => finish(undefined));
    socket.once("error", () => finish(undefined));
    socket.once("close", () => finish(undefined));
    socket.once("connect", () => socket.write(`INFO ${section}\r\n`));
    socket.on("data", (chunk) => {
      reply += chunk.toString("utf8");
      if (reply.startsWith("-")) return finish(undefined); // e.g. -LOADING
      if (complete.test(reply)) finish(reply);
    });
  });
}

/**
 * Wait until a replica has finished its first sync with the primary.
 * @param {string} host @param {number} port
 */
async function waitForLink(host, port) {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const info = await infoSection(host, port, "replication", /master_link_status:\w+\r\n/);
    if (info && /master_link_status:up\r\n/.test(info)) return;
    await sleep(20);
  }
  throw new Error(
    `the replica on ${host}:${port} did not sync with its primary within ${START_TIMEOUT_MS} ms`,
  );
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

const USAGE = `Usage: node scripts/local-redis.mjs [--redis-port N] [--port N] [--token T]
         [--replicas N] [--replica-lag MS] [--sync-wait MS] [--getex replica|primary]
  --replicas N      N read replicas, reads round-robin over them (default 0: one node)
  --replica-lag MS  how far behind the primary each replica applies writes (default 0)
  --sync-wait MS    how long a read carrying upstash-sync-token waits for a replica to catch up
                    before the primary answers it (default 5000)
  --getex WHERE     who answers GETEX: a replica (default, the worst case) or the primary`;

/** @param {string[]} argv */
async function main(argv) {
  const parsed = parseCommandLine(argv, {
    usage: USAGE,
    options: {
      "redis-port": { type: "string" },
      port: { type: "string" },
      token: { type: "string" },
      replicas: { type: "string" },
      "replica-lag": { type: "string" },
      "sync-wait": { type: "string" },
      getex: { type: "string" },
    },
  });
  if (!parsed) return 0;
  const { values } = parsed;
  const redisPort = portOf(values["redis-port"], "--redis-port");
  const restPort = portOf(values.port, "--port");
  const replicas = countOf(values.replicas, "--replicas", 16) ?? 0;
  const replicaLagMs = countOf(values["replica-lag"], "--replica-lag", 600_000) ?? 0;
  const syncWaitMs = countOf(values["sync-wait"], "--sync-wait", 600_000);
  if (values.getex !== undefined && values.getex !== "replica" && values.getex !== "primary")
    throw new UsageError("--getex must be replica or primary");
  const getex = /** @type {"replica" | "primary" | undefined} */ (values.getex);

  const stack = stopOnSignals("local-redis");
  const local = await startLocalRedis({
    redisPort,
    restPort,
    token: values.token,
    replicas,
    replicaLagMs,
    ...(syncWaitMs !== undefined ? { syncWaitMs } : {}),
    ...(getex ? { getex } : {}),
  });
  stack.push(local.stop);
  console.log(`UPSTASH_REDIS_REST_URL=${local.restUrl}`);
  console.log(`UPSTASH_REDIS_REST_TOKEN=${local.token}`);
  const replicaNote =
    replicas > 0
      ? `, ${replicas} replica(s) ${replicaLagMs} ms behind on ${local.replicaPorts.join(", ")}`
      : "";
  console.error(`redis-server on 127.0.0.1:${local.redisPort}${replicaNote}; press Ctrl-C to stop.`);
}

await runIfMain(import.meta.url, { name: "local-redis", usage: USAGE, main });
