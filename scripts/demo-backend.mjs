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
    const loggedOutPage = path === (provider?.login.logoutPage ?? DEFAULT_LOGOUT_PAGE);
    let body;
    if (loggedOutPage) body = loggedOut(req, nonce, started);
    else {
      const info = await whoIsLoggedIn(req, provider);
      const endSession = provider
        ? (await provider.metadata().catch(() => undefined))?.end_session_endpoint
        : undefined;
      body = page(req, nonce, provider, info, endSession, started);
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

/**
 * @typedef {{ kind: "none" }
 *   | { kind: "token", scheme: string, length: number, fingerprint: string,
 *       user?: Record<string, unknown>, problem?: string }} LoginInfo
 */

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

const STYLE = `
  body { font: 16px/1.5 system-ui, sans-serif; max-width: 52rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
  h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; margin-top: 2rem; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; vertical-align: top; padding: .25rem .5rem; border-bottom: 1px solid #ddd; }
  th { width: 12rem; font-weight: 600; }
  code, pre { font: 14px/1.4 ui-monospace, monospace; word-break: break-all; white-space: pre-wrap; }
  pre { background: #f5f5f5; padding: .75rem; }
  .none { color: #888; } .good { color: #176317; } .bad { color: #a00; font-weight: 600; } .warn { color: #8a5a00; }
  .user { background: #eef6ee; border: 1px solid #cfe3cf; padding: .75rem 1rem; }
  button { font: inherit; padding: .3rem .8rem; margin-right: .5rem; }`;

/** @param {string} started */
function footer(started) {
  return `<p class="none" id="footer"><small>Demo backend started at ${escapeHtml(started)} UTC; page served at ${new Date().toISOString().slice(11, 19)} UTC.</small></p>`;
}

/**
 * Whether the request came through the router, and whether the router's cookie leaked.
 * @param {Record<string, string>} headers
 */
function routerStatus(headers) {
  const viaRouter = headers["x-forwarded-host"] !== undefined;
  const leaked = cookieNames(headers.cookie).includes(ROUTER_COOKIE);
  return leaked
    ? `<p class="bad">The router's ${ROUTER_COOKIE} cookie reached the backend. It must never be forwarded.</p>`
    : viaRouter
      ? `<p class="good">Served through the router. The router's ${ROUTER_COOKIE} cookie did not reach the backend (other cookies do).</p>`
      : `<p class="warn">No <code>x-forwarded-host</code>: this looks like a direct request to the backend. Open the router's address instead (see the terminal).</p>`;
}

/**
 * @param {LoginInfo} info
 * @param {Provider | undefined} provider
 */
function loginSection(info, provider) {
  if (info.kind === "none") {
    if (!provider) {
      return `<p id="login-status" class="none">No access token arrived: the router runs without login here (<code>npm start -- --no-login</code>, or the bundled <code>xs-app.json</code>).</p>`;
    }
    return `<p id="login-status" class="none">Not logged in on this page: no access token arrived. This is a public route
(<code>authenticationType: "none"</code>); every other path requires a login. <a href="/">Log in</a></p>`;
  }
  const token = `the router forwarded the user's access token (<code>Authorization: ${escapeHtml(info.scheme)} …</code>,
${info.length} characters, SHA-256 fingerprint <code>${escapeHtml(info.fingerprint)}</code>; the token itself is never shown)`;
  const user = info.user;
  if (user) {
    const name =
      typeof user.name === "string" ? user.name : typeof user.sub === "string" ? user.sub : "(unnamed)";
    const details = [
      typeof user.email === "string" ? `<code>${escapeHtml(user.email)}</code>` : "",
      typeof user.sub === "string" ? `subject <code>${escapeHtml(user.sub)}</code>` : "",
    ].filter(Boolean);
    return `<div class="user"><p id="login-status" class="good">Logged in as <strong id="user-name">${escapeHtml(name)}</strong>${
      details.length ? ` (${details.join(", ")})` : ""
    }.</p>
<p>An access token arrived: ${token}. Name and email come from the provider's userinfo endpoint, asked with that token.</p></div>`;
  }
  return `<div class="user"><p id="login-status" class="good">An access token arrived: ${token}.</p>${
    info.problem ? `<p class="warn">Whose it is is unknown: ${escapeHtml(info.problem)}.</p>` : ""
  }</div>`;
}

/**
 * @param {import("node:http").IncomingMessage} req
 * @param {string} nonce
 * @param {Provider | undefined} provider
 * @param {LoginInfo} info
 * @param {string | undefined} endSession the provider's end_session_endpoint
 * @param {string} started
 */
function page(req, nonce, provider, info, endSession, started) {
  const headers = shownHeaders(req);
  const names = [...SHOWN_HEADERS, ...(headers.authorization !== undefined ? ["authorization"] : [])];
  const rows = names
    .map((name) => {
      const value = headers[name];
      return `<tr><th>${escapeHtml(name)}</th><td>${value === undefined ? '<span class="none">(not sent)</span>' : `<code>${escapeHtml(value)}</code>`}</td></tr>`;
    })
    .join("\n        ");
  const logoutPage = provider?.login.logoutPage ?? "/";
  // Read by the page's script; `<` escaped so nothing in it can end the script element.
  const config = JSON.stringify({
    login: provider !== undefined,
    logoutPage,
    ...(provider ? { clientId: provider.login.clientId } : {}),
    ...(endSession ? { endSession } : {}),
  }).replace(/</g, "\\u003c");

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>approuter-edge demo backend</title>
<style nonce="${nonce}">${STYLE}
</style>
</head>
<body>
<h1>approuter-edge demo backend</h1>
${routerStatus(headers)}

<h2>Who is logged in</h2>
${loginSection(info, provider)}
${
  provider || info.kind === "token"
    ? `<form id="logout" method="post" action="/logout">
  <button id="logout-button" type="submit">Log out</button>
  <span>(<code>POST /logout</code> with the CSRF token${provider ? `, then the identity provider's end-session page, which sends you back to <code>${escapeHtml(logoutPage)}</code>` : ""})</span>
</form>
<p id="logout-result"></p>`
    : ""
}

<h2>This request, as the backend received it</h2>
<table>
  <tr><th>method</th><td><code>${escapeHtml(req.method ?? "")}</code></td></tr>
  <tr><th>path</th><td><code>${escapeHtml(req.url ?? "")}</code></td></tr>
        ${rows}
</table>

<h2>CSRF token</h2>
<p>The router hands out its CSRF token to a request with <code>x-csrf-token: fetch</code>, in the
<code>x-csrf-token</code> response header. State-changing requests (POST, PUT, DELETE, …) to a route
that requires authentication must send it back, and so must <code>POST /logout</code>.${
    provider
      ? ""
      : ` (The bundled <code>xs-app.json</code> has <code>authenticationMethod: "none"</code>, so here only logout checks it.)`
  }</p>
<p>
  <button id="fetch-token" type="button">Fetch token (GET /api/echo)</button>
  <button id="post-echo" type="button">POST /api/echo with the token</button>
</p>
<p>Token: <code id="token" class="none">(none yet)</code></p>
<pre id="result" hidden></pre>
${
  provider || info.kind === "token"
    ? ""
    : `
<h2>Logout</h2>
<form id="logout" method="post" action="/logout">
  <button id="logout-button" type="submit">POST /logout</button>
  <span>(sends the token; without JavaScript the router refuses it with 403)</span>
</form>
<p id="logout-result"></p>`
}
${footer(started)}

<script type="application/json" id="demo-config">${config}</script>
<script nonce="${nonce}">
  "use strict";
  const config = JSON.parse(document.getElementById("demo-config").textContent);
  let token = "";
  const $ = (id) => document.getElementById(id);
  function show(text) { const pre = $("result"); pre.hidden = false; pre.textContent = text; }
  async function describe(res) {
    const body = await res.text();
    return "HTTP " + res.status + " " + res.statusText + "\\n\\n" + body;
  }
  function setToken(value) {
    token = value || "";
    $("token").textContent = token || "(the router returned no token)";
    $("token").className = token ? "" : "none";
  }
  $("fetch-token").addEventListener("click", async () => {
    try {
      const res = await fetch("/api/echo", { headers: { "x-csrf-token": "fetch" }, credentials: "same-origin" });
      setToken(res.headers.get("x-csrf-token"));
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
    const result = $("logout-result");
    try {
      if (!token) {
        // This page's own address, asked with HEAD: works on public and protected pages alike.
        const res = await fetch(location.pathname + location.search, { method: "HEAD", headers: { "x-csrf-token": "fetch" }, credentials: "same-origin" });
        setToken(res.headers.get("x-csrf-token"));
      }
      const res = await fetch("/logout", { method: "POST", headers: { "x-csrf-token": token }, credentials: "same-origin", redirect: "manual" });
      // The router answers with a redirect (to the provider's logout, or to the logout page).
      // A script sees it only as an opaque redirect (status 0) and cannot follow it across
      // origins, so the page goes to the provider's end-session endpoint itself.
      if (res.type === "opaqueredirect" || res.ok) {
        const back = new URL(config.logoutPage, location.origin).href;
        if (config.endSession) {
          const target = new URL(config.endSession);
          target.searchParams.set("client_id", config.clientId);
          // XSUAA's /logout.do takes "redirect"; OpenID's end-session "post_logout_redirect_uri".
          target.searchParams.set(target.pathname.endsWith("/logout.do") ? "redirect" : "post_logout_redirect_uri", back);
          location.assign(target.href);
        } else {
          location.assign(back);
        }
        return;
      }
      result.textContent = "Logout answered HTTP " + res.status + (token ? "" : " (no CSRF token)");
    } catch (err) { result.textContent = "Logout failed: " + err; }
  });
</script>
</body>
</html>
`;
}

/**
 * The logout page (public): where the router's logout, via the provider's, ends.
 * @param {import("node:http").IncomingMessage} req
 * @param {string} nonce
 * @param {string} started
 */
function loggedOut(req, nonce, started) {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Logged out - approuter-edge demo backend</title>
<style nonce="${nonce}">${STYLE}
</style>
</head>
<body>
<h1>approuter-edge demo backend</h1>
${routerStatus(shownHeaders(req))}
<h2 id="logged-out">You have been logged out</h2>
<p>The router ended your session (in memory and, with <code>--redis</code>, in Redis) and the identity
provider ended its own, so the next visit asks for the password again.</p>
<p><a id="login-again" href="/">Log in again</a></p>
${footer(started)}
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
