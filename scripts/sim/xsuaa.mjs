#!/usr/bin/env node
// A simulator of SAP XSUAA (a Cloud Foundry UAA as XSUAA runs it) on loopback, following
// /work/shared/notes/xsuaa-ias-facts.md: hardcoded UAA paths, discovery issuer
// `<url>/oauth/token`, tokens with jku/kid/zid/ext_attr/scope array, scopes granted only
// when no `scope` is requested, client_secret_post and _basic, rotating refresh tokens,
// /token_keys?zid=, /logout.do?redirect=&client_id=. Identity zones are picked by the Host
// header (`<subdomain>.<uaadomain>`). README.md next to this file documents the API.
import { randomBytes, randomUUID } from "node:crypto";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { cookieOf, hostFetch, readForm, redirect, sendHtml, sendJson, startHttp } from "./http.mjs";
import { createKeyRing } from "./keys.mjs";
import { clientAuthOf, loginPage, messagePage, pkceMatches, randomToken, redirectUriMatches, requestLog, safeEqual, singleUseStore } from "./oauth.mjs";
import { accessTokenClaims, idTokenClaims } from "./xsuaa-tokens.mjs";

/** Users every XSUAA simulator knows unless told otherwise; `$XSAPPNAME` is replaced. */
export const DEFAULT_XSUAA_USERS = [
  { username: "demo", password: "demo", scopes: ["$XSAPPNAME.Display", "$XSAPPNAME.Edit"], email: "demo@example.test", givenName: "Demo", familyName: "User" },
  { username: "admin", password: "admin", scopes: ["$XSAPPNAME.Display", "$XSAPPNAME.Edit", "$XSAPPNAME.Admin"], email: "admin@example.test", givenName: "Ada", familyName: "Admin" },
];
/** UAA's default groups: every user has them. */
const DEFAULT_USER_SCOPES = ["openid", "uaa.user"];
const SESSION_COOKIE = "X-Uaa-Sim-Session";

const isLoopbackName = (/** @type {string} */ h) => h === "localhost" || h.endsWith(".localhost") || /^127(\.\d{1,3}){3}$/.test(h) || h === "[::1]";
const isIpLiteral = (/** @type {string} */ h) => /^\d{1,3}(\.\d{1,3}){3}$/.test(h) || h.startsWith("[");
const hostnameOf = (/** @type {string} */ hostPort) => hostPort.toLowerCase().replace(/:\d+$/, "");

/**
 * @param {import("./sim-types").XsuaaSimOptions} [options]
 * @returns {Promise<import("./sim-types").XsuaaSim>}
 */
export async function startXsuaaSim(options = {}) {
  const host = options.host ?? "127.0.0.2";
  const xsappname = options.xsappname ?? "approuter-edge!t123";
  const clientId = options.clientId ?? `sb-${xsappname}`;
  const clientSecret = options.clientSecret ?? randomBytes(24).toString("base64url");
  const expand = (/** @type {string} */ s) => s.replaceAll("$XSAPPNAME", xsappname);
  const clientScopes = (options.clientScopes ?? ["openid", "uaa.user", "$XSAPPNAME.Display", "$XSAPPNAME.Edit", "$XSAPPNAME.Admin"]).map(expand);
  const clientAuthorities = (options.clientAuthorities ?? ["uaa.resource"]).map(expand);
  const redirectUris = options.redirectUris ?? [];
  const logoutRedirectUris = options.logoutRedirectUris ?? redirectUris;
  const settings = {
    accessTokenTtl: options.accessTokenTtl ?? 1800,
    rotateRefreshTokens: options.rotateRefreshTokens ?? true,
    refreshReturnsRefreshToken: options.refreshReturnsRefreshToken ?? true,
    /** @type {number | null} */
    tokenFailureStatus: null,
  };
  const initialSettings = { ...settings };
  const users = (options.users ?? DEFAULT_XSUAA_USERS).map((u) => ({
    id: u.id ?? randomUUID(),
    username: u.username,
    password: u.password,
    origin: u.origin ?? "sap.default",
    email: u.email ?? `${u.username}@example.test`,
    givenName: u.givenName ?? u.username,
    familyName: u.familyName ?? "User",
    ...(u.userUuid ? { userUuid: u.userUuid } : {}),
    attributes: u.attributes ?? {},
    roleCollections: u.roleCollections ?? [],
    revSig: randomBytes(4).toString("hex"),
    scopes: [...new Set([...DEFAULT_USER_SCOPES, ...u.scopes.map(expand)])],
  }));
  const keys = await createKeyRing("default-jwt-key-");
  const log = requestLog();
  const pending = singleUseStore(600);
  const codes = singleUseStore(300);
  /** @type {Map<string, { zoneId: string, clientId: string, username: string, scopes: string[], authTime: number }>} */
  const refreshTokens = new Map();
  /** @type {Map<string, { zoneId: string, username: string, authTime: number }>} */
  const sessions = new Map();

  /** @type {Array<import("./xsuaa-tokens.mjs").Zone>} */
  const zones = [];
  let uaadomain = "";
  let scheme = "http";
  const server = await startHttp({ host, port: options.port ?? 0, handler: (req, res) => handle(req, res) });
  {
    let d = options.uaadomain ?? `${host}:${server.port}`;
    // *.localhost names resolve to loopback in browsers: give them the bound port.
    if (isLoopbackName(hostnameOf(d)) && !/:\d+$/.test(d)) d = `${d}:${server.port}`;
    uaadomain = d.toLowerCase();
    scheme = isLoopbackName(hostnameOf(uaadomain)) ? "http" : "https";
    const ip = isIpLiteral(hostnameOf(uaadomain));
    const subdomains = [options.subdomain ?? "provider", ...(options.tenants ?? [])];
    for (const [i, subdomain] of subdomains.entries()) {
      // A bare IP has no subdomains: there the provider zone is served on the IP itself.
      const url = ip ? (i === 0 ? `${scheme}://${uaadomain}` : "") : `${scheme}://${subdomain}.${uaadomain}`;
      zones.push({ subdomain, zoneId: randomUUID(), subaccountId: randomUUID(), url });
    }
  }
  const provider = zones[0];
  const localOrigin = `http://${host}:${server.port}`;

  /** The identity zone a Host header names: `<subdomain>.<uaadomain>`, or the provider on the bare domain. */
  const zoneOfHost = (/** @type {string} */ hostHeader) => {
    const h = hostnameOf(hostHeader);
    const d = hostnameOf(uaadomain);
    if (h === d) return provider;
    if (!h.endsWith(`.${d}`)) return undefined;
    const label = h.slice(0, -(d.length + 1));
    return zones.find((z) => z.subdomain === label);
  };
  const userNamed = (/** @type {string} */ name) => users.find((u) => u.username === name);
  /** Scopes UAA grants: the user's that the client has; with a `scope` request, only those asked for. */
  const grantedScopes = (/** @type {(typeof users)[number]} */ user, /** @type {string[] | undefined} */ requested) =>
    user.scopes.filter((s) => clientScopes.includes(s) && (!requested || requested.includes(s)));

  /**
   * The token endpoint's answer for a grant.
   * @param {{ zone: import("./xsuaa-tokens.mjs").Zone, grantType: string, scopes: string[], user?: (typeof users)[number], authTime?: number, refreshToken?: string | null }} g
   */
  async function tokenResponse(g) {
    const grant = { ...g, clientId, ttl: settings.accessTokenTtl };
    const claims = accessTokenClaims(grant);
    const header = { jku: `${g.zone.url || provider.url}/token_keys`, typ: "JWT" };
    /** @type {Record<string, unknown>} */
    const body = { access_token: await keys.sign(claims, header), token_type: "bearer" };
    if (g.user && g.scopes.includes("openid")) body.id_token = await keys.sign(idTokenClaims({ ...grant, user: g.user }), { typ: "JWT" });
    if (g.refreshToken) body.refresh_token = g.refreshToken;
    Object.assign(body, { expires_in: settings.accessTokenTtl, scope: g.scopes.join(" "), jti: claims.jti });
    return body;
  }
  const newRefreshToken = (/** @type {import("./xsuaa-tokens.mjs").Zone} */ zone, /** @type {string} */ username, /** @type {string[]} */ scopes, /** @type {number} */ authTime) => {
    const token = `${randomBytes(16).toString("hex")}-r`;
    refreshTokens.set(token, { zoneId: zone.zoneId, clientId, username, scopes, authTime });
    return token;
  };

  /** @param {import("node:http").IncomingMessage} req @param {import("node:http").ServerResponse} res */
  async function handle(req, res) {
    const url = new URL(req.url ?? "/", "http://sim");
    const entry = log.add(req, url);
    res.on("finish", () => (entry.status = res.statusCode));
    const zone = zoneOfHost(String(req.headers.host ?? ""));
    if (!zone || (!zone.url && zone !== provider)) {
      return sendJson(res, 404, { error: "not_found", error_description: `no identity zone for host ${req.headers.host}` });
    }
    entry.zone = zone.subdomain;
    const route = `${req.method} ${url.pathname}`;
    if (route === "GET /.well-known/openid-configuration") return sendJson(res, 200, discovery(zone));
    if (route === "GET /oauth/authorize") return authorize(req, res, url, zone);
    if (route === "POST /login.do") return loginDo(req, res, zone);
    if (route === "POST /oauth/token") return token(req, res, zone, entry);
    if (route === "GET /userinfo") return userinfo(req, res, zone);
    if (route === "GET /token_keys") return tokenKeys(res, url);
    if (route === "GET /logout.do") return logoutDo(req, res, url, zone);
    if (route === "GET /logged_out") return sendHtml(res, 200, messagePage("Logged out", "You have been logged out of the XSUAA simulator."));
    return sendJson(res, 404, { error: "not_found", error_description: `no endpoint ${route}` });
  }

  /** @param {import("./xsuaa-tokens.mjs").Zone} zone */
  function discovery(zone) {
    const base = zone.url;
    return {
      issuer: `${base}/oauth/token`,
      authorization_endpoint: `${base}/oauth/authorize`,
      token_endpoint: `${base}/oauth/token`,
      userinfo_endpoint: `${base}/userinfo`,
      jwks_uri: `${base}/token_keys`,
      end_session_endpoint: `${base}/logout.do`,
      response_types_supported: ["code"],
      grant_types_supported: ["authorization_code", "refresh_token", "client_credentials", "password"],
      subject_types_supported: ["public"],
      id_token_signing_alg_values_supported: ["RS256"],
      token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
      code_challenge_methods_supported: ["S256"],
      scopes_supported: clientScopes,
      claims_supported: ["sub", "user_name", "origin", "iss", "auth_time", "amr", "azp", "acr", "given_name", "family_name", "email", "zid", "cid"],
    };
  }

  /** An error the authorize endpoint must not redirect (unknown client or redirect URI). */
  const authorizeErrorPage = (/** @type {import("node:http").ServerResponse} */ res, /** @type {string} */ text) =>
    sendHtml(res, 400, messagePage("Invalid authorization request", text));

  /** @param {import("node:http").IncomingMessage} req @param {import("node:http").ServerResponse} res @param {URL} url @param {import("./xsuaa-tokens.mjs").Zone} zone */
  async function authorize(req, res, url, zone) {
    const q = url.searchParams;
    if (q.get("client_id") !== clientId) return authorizeErrorPage(res, "Unknown client_id.");
    const redirectUri = q.get("redirect_uri") ?? "";
    if (!redirectUri || !redirectUris.some((p) => redirectUriMatches(p, redirectUri))) {
      return authorizeErrorPage(res, "The redirect_uri is not registered for this client (xs-security.json oauth2-configuration.redirect-uris).");
    }
    const back = (/** @type {Record<string, string>} */ params) => {
      const target = new URL(redirectUri);
      for (const [k, v] of Object.entries(params)) target.searchParams.set(k, v);
      if (q.has("state")) target.searchParams.set("state", q.get("state") ?? "");
      return redirect(res, target.href);
    };
    if (q.get("response_type") !== "code") return back({ error: "unsupported_response_type", error_description: "only response_type=code" });
    const challenge = q.get("code_challenge") ?? undefined;
    if (challenge && q.get("code_challenge_method") !== "S256") return back({ error: "invalid_request", error_description: "code_challenge_method must be S256" });
    const requested = q.has("scope") ? (q.get("scope") ?? "").split(" ").filter(Boolean) : undefined;
    const unknown = requested?.filter((s) => !clientScopes.includes(s)) ?? [];
    if (unknown.length) return back({ error: "invalid_scope", error_description: `Invalid scope: ${unknown.join(" ")}` });
    const request = { zoneId: zone.zoneId, redirectUri, state: q.get("state") ?? undefined, challenge, requested };
    const session = sessions.get(cookieOf(req, SESSION_COOKIE) ?? "");
    const user = session?.zoneId === zone.zoneId ? userNamed(session.username) : undefined;
    if (session && user) return issueCode(res, request, user, session.authTime);
    return sendHtml(res, 200, loginPage({ title: `XSUAA simulator: ${zone.subdomain}`, action: "/login.do", hidden: { authz: pending.put(request) } }));
  }

  /**
   * @param {import("node:http").ServerResponse} res
   * @param {{ zoneId: string, redirectUri: string, state?: string, challenge?: string, requested?: string[] }} request
   * @param {(typeof users)[number]} user
   * @param {number} authTime
   * @param {Record<string, string | string[]>} [headers]
   */
  function issueCode(res, request, user, authTime, headers = {}) {
    const code = codes.put({ ...request, username: user.username, scopes: grantedScopes(user, request.requested), authTime });
    const target = new URL(request.redirectUri);
    target.searchParams.set("code", code);
    if (request.state !== undefined) target.searchParams.set("state", request.state);
    return redirect(res, target.href, headers);
  }

  /** @param {import("node:http").IncomingMessage} req @param {import("node:http").ServerResponse} res @param {import("./xsuaa-tokens.mjs").Zone} zone */
  async function loginDo(req, res, zone) {
    const form = await readForm(req);
    const request = pending.take(form.get("authz") ?? "");
    if (!request || request.zoneId !== zone.zoneId) return sendHtml(res, 400, messagePage("Login expired", "Start again from the application."));
    const user = userNamed(form.get("username") ?? "");
    if (!user || !safeEqual(user.password, form.get("password") ?? "")) {
      const again = { title: `XSUAA simulator: ${zone.subdomain}`, action: "/login.do", hidden: { authz: pending.put(request) }, error: "Unable to verify email or password. Please try again." };
      return sendHtml(res, 200, loginPage(again));
    }
    const sid = randomToken();
    const authTime = Math.floor(Date.now() / 1000);
    sessions.set(sid, { zoneId: zone.zoneId, username: user.username, authTime });
    return issueCode(res, request, user, authTime, { "set-cookie": `${SESSION_COOKIE}=${sid}; Path=/; HttpOnly; SameSite=Lax` });
  }

  /** @param {import("node:http").IncomingMessage} req @param {import("node:http").ServerResponse} res @param {import("./xsuaa-tokens.mjs").Zone} zone @param {Record<string, any>} entry */
  async function token(req, res, zone, entry) {
    const form = await readForm(req);
    const auth = clientAuthOf(req.headers, form);
    Object.assign(entry, { form: [...new Set(form.keys())], grantType: form.get("grant_type") ?? undefined, clientAuthMethod: auth.method });
    if (settings.tokenFailureStatus) return sendJson(res, settings.tokenFailureStatus, { error: "server_error", error_description: "simulated outage" });
    if (!auth.ok || auth.clientId !== clientId || auth.secrets.length === 0 || !auth.secrets.every((s) => safeEqual(s, clientSecret))) {
      return sendJson(res, 401, { error: "unauthorized", error_description: "Bad credentials" }, { "www-authenticate": 'Basic realm="UAA/client", error="unauthorized"' });
    }
    entry.clientId = auth.clientId;
    const invalidGrant = (/** @type {string} */ description) => sendJson(res, 400, { error: "invalid_grant", error_description: description });
    const grantType = form.get("grant_type");
    if (grantType === "authorization_code") {
      const c = codes.take(form.get("code") ?? "");
      if (!c || c.zoneId !== zone.zoneId) return invalidGrant("Invalid authorization code");
      if (form.get("redirect_uri") !== c.redirectUri) return invalidGrant("Redirect URI mismatch.");
      if (c.challenge && !pkceMatches(c.challenge, form.get("code_verifier") ?? "")) return invalidGrant("Invalid code verifier");
      const user = /** @type {(typeof users)[number]} */ (userNamed(c.username));
      const refreshToken = newRefreshToken(zone, user.username, c.scopes, c.authTime);
      return sendJson(res, 200, await tokenResponse({ zone, grantType, scopes: c.scopes, user, authTime: c.authTime, refreshToken }));
    }
    if (grantType === "refresh_token") {
      const presented = form.get("refresh_token") ?? "";
      const r = refreshTokens.get(presented);
      const user = r && userNamed(r.username);
      if (!r || !user || r.zoneId !== zone.zoneId || r.clientId !== auth.clientId) return invalidGrant("Invalid refresh token (expired or revoked)");
      let refreshToken = null;
      if (settings.refreshReturnsRefreshToken) {
        refreshToken = presented;
        if (settings.rotateRefreshTokens) {
          refreshTokens.delete(presented);
          refreshToken = newRefreshToken(zone, user.username, r.scopes, r.authTime);
        }
      }
      return sendJson(res, 200, await tokenResponse({ zone, grantType, scopes: r.scopes, user, authTime: r.authTime, refreshToken }));
    }
    if (grantType === "password") {
      const user = userNamed(form.get("username") ?? "");
      if (!user || !safeEqual(user.password, form.get("password") ?? "")) return sendJson(res, 401, { error: "unauthorized", error_description: "Bad credentials" });
      const requested = form.has("scope") ? (form.get("scope") ?? "").split(" ").filter(Boolean) : undefined;
      const scopes = grantedScopes(user, requested);
      const authTime = Math.floor(Date.now() / 1000);
      return sendJson(res, 200, await tokenResponse({ zone, grantType, scopes, user, authTime, refreshToken: newRefreshToken(zone, user.username, scopes, authTime) }));
    }
    if (grantType === "client_credentials") return sendJson(res, 200, await tokenResponse({ zone, grantType, scopes: clientAuthorities }));
    return sendJson(res, 400, { error: "unsupported_grant_type", error_description: `Unsupported grant type: ${grantType ?? "(none)"}` });
  }

  /** @param {import("node:http").IncomingMessage} req @param {import("node:http").ServerResponse} res @param {import("./xsuaa-tokens.mjs").Zone} zone */
  async function userinfo(req, res, zone) {
    const auth = String(req.headers.authorization ?? "");
    const claims = /^bearer /i.test(auth) ? await keys.verify(auth.slice(7).trim()) : undefined;
    if (!claims || claims.zid !== zone.zoneId) return sendJson(res, 401, { error: "invalid_token", error_description: "invalid or expired token" });
    if (!Array.isArray(claims.scope) || !claims.scope.includes("openid")) return sendJson(res, 403, { error: "insufficient_scope", error_description: "openid scope required" });
    const user = users.find((u) => u.id === claims.user_id);
    if (!user) return sendJson(res, 401, { error: "invalid_token", error_description: "not a user token" });
    return sendJson(res, 200, {
      user_id: user.id,
      sub: user.id,
      user_name: user.username,
      given_name: user.givenName,
      family_name: user.familyName,
      name: `${user.givenName} ${user.familyName}`,
      email: user.email,
      email_verified: true,
      origin: user.origin,
      zid: zone.zoneId,
      user_attributes: user.attributes,
    });
  }

  /** Keys of every zone (one key ring for the simulator). @param {import("node:http").ServerResponse} res @param {URL} url */
  function tokenKeys(res, url) {
    const zid = url.searchParams.get("zid");
    // Real UAA: an unknown zid is a 400 (xssec reads it as a wrong audience).
    if (zid !== null && !zones.some((z) => z.zoneId === zid)) return sendJson(res, 400, { error: "invalid_request", error_description: `Invalid zid: ${zid}` });
    return sendJson(res, 200, keys.jwks({ pem: true }));
  }

  /** @param {import("node:http").IncomingMessage} req @param {import("node:http").ServerResponse} res @param {URL} url @param {import("./xsuaa-tokens.mjs").Zone} zone */
  function logoutDo(req, res, url, zone) {
    sessions.delete(cookieOf(req, SESSION_COOKIE) ?? "");
    const target = url.searchParams.get("redirect");
    const allowed = target && url.searchParams.get("client_id") === clientId && logoutRedirectUris.some((p) => redirectUriMatches(p, target));
    const clear = { "set-cookie": `${SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax` };
    return redirect(res, allowed ? target : `${zone.url || provider.url}/logged_out`, clear);
  }

  const fetchVia = hostFetch(localOrigin);
  const servesHost = (/** @type {string} */ h) => zoneOfHost(h) !== undefined;

  /** @param {import("./sim-types").XsuaaBindingOptions} [o] */
  function binding(o = {}) {
    const z = zones.find((x) => x.subdomain === (o.subdomain ?? provider.subdomain)) ?? provider;
    return {
      label: "xsuaa",
      name: o.name ?? "uaa",
      instance_name: o.name ?? "uaa",
      tags: ["xsuaa"],
      plan: "application",
      credentials: {
        url: z.url,
        clientid: clientId,
        clientsecret: clientSecret,
        xsappname,
        uaadomain,
        identityzone: z.subdomain,
        identityzoneid: z.zoneId,
        tenantid: z.zoneId,
        subaccountid: z.subaccountId,
        tenantmode: o.tenantmode ?? "dedicated",
        sburl: `${scheme}://internal-xsuaa.${hostnameOf(uaadomain)}`,
        "credential-type": "binding-secret",
        ...(o.verificationKey ? { verificationkey: keys.pem } : {}),
      },
    };
  }

  return {
    get url() {
      return provider.url;
    },
    uaadomain,
    localOrigin,
    xsappname,
    clientId,
    clientSecret,
    zones: zones.map((z) => ({ ...z })),
    zone: (subdomain) => {
      const z = zones.find((x) => x.subdomain === subdomain);
      if (!z) throw new Error(`no zone ${subdomain} (known: ${zones.map((x) => x.subdomain).join(", ")})`);
      return { ...z };
    },
    users: users.map((u) => ({ id: u.id, username: u.username, password: u.password, scopes: [...u.scopes], email: u.email })),
    binding,
    vcapServices: (o) => JSON.stringify({ xsuaa: [binding(o)] }),
    fetch: fetchVia,
    servesHost,
    outbound: async (request) => (servesHost(new URL(request.url).host) ? fetchVia(request) : fetch(request)),
    jwks: () => keys.jwks({ pem: true }),
    get kid() {
      return keys.kid;
    },
    rotateSigningKey: (o) => keys.rotate(o),
    async mintAccessToken(o = {}) {
      const user = o.username === undefined ? undefined : userNamed(o.username);
      if (o.username !== undefined && !user) throw new Error(`no user ${o.username}`);
      const zone = o.subdomain ? zones.find((z) => z.subdomain === o.subdomain) ?? provider : provider;
      const scopes = o.scopes ?? (user ? grantedScopes(user, undefined) : clientAuthorities);
      const claims = { ...accessTokenClaims({ zone, clientId, scopes, grantType: user ? "authorization_code" : "client_credentials", ttl: settings.accessTokenTtl, user }), ...o.claims };
      return keys.sign(claims, { jku: `${zone.url || provider.url}/token_keys`, typ: "JWT" });
    },
    requests: () => log.all(),
    tokenRequests: () => log.all().filter((e) => e.path === "/oauth/token"),
    set: (o) => void Object.assign(settings, o),
    failTokenEndpoint: (status = 503) => void (settings.tokenFailureStatus = status),
    revokeRefreshTokens(username) {
      for (const [t, r] of refreshTokens) if (username === undefined || r.username === username) refreshTokens.delete(t);
    },
    endSessions: () => sessions.clear(),
    reset() {
      log.clear();
      Object.assign(settings, initialSettings);
    },
    start: () => server.start(),
    stop: () => server.close(),
    get running() {
      return server.running;
    },
  };
}

const USAGE = `Usage: node scripts/sim/xsuaa.mjs --redirect-uri URL [options]
Starts the XSUAA simulator on loopback and prints the VCAP_SERVICES to bind the router to it.
  --redirect-uri P    allowed redirect URI pattern (UAA wildcards * and **), repeatable
  --host H            bind address (default 127.0.0.2)
  --port N            port (default: a free one)
  --uaadomain D       domain of the zone URLs (default: host:port; e.g. localhost -> http://provider.localhost:PORT)
  --xsappname X       default approuter-edge!t123
  --client-secret S   default: random
  --tenant SUB        another identity zone (subscriber tenant), repeatable
  --user U:P[:S,S]    a user with password and scopes ($XSAPPNAME allowed), repeatable (default demo:demo, admin:admin)
  --ttl SECONDS       access token lifetime (default 1800)`;

async function main() {
  const { values } = parseArgs({
    options: {
      "redirect-uri": { type: "string", multiple: true },
      host: { type: "string" },
      port: { type: "string" },
      uaadomain: { type: "string" },
      xsappname: { type: "string" },
      "client-secret": { type: "string" },
      tenant: { type: "string", multiple: true },
      user: { type: "string", multiple: true },
      ttl: { type: "string" },
      help: { type: "boolean" },
    },
  });
  if (values.help || !values["redirect-uri"]?.length) {
    console.log(USAGE);
    process.exit(values.help ? 0 : 2);
  }
  const sim = await startXsuaaSim({
    redirectUris: values["redirect-uri"],
    ...(values.host ? { host: values.host } : {}),
    ...(values.port ? { port: Number(values.port) } : {}),
    ...(values.uaadomain ? { uaadomain: values.uaadomain } : {}),
    ...(values.xsappname ? { xsappname: values.xsappname } : {}),
    ...(values["client-secret"] ? { clientSecret: values["client-secret"] } : {}),
    ...(values.tenant ? { tenants: values.tenant } : {}),
    ...(values.ttl ? { accessTokenTtl: Number(values.ttl) } : {}),
    ...(values.user ? { users: values.user.map(parseUserArg) } : {}),
  });
  console.log(`XSUAA simulator: ${sim.url} (listening on ${sim.localOrigin}); users: ${sim.users.map((u) => u.username).join(", ")}`);
  console.log(`VCAP_SERVICES=${sim.vcapServices()}`);
  const stop = () => sim.stop().then(() => process.exit(0));
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

/** `name:password:scope,scope` */
export function parseUserArg(/** @type {string} */ arg) {
  const [username = "", password = "", scopes = ""] = arg.split(":");
  if (!username || !password) throw new Error(`--user ${arg}: expected name:password[:scope,scope]`);
  return { username, password, scopes: scopes.split(",").filter(Boolean) };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e) => {
    console.error(`xsuaa simulator: ${e instanceof Error ? e.message : e}`);
    process.exit(1);
  });
}
