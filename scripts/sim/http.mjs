// The HTTP layer of the simulators: a loopback server that can be stopped and started again
// on the same port ("provider down"), small response helpers, a form-body reader, and a
// fetch that reaches the server under any Host name (realistic https hosts in tests).
import { createServer, request as httpRequest } from "node:http";

/**
 * @param {{ host: string, port: number, handler: (req: import("node:http").IncomingMessage, res: import("node:http").ServerResponse) => Promise<void> | void }} o
 */
export async function startHttp(o) {
  /** @type {import("node:http").Server | undefined} */
  let server;
  const sockets = new Set();
  let port = o.port;
  const listen = async () => {
    const s = createServer((req, res) => {
      Promise.resolve()
        .then(() => o.handler(req, res))
        .catch(() => {
          // Never a stack trace in an answer.
          if (!res.headersSent)
            sendJson(res, 500, { error: "server_error", error_description: "simulator error" });
          else res.destroy();
        });
    });
    s.on("connection", (socket) => {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
    });
    await new Promise((resolve, reject) => {
      s.once("error", reject);
      s.listen(port, o.host, () => resolve(undefined));
    });
    port = /** @type {import("node:net").AddressInfo} */ (s.address()).port;
    server = s;
  };
  const close = async () => {
    const s = server;
    server = undefined;
    if (!s) return;
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => s.close(() => resolve(undefined)));
  };
  await listen();
  return {
    get port() {
      return port;
    },
    get running() {
      return server !== undefined;
    },
    /** Listen again on the same port after close(). */
    async start() {
      if (!server) await listen();
    },
    close,
  };
}

/** @param {import("node:http").ServerResponse} res @param {number} status @param {unknown} body @param {Record<string, string>} [headers] */
export function sendJson(res, status, body, headers = {}) {
  res.writeHead(status, {
    "content-type": "application/json;charset=UTF-8",
    "cache-control": "no-store",
    ...headers,
  });
  res.end(JSON.stringify(body));
}

/** @param {import("node:http").ServerResponse} res @param {number} status @param {string} html @param {Record<string, string | string[]>} [headers] */
export function sendHtml(res, status, html, headers = {}) {
  res.writeHead(status, {
    "content-type": "text/html;charset=UTF-8",
    "cache-control": "no-store",
    ...headers,
  });
  res.end(html);
}

/** @param {import("node:http").ServerResponse} res @param {string} location @param {Record<string, string | string[]>} [headers] */
export function redirect(res, location, headers = {}) {
  res.writeHead(302, { location, "cache-control": "no-store", ...headers });
  res.end();
}

/** The form fields of an application/x-www-form-urlencoded body (empty for any other type). */
export async function readForm(/** @type {import("node:http").IncomingMessage} */ req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 64 * 1024) return new URLSearchParams();
    chunks.push(chunk);
  }
  const type = String(req.headers["content-type"] ?? "");
  if (!type.startsWith("application/x-www-form-urlencoded")) return new URLSearchParams();
  return new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
}

/** Cookie value by name from a request. */
export function cookieOf(/** @type {import("node:http").IncomingMessage} */ req, /** @type {string} */ name) {
  for (const part of String(req.headers.cookie ?? "").split(";")) {
    const i = part.indexOf("=");
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

/**
 * URL and init of a fetch call, with any request body read into memory. Accepts Request
 * objects of another fetch implementation too (Miniflare's undici), which Node's fetch cannot
 * take as they are.
 * @param {string | URL | Request} input
 * @param {RequestInit} [init]
 * @returns {Promise<{ url: URL, method: string, headers: Headers, body: Buffer | undefined }>}
 */
export async function fetchParts(input, init = {}) {
  const req = typeof input === "object" && "url" in input && "method" in input ? input : undefined;
  const url = new URL(req ? req.url : String(input));
  const method = (init.method ?? req?.method ?? "GET").toUpperCase();
  const headers = new Headers(
    /** @type {HeadersInit} */ (init.headers ?? (req ? Object.fromEntries(req.headers) : {})),
  );
  headers.delete("content-length");
  let body;
  if (init.body !== undefined && init.body !== null)
    body = Buffer.from(await new Response(/** @type {BodyInit} */ (init.body)).arrayBuffer());
  else if (req?.body && method !== "GET" && method !== "HEAD") body = Buffer.from(await req.arrayBuffer());
  return { url, method, headers, body };
}

/** `fetch` for inputs of any fetch implementation (see fetchParts); no redirects followed. @type {(input: string | URL | Request, init?: RequestInit) => Promise<Response>} */
export async function networkFetch(input, init) {
  const { url, method, headers, body } = await fetchParts(input, init);
  return fetch(url, { method, headers, body, redirect: "manual" });
}

/**
 * A fetch that sends any URL to the simulator at `origin` (http://host:port) while keeping
 * the URL's host as the Host header, the way a reverse proxy or DNS would. Lets tests use
 * realistic https host names (tenant subdomains) without DNS or TLS. No redirects followed.
 * @param {string} origin
 * @returns {(input: string | URL | Request, init?: RequestInit) => Promise<Response>}
 */
export function hostFetch(origin) {
  const target = new URL(origin);
  return async (input, init) => {
    const { url, method, headers, body } = await fetchParts(input, init);
    headers.set("host", url.host);
    return new Promise((resolve, reject) => {
      const r = httpRequest(
        {
          host: target.hostname,
          port: target.port,
          method,
          path: url.pathname + url.search,
          headers: Object.fromEntries(headers),
        },
        (msg) => {
          /** @type {Buffer[]} */
          const chunks = [];
          msg.on("data", (c) => chunks.push(c));
          msg.on("error", reject);
          msg.on("end", () => {
            const h = new Headers();
            for (let i = 0; i < msg.rawHeaders.length; i += 2)
              h.append(String(msg.rawHeaders[i]), String(msg.rawHeaders[i + 1]));
            const status = msg.statusCode ?? 500;
            const nullBody = status === 204 || status === 304 || method === "HEAD";
            resolve(new Response(nullBody ? null : Buffer.concat(chunks), { status, headers: h }));
          });
        },
      );
      r.on("error", reject);
      r.end(body);
    });
  };
}
