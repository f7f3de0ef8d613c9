#!/usr/bin/env node
// A tiny loopback backend for trying the router locally (`npm start` runs it behind the
// router): `/` (and any `/public/…` page) shows what the backend received and who is logged
// in, `/public/logged-out` is the page the router's logout ends on, `/api/echo` answers JSON.
// The user's access token (`Authorization: Bearer …`, forwarded by the router) is never
// shown: only that one arrived, its length and a short fingerprint, and, when the identity
// provider is known (`login.issuer`), whose it is according to the provider's userinfo
// endpoint.
// Module: `startDemoBackend({ port, host, login })`; CLI: `node scripts/demo-backend.mjs [--port N]`.
import { createHash, randomBytes } from "node:crypto";
import { createServer } from "node:http";
import { isIP } from "node:net";
import { demoPage, loggedOutPage } from "./demo/page.mjs";
import { parseCommandLine, portOf, runIfMain, stopOnSignals } from "./lib/cli.mjs";

export const DEFAULT_PORT = 5001;
export const DEFAULT_HOST = "127.0.0.1";
const MAX_BODY_BYTES = 64 * 1024;

/** Request headers worth showing: what the browser and the router pass on. */
const SHOWN_HEADERS = [
  "host",
  "cookie",
  "x-forwarded-host",
  "x-forwarded-proto",
  "x-forwarded-path",
  "x-forwarded-for",
  "x-csrf-token",
  "content-type",
];

/** Where the logout of the demo configuration ends (scripts/demo/xs-app.json). */
export const DEFAULT_LOGOUT_PAGE = "/public/logged-out";
const USERINFO_TIMEOUT_MS = 3000;

/**
 * The identity provider the router logs users in with, when there is one.
 * @typedef {object} DemoLogin
 * @property {string} issuer      the provider's issuer (discovery at <issuer>/.well-known/openid-configuration)
 * @property {string} clientId    the router's client id there
 * @property {string} [logoutPage] the router's logout page, default /public/logged-out
 */

/**
 * @typedef {object} DemoBackend
 * @property {string} url   e.g. http://127.0.0.1:5001
 * @property {number} port
 * @property {() => Promise<void>} close
 */

/**
 * Start the demo backend on a loopback address (port 0 = any free port).
 * Rejects with a clear message when the port is already in use.
 * `login`: the router logs users in with this provider (the page then offers the provider's
 * logout and asks its userinfo endpoint whose token arrived).
 * @param {{ port?: number, host?: string, login?: DemoLogin }} [options]
 * @returns {Promise<DemoBackend>}
 */
export async function startDemoBackend({ port = DEFAULT_PORT, host = DEFAULT_HOST, login } = {}) {
  if (!isLoopback(host)) throw new Error(`the demo backend listens on loopback only, not on ${host}`);
  const provider = login ? providerOf(login) : undefined;
  const started = new Date().toISOString().slice(11, 19);
  const server = createServer((req, res) => {
    handle(req, res, provider, started).catch(() => {
      if (!res.headersSent) send(res, 500, "text/plain; charset=utf-8", "Internal error\n");
      else res.destroy();
    });
  });
  // Keep-alive sockets from workerd must not hold close() up.
  server.keepAliveTimeout = 2000;

  await new Promise((resolve, reject) => {
    const onError = (/** @type {NodeJS.ErrnoException} */ err) => {
      server.off("listening", onListening);
      reject(
        err.code === "EADDRINUSE"
          ? new Error(
              `port ${port} on ${host} is already in use (is another demo backend or \`npm start\` running?)`,
            )
          : err,
      );
    };
    const onListening = () => {
      server.off("error", onError);
      resolve(undefined);
    };
    server.once("error", onError);
    server.once("listening", onListening);
    server.listen(port, host);
  });

  const address = server.address();
  const actualPort = typeof address === "object" && address ? address.port : port;
  const urlHost = host.includes(":") ? `[${host}]` : host;
  return {
    url: `http://${urlHost}:${actualPort}`,
    port: actualPort,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve(undefined));
        server.closeAllConnections();
      }),
  };
}

/** @param {string} host */
function isLoopback(host) {
  if (host === "localhost") return true;
  if (isIP(host) === 4) return host.startsWith("127.");
  if (isIP(host) === 6) return host === "::1";
  return false;
}

/**
 * @typedef {object} Provider
 * @property {DemoLogin & { logoutPage: string }} login
 * @property {() => Promise<{ userinfo_endpoint?: string, end_session_endpoint?: string }>} metadata  discovery, cached once it succeeded
 */

/** @param {DemoLogin} login @returns {Provider} */
function providerOf(login) {
  const issuer = login.issuer.replace(/\/+$/, "");
  /** @type {Promise<{ userinfo_endpoint?: string, end_session_endpoint?: string }> | undefined} */
  let cached;
  return {
    login: { ...login, issuer, logoutPage: login.logoutPage ?? DEFAULT_LOGOUT_PAGE },
    metadata() {
      cached ??= (async () => {
        const res = await fetch(`${issuer}/.well-known/openid-configuration`, {
          signal: AbortSignal.timeout(USERINFO_TIMEOUT_MS),
        });
        if (!res.ok) throw new Error(`discovery answered HTTP ${res.status}`);
        return /** @type {{ userinfo_endpoint?: string, end_session_endpoint?: string }} */ (
          await res.json()
        );
      })();
      cached.catch(() => (cached = undefined)); // try again next time
      return cached;
    },
  };
}

/**
 * @param {import("node:http").IncomingMessage} req
 * @param {import("node:http").ServerResponse} res
 * @param {Provider | undefined} provider
 * @param {string} started when this backend started (UTC time), shown at the bottom of its pages
 */
async function handle(req, res, provider, started) {
  const method = req.method ?? "GET";
  const url = req.url ?? "/";
  const path = url.split("?")[0] ?? "/";

  if (path === "/api/echo" || path === "/public/api/echo") {
    const body = await readBody(req);
    if (body === undefined) return send(res, 413, "text/plain; charset=utf-8", "Body too large\n");
    return send(
      res,
      200,
      "application/json; charset=utf-8",
      `${JSON.stringify({ method, url, headers: shownHeaders(req), body }, null, 2)}\n`,
    );
  }
  req.resume();
  const isPage = path === "/" || path.startsWith("/public/");
  if (isPage && (method === "GET" || method === "HEAD")) {
    const nonce = randomBytes(16).toString("base64");
    res.setHeader(
      "content-security-policy",
      `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'; ` +
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    );
    if (method === "HEAD") return send(res, 200, "text/html; charset=utf-8", "");
    const isLoggedOutPage = path === (provider?.login.logoutPage ?? DEFAULT_LOGOUT_PAGE);
    let body;
    const headers = shownHeaders(req);
    if (isLoggedOutPage) body = loggedOutPage({ headers, nonce, started });
    else {
      const info = await whoIsLoggedIn(req, provider);
      const endSession = provider
        ? (await provider.metadata().catch(() => undefined))?.end_session_endpoint
        : undefined;
      const names = [...SHOWN_HEADERS, ...(headers.authorization !== undefined ? ["authorization"] : [])];
      body = demoPage({
        request: { method, url, headers, names },
        nonce,
        provider: provider?.login,
        info,
        endSession,
        started,
      });
    }
    return send(res, 200, "text/html; charset=utf-8", body);
  }
  if (path === "/favicon.ico") return send(res, 204, undefined, "");
  return send(
    res,
    404,
    "text/plain; charset=utf-8",
    "Not found: the demo backend serves /, /public/…, /api/echo and /public/api/echo\n",
  );
}

/**
 * What arrived in `Authorization`, without the credential itself.
 * @param {string | undefined} header
 * @returns {{ scheme: string, length: number, fingerprint: string, token: string } | undefined}
 */
function bearerOf(header) {
  if (!header) return undefined;
  const match = /^(\S+)\s+(\S+)$/.exec(header.trim());
  if (!match) return { scheme: "(malformed)", length: header.length, fingerprint: "", token: "" };
  const [, scheme = "", token = ""] = match;
  return {
    scheme,
    length: token.length,
    fingerprint: createHash("sha256").update(token).digest("hex").slice(0, 8),
    token,
  };
}

/** @typedef {import("./demo/page.mjs").LoginInfo} LoginInfo */

/**
 * Whose token arrived: the provider's userinfo endpoint, asked with the token (as a
 * resource server would), when the provider is known.
 * @param {import("node:http").IncomingMessage} req
 * @param {Provider | undefined} provider
 * @returns {Promise<LoginInfo>}
 */
async function whoIsLoggedIn(req, provider) {
  const bearer = bearerOf(req.headers.authorization);
  if (!bearer) return { kind: "none" };
  const { token, ...shown } = bearer;
  if (!provider || shown.scheme.toLowerCase() !== "bearer") return { kind: "token", ...shown };
  try {
    const { userinfo_endpoint: endpoint } = await provider.metadata();
    if (!endpoint) return { kind: "token", ...shown, problem: "the provider has no userinfo endpoint" };
    const res = await fetch(endpoint, {
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(USERINFO_TIMEOUT_MS),
    });
    if (!res.ok) {
      await res.body?.cancel();
      return {
        kind: "token",
        ...shown,
        problem: `the provider's userinfo endpoint answered HTTP ${res.status}`,
      };
    }
    return { kind: "token", ...shown, user: /** @type {Record<string, unknown>} */ (await res.json()) };
  } catch (err) {
    return {
      kind: "token",
      ...shown,
      problem: `the provider could not be asked (${err instanceof Error ? err.message : err})`,
    };
  }
}

/**
 * @param {import("node:http").ServerResponse} res
 * @param {number} status
 * @param {string | undefined} type
 * @param {string} body
 */
function send(res, status, type, body) {
  if (type) res.setHeader("content-type", type);
  res.setHeader("cache-control", "no-store");
  res.setHeader("x-content-type-options", "nosniff");
  res.statusCode = status;
  res.end(body);
}

/**
 * The body as text, or undefined when it is larger than MAX_BODY_BYTES.
 * @param {import("node:http").IncomingMessage} req
 * @returns {Promise<string | undefined>}
 */
function readBody(req) {
  return new Promise((resolve, reject) => {
    /** @type {Buffer[]} */
    const chunks = [];
    let size = 0;
    let tooLarge = false;
    req.on("data", (/** @type {Buffer} */ chunk) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) tooLarge = true;
      else chunks.push(chunk);
    });
    req.on("end", () => resolve(tooLarge ? undefined : Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

/**
 * @param {import("node:http").IncomingMessage} req
 * @returns {Record<string, string>}
 */
function shownHeaders(req) {
  /** @type {Record<string, string>} */
  const shown = {};
  for (const name of SHOWN_HEADERS) {
    const value = req.headers[name];
    if (value !== undefined) shown[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  const bearer = bearerOf(req.headers.authorization);
  if (bearer) shown.authorization = redactedAuthorization(bearer);
  return shown;
}

/** @param {{ scheme: string, length: number, fingerprint: string }} bearer */
function redactedAuthorization({ scheme, length, fingerprint }) {
  return `${scheme} (${length} characters, sha256 ${fingerprint}…; not shown)`;
}

const USAGE = "Usage: node scripts/demo-backend.mjs [--port N] [--host 127.0.0.1]";

/** @param {string[]} argv */
async function main(argv) {
  const parsed = parseCommandLine(argv, {
    usage: USAGE,
    options: { port: { type: "string" }, host: { type: "string" } },
  });
  if (!parsed) return 0;
  const port = portOf(parsed.values.port, "--port", { min: 0 }) ?? DEFAULT_PORT;
  const stack = stopOnSignals("demo-backend");
  const backend = await startDemoBackend({ port, host: parsed.values.host ?? DEFAULT_HOST });
  stack.push(backend.close);
  console.log(`demo backend on ${backend.url}; press Ctrl-C to stop.`);
}

await runIfMain(import.meta.url, { name: "demo-backend", usage: USAGE, main });
