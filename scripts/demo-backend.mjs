#!/usr/bin/env node
// A tiny loopback backend for trying the router locally (`npm start` runs it behind the
// router): `/` is a page that shows what the backend received, `/api/echo` answers JSON.
// Module: `startDemoBackend({ port, host })`; CLI: `node scripts/demo-backend.mjs [--port N]`.
import { randomBytes } from "node:crypto";
import { realpathSync } from "node:fs";
import { createServer } from "node:http";
import { isIP } from "node:net";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

export const DEFAULT_PORT = 5001;
export const DEFAULT_HOST = "127.0.0.1";
/** The router's default session cookie: it must never reach the backend. */
const ROUTER_COOKIE = "JSESSIONID";
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

/**
 * @typedef {object} DemoBackend
 * @property {string} url   e.g. http://127.0.0.1:5001
 * @property {number} port
 * @property {() => Promise<void>} close
 */

/**
 * Start the demo backend on a loopback address (port 0 = any free port).
 * Rejects with a clear message when the port is already in use.
 * @param {{ port?: number, host?: string }} [options]
 * @returns {Promise<DemoBackend>}
 */
export async function startDemoBackend({ port = DEFAULT_PORT, host = DEFAULT_HOST } = {}) {
  if (!isLoopback(host)) throw new Error(`the demo backend listens on loopback only, not on ${host}`);
  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
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
          ? new Error(`port ${port} on ${host} is already in use (is another demo backend or \`npm start\` running?)`)
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
 * @param {import("node:http").IncomingMessage} req
 * @param {import("node:http").ServerResponse} res
 */
async function handle(req, res) {
  const method = req.method ?? "GET";
  const url = req.url ?? "/";
  const path = url.split("?")[0];

  if (path === "/api/echo") {
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
  if (path === "/" && (method === "GET" || method === "HEAD")) {
    const nonce = randomBytes(16).toString("base64");
    res.setHeader(
      "content-security-policy",
      `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'; ` +
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    );
    return send(res, 200, "text/html; charset=utf-8", method === "HEAD" ? "" : page(req, nonce));
  }
  if (path === "/favicon.ico") return send(res, 204, undefined, "");
  return send(res, 404, "text/plain; charset=utf-8", "Not found: the demo backend serves / and /api/echo\n");
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
  return shown;
}

/** @param {string | undefined} header @returns {string[]} */
function cookieNames(header) {
  if (!header) return [];
  return header
    .split(";")
    .map((pair) => pair.split("=")[0]?.trim() ?? "")
    .filter((name) => name !== "");
}

/** @param {unknown} value */
function escapeHtml(value) {
  return String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * @param {import("node:http").IncomingMessage} req
 * @param {string} nonce
 */
function page(req, nonce) {
  const headers = shownHeaders(req);
  const viaRouter = headers["x-forwarded-host"] !== undefined;
  const leaked = cookieNames(headers.cookie).includes(ROUTER_COOKIE);
  const rows = SHOWN_HEADERS.map((name) => {
    const value = headers[name];
    return `<tr><th>${escapeHtml(name)}</th><td>${value === undefined ? '<span class="none">(not sent)</span>' : `<code>${escapeHtml(value)}</code>`}</td></tr>`;
  }).join("\n        ");

  const status = leaked
    ? `<p class="bad">The router's ${ROUTER_COOKIE} cookie reached the backend. It must never be forwarded.</p>`
    : viaRouter
      ? `<p class="good">Served through the router. The router's ${ROUTER_COOKIE} cookie did not reach the backend (other cookies do).</p>`
      : `<p class="warn">No <code>x-forwarded-host</code>: this looks like a direct request to the backend. Open the router's address instead (see the terminal).</p>`;

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>approuter-edge demo backend</title>
<style nonce="${nonce}">
  body { font: 16px/1.5 system-ui, sans-serif; max-width: 52rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
  h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; margin-top: 2rem; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; vertical-align: top; padding: .25rem .5rem; border-bottom: 1px solid #ddd; }
  th { width: 12rem; font-weight: 600; }
  code, pre { font: 14px/1.4 ui-monospace, monospace; word-break: break-all; white-space: pre-wrap; }
  pre { background: #f5f5f5; padding: .75rem; }
  .none { color: #888; } .good { color: #176317; } .bad { color: #a00; font-weight: 600; } .warn { color: #8a5a00; }
  button { font: inherit; padding: .3rem .8rem; margin-right: .5rem; }
</style>
</head>
<body>
<h1>approuter-edge demo backend</h1>
${status}

<h2>This request, as the backend received it</h2>
<table>
  <tr><th>method</th><td><code>${escapeHtml(req.method ?? "")}</code></td></tr>
  <tr><th>path</th><td><code>${escapeHtml(req.url ?? "")}</code></td></tr>
        ${rows}
</table>

<h2>CSRF token</h2>
<p>The router hands out its CSRF token to a request with <code>x-csrf-token: fetch</code>, in the
<code>x-csrf-token</code> response header. State-changing requests (POST, PUT, DELETE, …) to a route
that requires authentication must send it back, and so must <code>POST /logout</code>. (The bundled
<code>xs-app.json</code> has <code>authenticationMethod: "none"</code>, so here only logout checks it.)</p>
<p>
  <button id="fetch-token" type="button">Fetch token (GET /api/echo)</button>
  <button id="post-echo" type="button">POST /api/echo with the token</button>
</p>
<p>Token: <code id="token" class="none">(none yet)</code></p>
<pre id="result" hidden></pre>

<h2>Logout</h2>
<form id="logout" method="post" action="/logout">
  <button type="submit">POST /logout</button>
  <span>(sends the token; without JavaScript the router refuses it with 403)</span>
</form>
<p id="logout-result"></p>

<script nonce="${nonce}">
  "use strict";
  let token = "";
  const $ = (id) => document.getElementById(id);
  function show(text) { const pre = $("result"); pre.hidden = false; pre.textContent = text; }
  async function describe(res) {
    const body = await res.text();
    return "HTTP " + res.status + " " + res.statusText + "\\n\\n" + body;
  }
  $("fetch-token").addEventListener("click", async () => {
    try {
      const res = await fetch("/api/echo", { headers: { "x-csrf-token": "fetch" }, credentials: "same-origin" });
      token = res.headers.get("x-csrf-token") || "";
      $("token").textContent = token || "(the router returned no token)";
      $("token").className = token ? "" : "none";
      show(await describe(res));
    } catch (err) { show("Request failed: " + err); }
  });
  $("post-echo").addEventListener("click", async () => {
    try {
      const res = await fetch("/api/echo", {
        method: "POST",
        headers: { "x-csrf-token": token || "none", "content-type": "application/json" },
        body: JSON.stringify({ hello: "from the demo page" }),
        credentials: "same-origin",
      });
      show(await describe(res));
    } catch (err) { show("Request failed: " + err); }
  });
  $("logout").addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const res = await fetch("/logout", { method: "POST", headers: { "x-csrf-token": token }, credentials: "same-origin", redirect: "manual" });
      // A 302 to the logout page shows up as an opaque redirect (status 0).
      if (res.type === "opaqueredirect" || res.ok) { location.assign("/"); return; }
      $("logout-result").textContent = "Logout answered HTTP " + res.status + (token ? "" : " (fetch a token first)");
    } catch (err) { $("logout-result").textContent = "Logout failed: " + err; }
  });
</script>
</body>
</html>
`;
}

async function main() {
  const usage = "Usage: node scripts/demo-backend.mjs [--port N] [--host 127.0.0.1]";
  /** @type {{ port?: string, host?: string, help?: boolean }} */
  let values;
  try {
    ({ values } = parseArgs({
      options: { port: { type: "string" }, host: { type: "string" }, help: { type: "boolean", short: "h" } },
    }));
  } catch (err) {
    console.error(`${err instanceof Error ? err.message : err}\n${usage}`);
    process.exit(2);
  }
  if (values.help) {
    console.log(usage);
    return;
  }
  const port = values.port === undefined ? DEFAULT_PORT : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`--port must be a port number (0-65535)\n${usage}`);
    process.exit(2);
  }
  const backend = await startDemoBackend({ port, host: values.host ?? DEFAULT_HOST });
  console.log(`demo backend on ${backend.url}; press Ctrl-C to stop.`);
  const stop = () => backend.close().then(() => process.exit(0));
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
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
