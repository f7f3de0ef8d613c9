// A local, Upstash-compatible Redis REST endpoint in front of real redis-servers, for
// development and tests (no Upstash account is reachable from these machines).
// Protocol: /work/shared/notes/upstash-rest-protocol.md. Loopback only; never logs
// tokens, keys or values.
//
// Two modes:
// - **single** (no replicas): one redis-server; `upstash-sync-token` is a counter that grows
//   with every request, which trivially satisfies read-your-writes against one node.
// - **replicated** (`replicas`): a primary and lagging read replicas, as paid and Global
//   Upstash databases are. Writes go to the primary (after `primaryDelayMs`, the network
//   distance of this endpoint's region to the primary); reads go round-robin to the
//   replicas. Every response carries the token of the state it reflects; a request that
//   carries a token is answered by a node that has caught up to at least that state: the
//   replica is waited for up to `syncWaitMs`, then the request is answered by the primary
//   (which has every state). A token the endpoint cannot read (absent, `""`, not ours) is
//   ignored, as a fresh client's `""` is.
//
// Why real replicas and not one server with a lag model: the replicas are real
// redis-servers replicating from the primary (`replicaof`), with the replication link
// delayed `lag` ms by a relay (scripts/lib/lag-link.mjs). Everything a replica does then
// comes from Redis itself: order of writes, TTLs and expiry (a replica reads a key past its
// TTL as absent, and drops it when the primary's DEL arrives), Lua, MULTI. A lag model that
// replays commands on a second server would get these subtly wrong (relative TTLs applied
// late, scripts re-run, expiry races). The sync token is the replication offset: the
// primary's `master_repl_offset` after a command, or the replica's offset after it read,
// so "caught up to a token" is exactly "has applied every write up to that point".
//
// Which commands are reads: those Redis's own command table (`COMMAND`, asked of the
// primary at start) flags `readonly`; everything else, unknown commands and scripts
// included, goes to the primary (a replica would refuse it). MULTI/EXEC always goes to the
// primary; a pipeline goes to a replica only when every command in it is a read.
// GETEX is a write in Redis's table, but how Upstash routes it is not documented. The
// endpoint therefore takes the worst case by default (`getex: "replica"`): a GETEX is
// answered from a replica's data (stale by the lag) while its TTL change is applied on the
// primary. A router that is correct here does not depend on GETEX reaching the primary.
// `getex: "primary"` routes it by the command table instead.
import { createServer } from "node:http";
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { Redis, ReplyError } from "ioredis";

const MAX_BODY_BYTES = 10 * 1024 * 1024;

/**
 * Commands that change the state of the one shared connection (subscriber mode, selected db,
 * protocol, open transaction, …) would break every other request, so they are refused.
 */
const REFUSED_COMMANDS = new Set([
  "AUTH",
  "HELLO",
  "SELECT",
  "QUIT",
  "RESET",
  "MONITOR",
  "SYNC",
  "PSYNC",
  "CLIENT",
  "SUBSCRIBE",
  "PSUBSCRIBE",
  "SSUBSCRIBE",
  "UNSUBSCRIBE",
  "PUNSUBSCRIBE",
  "SUNSUBSCRIBE",
  "MULTI",
  "EXEC",
  "DISCARD",
  "WATCH",
  "UNWATCH",
  // A replica must stay a replica of the primary.
  "REPLICAOF",
  "SLAVEOF",
  "FAILOVER",
]);

/** How often a replica's replication offset is asked for while requests wait for it. */
const OFFSET_POLL_MS = 5;

/** @typedef {[string, ...string[]]} RedisCommand */
/** @typedef {null | number | string | Json[]} Json */
/** @typedef {{ status: number, body: unknown, token?: string }} Answer */

/** An error answered with a given status and `{"error": message}`. */
class HttpError extends Error {
  /** @param {number} status @param {string} message */
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/**
 * Start the REST endpoint.
 * @param {{ redisPort: number, redisHost?: string, host?: string, port?: number, token?: string,
 *   replicas?: { port: number, host?: string }[], primaryDelayMs?: number, syncWaitMs?: number,
 *   getex?: "replica" | "primary" }} options
 *   `replicas`: read replicas of the redis at `redisPort` (replicated mode when non-empty).
 * @returns {Promise<{ url: string, port: number, token: string, stats: EndpointStats, close: () => Promise<void> }>}
 */
export async function startUpstashRestServer({
  redisPort,
  redisHost = "127.0.0.1",
  host = "127.0.0.1",
  port = 0,
  token = randomBytes(24).toString("base64url"),
  replicas = [],
  primaryDelayMs = 0,
  syncWaitMs = 5000,
  getex = "replica",
}) {
  if (!isLoopback(host)) throw new Error(`refusing to bind the REST endpoint to non-loopback host ${host}`);
  if (!Number.isInteger(redisPort) || redisPort <= 0) throw new Error("redisPort is required");
  if (!token || /\s/.test(token)) throw new Error("token must be non-empty and without whitespace");
  if (!(primaryDelayMs >= 0) || !(syncWaitMs >= 0))
    throw new Error("primaryDelayMs and syncWaitMs must be ≥ 0");
  if (getex !== "replica" && getex !== "primary") throw new Error('getex must be "replica" or "primary"');

  // Hash both sides to a fixed length so timingSafeEqual never sees different lengths.
  const expectedDigest = sha256(token);

  const primary = connectNode(redisHost, redisPort);
  const readers = replicas.map((r) => connectNode(r.host ?? redisHost, r.port));
  const replicated = readers.length > 0;
  await Promise.all([primary, ...readers].map((n) => waitForReady(n.redis, 3000)));
  /** Names of the commands Redis flags `readonly` (replicated mode only). */
  const readOnly = replicated ? await readOnlyCommands(primary.redis) : new Set();
  if (getex === "replica") readOnly.add("GETEX");

  /** @type {EndpointStats} */
  const stats = { primary: 0, replica: 0, waited: 0, handedToPrimary: 0, commands: 0, byCommand: {} };
  let counter = 0; // single mode's token
  let nextReader = 0;

  const server = createServer((req, res) => {
    handle(req).then(
      ({ status, body, token: sync }) => {
        res.setHeader("upstash-sync-token", sync ?? fallbackToken());
        send(res, status, body);
      },
      (err) => {
        const status = err instanceof HttpError ? err.status : 500;
        const message =
          err instanceof HttpError ? err.message : "ERR internal error in the local REST endpoint";
        if (status === 413) res.setHeader("connection", "close");
        res.setHeader("upstash-sync-token", fallbackToken());
        send(res, status, { error: message });
        // Drain whatever the client still sends so it can read the answer.
        req.resume();
      },
    );
  });

  /** The token of an answer that touched no node: the newest state known. */
  function fallbackToken() {
    return replicated ? String(primary.offset) : String(++counter);
  }

  /**
   * @param {import("node:http").IncomingMessage} req
   * @returns {Promise<Answer>}
   */
  async function handle(req) {
    if (req.method !== "POST") throw new HttpError(405, "ERR only POST is supported");
    if (!authorized(req.headers.authorization)) {
      throw new HttpError(401, "WRONGPASS invalid or missing auth token");
    }
    const path = new URL(req.url ?? "/", "http://localhost").pathname.replace(/\/+$/, "") || "/";
    if (path !== "/" && path !== "/pipeline" && path !== "/multi-exec") {
      throw new HttpError(404, "ERR unknown endpoint, use POST /, /pipeline or /multi-exec");
    }
    const base64 = String(req.headers["upstash-encoding"] ?? "").toLowerCase() === "base64";
    const payload = parseJson(await readBody(req));
    const single = path === "/";
    const commands = single ? [toCommand(payload, "the body")] : toCommands(payload);
    const transaction = path === "/multi-exec";
    // What Upstash bills: the commands sent, whoever answers them.
    stats.commands += commands.length;
    for (const [name] of commands) stats.byCommand[name] = (stats.byCommand[name] ?? 0) + 1;
    if (!replicated) return run(primary, commands, { single, transaction, base64, token: false });

    const after = parseToken(req.headers["upstash-sync-token"]);
    const reads = !transaction && commands.every(([name]) => readOnly.has(name));
    if (reads) {
      const reader = readers[nextReader++ % readers.length];
      if (after !== undefined && after > reader.offset) stats.waited++;
      if (after === undefined || (await reader.reach(after, syncWaitMs))) {
        stats.replica++;
        return readOnReplica(reader, commands, { single, base64 });
      }
      stats.handedToPrimary++; // behind beyond the bound: the primary has every state
    }
    stats.primary++;
    await sleep(primaryDelayMs);
    return run(primary, commands, { single, transaction, base64, token: true });
  }

  /**
   * Reads on a replica. A GETEX (routed here in the default worst case) is read as GET from
   * the replica while the primary applies it, so its TTL change is not lost.
   * @param {Node} reader @param {RedisCommand[]} commands @param {{ single: boolean, base64: boolean }} how
   */
  async function readOnReplica(reader, commands, how) {
    const getex = commands.filter(([name]) => name === "GETEX");
    const onPrimary =
      getex.length > 0
        ? sleep(primaryDelayMs).then(() =>
            run(primary, getex, { single: false, transaction: false, base64: false, token: false }),
          )
        : undefined;
    const asRead = commands.map((c) =>
      c[0] === "GETEX" ? /** @type {RedisCommand} */ (["GET", c[1] ?? ""]) : c,
    );
    const [answer] = await Promise.all([
      run(reader, asRead, { ...how, transaction: false, token: true }),
      onPrimary,
    ]);
    return answer;
  }

  /** @param {string | undefined} header */
  function authorized(header) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
    return match ? timingSafeEqual(sha256(match[1] ?? ""), expectedDigest) : false;
  }

  try {
    await new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => {
        server.off("error", reject);
        resolve(undefined);
      });
    });
  } catch (err) {
    for (const n of [primary, ...readers]) n.redis.disconnect(); // or its reconnect loop would keep the process alive
    throw err;
  }
  const address = server.address();
  const boundPort = typeof address === "object" && address ? address.port : port;

  /** @type {Promise<void> | undefined} */
  let closing;
  return {
    url: `http://${host.includes(":") ? `[${host}]` : host}:${boundPort}`,
    port: boundPort,
    token,
    stats,
    close() {
      closing ??= new Promise((resolve) => {
        server.close(() => resolve(undefined));
        // Keep-alive connections from fetch() would otherwise hold close() open.
        server.closeAllConnections();
        for (const n of [primary, ...readers]) n.close();
      });
      return closing;
    },
  };
}

/**
 * @typedef {object} EndpointStats
 * @property {number} primary requests answered by the primary
 * @property {number} replica requests answered by a replica
 * @property {number} waited requests that waited for a replica to catch up to their token
 * @property {number} handedToPrimary reads handed to the primary after waiting `syncWaitMs` in vain
 * @property {number} commands commands received (what Upstash bills), all paths
 * @property {Record<string, number>} byCommand the same by command name (upper case)
 */

/**
 * @typedef {object} Node
 * @property {Redis} redis
 * @property {number} offset the newest replication offset seen from this node
 * @property {(offset: number, waitMs: number) => Promise<boolean>} reach resolves true once the node has applied `offset`, false after `waitMs`
 * @property {(offset: number) => void} note records an offset this node reported
 * @property {() => void} close
 */

/** @param {string} host @param {number} port @returns {Node} */
function connectNode(host, port) {
  const redis = new Redis({
    host,
    port,
    // Fail fast while redis is down instead of queueing (a request must not hang)…
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    // …never replay a possibly-executed write after a reconnect…
    autoResendUnfulfilledCommands: false,
    connectTimeout: 2000,
    // …and keep reconnecting so the endpoint recovers when redis comes back.
    retryStrategy: (times) => Math.min(times * 50, 500),
  });
  // Connection errors surface per request as 500; without a listener ioredis would print them.
  redis.on("error", () => {});
  /** @type {{ offset: number, resolve: (ok: boolean) => void, timer: NodeJS.Timeout }[]} */
  let waiters = [];
  /** @type {NodeJS.Timeout | undefined} */
  let polling;
  const node = {
    redis,
    offset: 0,
    /** @param {number} offset */
    note(offset) {
      if (offset > node.offset) node.offset = offset;
      waiters = waiters.filter((w) => {
        if (w.offset > node.offset) return true;
        clearTimeout(w.timer);
        w.resolve(true);
        return false;
      });
    },
    /** @param {number} offset @param {number} waitMs */
    reach(offset, waitMs) {
      if (offset <= node.offset) return Promise.resolve(true);
      return new Promise((resolve) => {
        const waiter = {
          offset,
          resolve,
          timer: setTimeout(() => {
            waiters = waiters.filter((w) => w !== waiter);
            resolve(false);
          }, waitMs),
        };
        waiters.push(waiter);
        poll();
      });
    },
    close() {
      if (polling) clearTimeout(polling);
      for (const w of waiters) {
        clearTimeout(w.timer);
        w.resolve(false);
      }
      waiters = [];
      redis.disconnect();
    },
  };
  // Asks for the offset while anyone waits for it.
  function poll() {
    if (polling || waiters.length === 0) return;
    polling = setTimeout(async () => {
      try {
        node.note(parseOffset(await redis.info("replication")));
      } catch {
        // unreachable for now: the waiters' own deadlines end their wait
      }
      polling = undefined;
      poll();
    }, OFFSET_POLL_MS);
  }
  return node;
}

/**
 * Runs commands on one node, as one command (`single`), a pipeline or a transaction. With
 * `token`, the node's replication offset is asked for right after, on the same connection,
 * so it counts every command of this request: the token of the state the answer reflects.
 * @param {Node} node @param {RedisCommand[]} commands
 * @param {{ single: boolean, transaction: boolean, base64: boolean, token: boolean }} how
 * @returns {Promise<Answer>}
 */
async function run(node, commands, { single, transaction, base64, token }) {
  const { redis } = node;
  if (single && !token) {
    try {
      return { status: 200, body: { result: encode(await redis.callBuffer(...commands[0]), base64) } };
    } catch (err) {
      throw toHttpError(err);
    }
  }
  // The offset is asked for in the same pipeline or transaction, after the commands.
  const batch = transaction ? redis.multi() : redis.pipeline();
  for (const command of commands) batch.callBuffer(...command);
  if (token) batch.call("INFO", "replication");
  /** @type {[Error | null, unknown][] | null} */
  let replies;
  try {
    // A transaction rejects with EXECABORT when redis discarded it as a whole.
    replies = await batch.exec();
  } catch (err) {
    throw toHttpError(err);
  }
  if (!replies) throw new HttpError(400, "EXECABORT Transaction discarded");
  let sync;
  if (token) {
    const [err, info] = /** @type {[Error | null, unknown]} */ (replies.pop());
    if (err) throw toHttpError(err);
    const offset = parseOffset(String(info));
    node.note(offset);
    sync = String(offset);
  }
  if (single) {
    const [[err, reply]] = replies;
    if (err) throw toHttpError(err);
    return { status: 200, body: { result: encode(reply, base64) }, token: sync };
  }
  return { status: 200, body: toItems(replies, base64), token: sync };
}

/** `master_repl_offset` from `INFO replication` (a replica reports how far it has applied the stream). */
function parseOffset(/** @type {string} */ info) {
  const match = /^master_repl_offset:(\d+)/m.exec(info);
  if (!match) throw new Error("no replication offset");
  return Number(match[1]);
}

/** A token this endpoint issued (a replication offset), or undefined for anything else. */
function parseToken(/** @type {string | string[] | undefined} */ header) {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value || !/^\d{1,15}$/.test(value)) return undefined;
  return Number(value);
}

/**
 * The commands Redis's command table flags `readonly` (upper case). Container commands
 * (e.g. SCRIPT, OBJECT) are classified by their own flags: none of them is readonly.
 * @param {Redis} redis @returns {Promise<Set<string>>}
 */
async function readOnlyCommands(redis) {
  /** @type {unknown[]} */
  const table = /** @type {any} */ (await redis.call("COMMAND"));
  const names = new Set();
  for (const entry of table) {
    if (!Array.isArray(entry)) continue;
    const [name, , flags] = entry;
    if (typeof name === "string" && Array.isArray(flags) && flags.includes("readonly"))
      names.add(name.toUpperCase());
  }
  return names;
}

/** @param {number} ms */
function sleep(ms) {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}

/** @param {string} host */
function isLoopback(host) {
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** @param {string} value */
function sha256(value) {
  return createHash("sha256").update(value, "utf8").digest();
}

/**
 * Resolve when ioredis is ready, or after `ms` anyway (redis may legitimately be down).
 * @param {Redis} redis @param {number} ms
 */
function waitForReady(redis, ms) {
  if (redis.status === "ready") return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    redis.once("ready", done);
    function done() {
      clearTimeout(timer);
      redis.off("ready", done);
      resolve(undefined);
    }
  });
}

/**
 * Read the body up to MAX_BODY_BYTES. Beyond that, reject with 413 but keep draining (not
 * destroying) the request, so the client can still read the answer.
 * @param {import("node:http").IncomingMessage} req
 * @returns {Promise<Buffer>}
 */
function readBody(req) {
  return new Promise((resolve, reject) => {
    const tooLarge = () => new HttpError(413, "ERR request body too large");
    if (Number(req.headers["content-length"] ?? 0) > MAX_BODY_BYTES) return reject(tooLarge());
    /** @type {Buffer[]} */
    let chunks = [];
    let size = 0;
    req.on("data", (/** @type {Buffer} */ chunk) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        chunks = [];
        reject(tooLarge());
      } else {
        chunks.push(chunk);
      }
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

/** @param {Buffer} body */
function parseJson(body) {
  try {
    return JSON.parse(body.toString("utf8"));
  } catch {
    throw new HttpError(400, "ERR failed to parse the request body as JSON");
  }
}

/**
 * Validate one command and turn number/boolean arguments into strings, as Upstash does.
 * The name is upper-cased: ioredis reshapes some lower-case replies (e.g. hgetall → object).
 * @param {unknown} value @param {string} where
 * @returns {RedisCommand}
 */
function toCommand(value, where) {
  if (!Array.isArray(value) || value.length === 0) {
    throw new HttpError(400, `ERR ${where} must be a non-empty JSON array of strings, numbers or booleans`);
  }
  const args = value.map((arg) => {
    if (typeof arg === "string") return arg;
    if ((typeof arg === "number" && Number.isFinite(arg)) || typeof arg === "boolean") return String(arg);
    throw new HttpError(400, `ERR ${where} must contain only strings, numbers or booleans`);
  });
  const name = (args[0] ?? "").toUpperCase();
  if (REFUSED_COMMANDS.has(name)) {
    throw new HttpError(400, `ERR command '${name}' is not supported by the local REST endpoint`);
  }
  return [name, ...args.slice(1)];
}

/** @param {unknown} value @returns {RedisCommand[]} */
function toCommands(value) {
  if (!Array.isArray(value) || value.length === 0) {
    throw new HttpError(400, "ERR the body must be a non-empty JSON array of commands");
  }
  return value.map((command, i) => toCommand(command, `command ${i + 1}`));
}

/** @param {unknown} err */
function toHttpError(err) {
  // Redis text, unchanged (the client relies on e.g. NOSCRIPT).
  if (err instanceof ReplyError) return new HttpError(400, /** @type {Error} */ (err).message);
  const reason = err instanceof Error ? err.message : String(err);
  return new HttpError(500, `ERR redis is unreachable: ${reason}`);
}

/**
 * Pipeline / transaction replies → `[{result} | {error}]`. A connection error on any command
 * means redis is unreachable: the request fails as a whole (500).
 * @param {[Error | null, unknown][]} replies @param {boolean} base64
 */
function toItems(replies, base64) {
  const broken = replies.find(([err]) => err && !(err instanceof ReplyError));
  if (broken) throw toHttpError(broken[0]);
  return replies.map(([err, reply]) => (err ? { error: err.message } : { result: encode(reply, base64) }));
}

/**
 * Buffers (bulk and status replies alike) → base64 of the raw bytes or UTF-8 text;
 * numbers and null unchanged; arrays recursively. An error nested in an array reply
 * (e.g. from a Lua table) becomes its text.
 * @param {unknown} value @param {boolean} base64
 * @returns {Json}
 */
function encode(value, base64) {
  if (value === null || value === undefined) return null;
  if (typeof value === "number") return value;
  if (Array.isArray(value)) return value.map((item) => encode(item, base64));
  const bytes = Buffer.isBuffer(value)
    ? value
    : Buffer.from(value instanceof Error ? value.message : String(value), "utf8");
  return base64 ? bytes.toString("base64") : bytes.toString("utf8");
}

/**
 * @param {import("node:http").ServerResponse} res @param {number} status @param {unknown} body
 */
function send(res, status, body) {
  if (res.headersSent) return;
  const json = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(json),
    ...(status === 405 ? { allow: "POST" } : {}),
  });
  res.end(json);
}
