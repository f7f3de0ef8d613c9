// The demo backend's HTML (scripts/demo-backend.mjs): the page that shows what arrived through
// the router and who is logged in, with buttons for the CSRF token and logout, and the page the
// logout ends on. Pure templates: the backend passes in what it saw.

/** The router's default session cookie: it must never reach the backend. */
const ROUTER_COOKIE = "JSESSIONID";

/**
 * @typedef {{ kind: "none" }
 *   | { kind: "token", scheme: string, length: number, fingerprint: string,
 *       user?: Record<string, unknown>, problem?: string }} LoginInfo
 */

/**
 * The request as the page shows it: `headers` are the shown ones (the token redacted), in the
 * order of `names`.
 * @typedef {{ method: string, url: string, headers: Record<string, string>, names: string[] }} ShownRequest
 */

/** The provider the router logs users in with, as the page needs it. @typedef {{ clientId: string, logoutPage: string }} PageLogin */

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
 * @param {PageLogin | undefined} provider
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
 * The demo page.
 * @param {{ request: ShownRequest, nonce: string, provider: PageLogin | undefined, info: LoginInfo,
 *   endSession: string | undefined, started: string }} p
 *   endSession: the provider's end_session_endpoint; started: when the backend started (UTC time)
 */
export function demoPage({ request, nonce, provider, info, endSession, started }) {
  const headers = request.headers;
  const rows = request.names
    .map((name) => {
      const value = headers[name];
      return `<tr><th>${escapeHtml(name)}</th><td>${value === undefined ? '<span class="none">(not sent)</span>' : `<code>${escapeHtml(value)}</code>`}</td></tr>`;
    })
    .join("\n        ");
  const logoutPage = provider?.logoutPage ?? "/";
  // Read by the page's script; `<` escaped so nothing in it can end the script element.
  const config = JSON.stringify({
    login: provider !== undefined,
    logoutPage,
    ...(provider ? { clientId: provider.clientId } : {}),
    ...(endSession ? { endSession } : {}),
  }).replace(/</g, "\\u003c");

  return `${head("approuter-edge demo backend", nonce)}
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
  <tr><th>method</th><td><code>${escapeHtml(request.method)}</code></td></tr>
  <tr><th>path</th><td><code>${escapeHtml(request.url)}</code></td></tr>
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
 * @param {{ headers: Record<string, string>, nonce: string, started: string }} p
 */
export function loggedOutPage({ headers, nonce, started }) {
  return `${head("Logged out - approuter-edge demo backend", nonce)}
<body>
<h1>approuter-edge demo backend</h1>
${routerStatus(headers)}
<h2 id="logged-out">You have been logged out</h2>
<p>The router ended your session (in memory and, with <code>--redis</code>, in Redis) and the identity
provider ended its own, so the next visit asks for the password again.</p>
<p><a id="login-again" href="/">Log in again</a></p>
${footer(started)}
</body>
</html>
`;
}

/** The pages' common head. @param {string} title @param {string} nonce */
function head(title, nonce) {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<style nonce="${nonce}">${STYLE}
</style>
</head>`;
}
