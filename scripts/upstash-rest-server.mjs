// A local, Upstash-compatible Redis REST endpoint in front of a real redis-server,
// for development and tests (no Upstash account is reachable from these machines).
// Protocol: /work/shared/notes/upstash-rest-protocol.md. Loopback only; never logs
// tokens, keys or values.
import { createServer } from "node:http";
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { Redis, ReplyError } from "ioredis";

const MAX_BODY_BYTES = 10 * 1024 * 1024;

/**
 * Commands that change the state of the one shared connection (subscriber mode, selected db,
 * protocol, open transaction, …) would break every other request, so they are refused.
 */
const REFUSED_COMMANDS = new Set([
  "AUTH", "HELLO", "SELECT", "QUIT", "RESET", "MONITOR", "SYNC", "PSYNC", "CLIENT",
  "SUBSCRIBE", "PSUBSCRIBE", "SSUBSCRIBE", "UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE",
  "MULTI", "EXEC", "DISCARD", "WATCH", "UNWATCH",
]);

/** @typedef {[string, ...string[]]} RedisCommand */
/** @typedef {null | number | string | Json[]} Json */

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
 * @param {{ redisPort: number, redisHost?: string, host?: string, port?: number, token?: string }} options
 * @returns {Promise<{ url: string, port: number, token: string, close: () => Promise<void> }>}
 */
export async function startUpstashRestServer({
  redisPort,
  redisHost = "127.0.0.1",
  host = "127.0.0.1",
  port = 0,
  token = randomBytes(24).toString("base64url"),
}) {
  if (!isLoopback(host)) throw new Error(`refusing to bind the REST endpoint to non-loopback host ${host}`);
  if (!Number.isInteger(redisPort) || redisPort <= 0) throw new Error("redisPort is required");
  if (!token || /\s/.test(token)) throw new Error("token must be non-empty and without whitespace");

  // Hash both sides to a fixed length so timingSafeEqual never sees different lengths.
  const expectedDigest = sha256(token);

  const redis = new Redis({
    host: redisHost,
    port: redisPort,
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
  await waitForReady(redis, 3000);

  let syncToken = 0;

  const server = createServer((req, res) => {
    // A counter that increases on every request: trivially satisfies read-your-writes
    // against a single redis.
    res.setHeader("upstash-sync-token", String(++syncToken));
    handle(req).then(
      ({ status, body }) => send(res, status, body),
      (err) => {
        const status = err instanceof HttpError ? err.status : 500;
        const message = err instanceof HttpError ? err.message : "ERR internal error in the local REST endpoint";
        if (status === 413) res.setHeader("connection", "close");
        send(res, status, { error: message });
        // Drain whatever the client still sends so it can read the answer.
        req.resume();
      },
    );
  });

  /**
   * @param {import("node:http").IncomingMessage} req
   * @returns {Promise<{ status: number, body: unknown }>}
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

    if (path === "/") {
      const command = toCommand(payload, "the body");
      try {
        const reply = await redis.callBuffer(...command);
        return { status: 200, body: { result: encode(reply, base64) } };
      } catch (err) {
        throw toHttpError(err);
      }
    }

    const commands = toCommands(payload);
    if (path === "/pipeline") {
      const pipeline = redis.pipeline();
      for (const command of commands) pipeline.callBuffer(...command);
      /** @type {[Error | null, unknown][]} */
      let replies;
      try {
        replies = (await pipeline.exec()) ?? [];
      } catch (err) {
        throw toHttpError(err);
      }
      return { status: 200, body: toItems(replies, base64) };
    }

    const transaction = redis.multi();
    for (const command of commands) transaction.callBuffer(...command);
    /** @type {[Error | null, unknown][] | null} */
    let replies;
    try {
      // Rejects with EXECABORT when redis discarded the whole transaction.
      replies = await transaction.exec();
    } catch (err) {
      throw toHttpError(err);
    }
    if (!replies) throw new HttpError(400, "EXECABORT Transaction discarded");
    return { status: 200, body: toItems(replies, base64) };
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
    redis.disconnect(); // or its reconnect loop would keep the process alive
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
    close() {
      closing ??= new Promise((resolve) => {
        server.close(() => resolve(undefined));
        // Keep-alive connections from fetch() would otherwise hold close() open.
        server.closeAllConnections();
        redis.disconnect();
      });
      return closing;
    },
  };
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
