#!/usr/bin/env node
// A simulator of SAP Cloud Identity Services (IAS) on loopback, following
// /work/shared/notes/xsuaa-ias-facts.md: discovery at the tenant URL, /oauth2/* endpoints,
// client secret in the body and/or Basic, app_tid, PKCE, tokens with app_tid/zone_uuid/sid,
// id_token with nonce, /oauth2/logout?post_logout_redirect_uri=, and a back-channel logout
// sender. README.md next to this file documents the API.
import { randomBytes, randomUUID } from "node:crypto";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { cookieOf, hostFetch, readForm, redirect, sendHtml, sendJson, startHttp } from "./http.mjs";
import { createKeyRing } from "./keys.mjs";
import { clientAuthOf, loginPage, messagePage, nowSeconds, pkceMatches, randomToken, redirectUriMatches, requestLog, safeEqual, singleUseStore } from "./oauth.mjs";

export const BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout";
export const DEFAULT_IAS_USERS = [
  { username: "demo", password: "demo", email: "demo@example.test", givenName: "Demo", familyName: "User", groups: [] },
  { username: "admin", password: "admin", email: "admin@example.test", givenName: "Ada", familyName: "Admin", groups: ["admins"] },
];
const SESSION_COOKIE = "IAS_SIM_SESSION";

/**
 * @param {import("./sim-types").IasSimOptions} [options]
 * @returns {Promise<import("./sim-types").IasSim>}
 */
export async function startIasSim(options = {}) {
  const host = options.host ?? "127.0.0.2";
  const clientId = options.clientId ?? randomUUID();
  const clientSecret = options.clientSecret ?? randomBytes(24).toString("base64url");
  const appTid = options.appTid ?? randomUUID();
  const redirectUris = options.redirectUris ?? [];
  const logoutRedirectUris = options.postLogoutRedirectUris ?? redirectUris;
  const settings = { accessTokenTtl: options.accessTokenTtl ?? 3600, rotateRefreshTokens: options.rotateRefreshTokens ?? true, /** @type {number | null} */ tokenFailureStatus: null };
  const initialSettings = { ...settings };
  const users = (options.users ?? DEFAULT_IAS_USERS).map((u) => ({
    username: u.username,
    password: u.password,
    userUuid: u.userUuid ?? randomUUID(),
    scimId: u.scimId ?? randomUUID(),
    email: u.email ?? `${u.username}@example.test`,
    givenName: u.givenName ?? u.username,
    familyName: u.familyName ?? "User",
    groups: u.groups ?? [],
  }));
  const keys = await createKeyRing("ias-key-");
  const log = requestLog();
  const pending = singleUseStore(600);
  const codes = singleUseStore(300);
  /** @type {Map<string, { clientId: string, username: string, sid: string, scopes: string[], authTime: number }>} */
  const refreshTokens = new Map();
  /** sid -> login session @type {Map<string, { username: string, authTime: number }>} */
  const sessions = new Map();

  const server = await startHttp({ host, port: options.port ?? 0, handler: (req, res) => handle(req, res) });
  const localOrigin = `http://${host}:${server.port}`;
  const url = options.url ?? localOrigin;
  const issuer = options.customIssuer ?? url;
  // IAS lists the tenant's parent domain (`accounts.ondemand.com`); a loopback IP is its own.
  const urlHost = new URL(url).hostname;
  const domains = options.domains ?? [/^[\d.]+$|^\[/.test(urlHost) || urlHost.split(".").length < 3 ? urlHost : urlHost.slice(urlHost.indexOf(".") + 1)];
  const userNamed = (/** @type {string} */ name) => users.find((u) => u.username === name);

  /** @param {(typeof users)[number]} u @param {string} sid */
  const userClaims = (u, sid) => ({
    sub: u.userUuid,
    user_uuid: u.userUuid,
    scim_id: u.scimId,
    email: u.email,
    given_name: u.givenName,
    family_name: u.familyName,
    ...(u.groups.length ? { groups: u.groups } : {}),
    sid,
  });
  const common = () => {
    const iat = nowSeconds();
    return {
      iss: issuer,
      ...(options.customIssuer ? { ias_iss: url } : {}),
      aud: [clientId],
      azp: clientId,
      app_tid: appTid,
      zone_uuid: appTid,
      iat,
      exp: iat + settings.accessTokenTtl,
      jti: randomUUID(),
    };
  };

  /** @param {{ user: (typeof users)[number], sid: string, scopes: string[], authTime: number, nonce?: string, refreshToken?: string }} g */
  async function tokenResponse(g) {
    const access = { ...common(), ...userClaims(g.user, g.sid), scope: g.scopes };
    /** @type {Record<string, unknown>} */
    const body = { access_token: await keys.sign(access, { typ: "JWT" }), token_type: "Bearer", expires_in: settings.accessTokenTtl, scope: g.scopes.join(" ") };
    if (g.scopes.includes("openid")) {
      const idClaims = { ...common(), ...userClaims(g.user, g.sid), auth_time: g.authTime, amr: ["pwd"], ...(g.nonce ? { nonce: g.nonce } : {}) };
      body.id_token = await keys.sign(idClaims, { typ: "JWT" });
    }
    if (g.refreshToken) body.refresh_token = g.refreshToken;
    return body;
  }
  const newRefreshToken = (/** @type {string} */ username, /** @type {string} */ sid, /** @type {string[]} */ scopes, /** @type {number} */ authTime) => {
    const token = randomToken(32);
    refreshTokens.set(token, { clientId, username, sid, scopes, authTime });
    return token;
  };

  /** @param {import("node:http").IncomingMessage} req @param {import("node:http").ServerResponse} res */
  async function handle(req, res) {
    const u = new URL(req.url ?? "/", "http://sim");
    const entry = log.add(req, u);
    res.on("finish", () => (entry.status = res.statusCode));
    const route = `${req.method} ${u.pathname}`;
    if (route === "GET /.well-known/openid-configuration") return sendJson(res, 200, discovery());
    if (route === "GET /oauth2/authorize") return authorize(req, res, u);
    if (route === "POST /oauth2/login") return login(req, res);
    if (route === "POST /oauth2/token") return token(req, res, entry);
    if (route === "GET /oauth2/userinfo") return userinfo(req, res);
    if (route === "GET /oauth2/certs") return sendJson(res, 200, keys.jwks());
    if (route === "GET /oauth2/logout") return logout(req, res, u, entry);
    if (route === "GET /logged_out") return sendHtml(res, 200, messagePage("Logged out", "You have been logged out of the IAS simulator."));
    return sendJson(res, 404, { error: "not_found", error_description: `no endpoint ${route}` });
  }

  function discovery() {
    return {
      issuer,
      authorization_endpoint: `${url}/oauth2/authorize`,
      token_endpoint: `${url}/oauth2/token`,
      userinfo_endpoint: `${url}/oauth2/userinfo`,
      end_session_endpoint: `${url}/oauth2/logout`,
      jwks_uri: `${url}/oauth2/certs`,
      response_types_supported: ["code"],
      grant_types_supported: ["authorization_code", "refresh_token", "password"],
      subject_types_supported: ["public"],
      id_token_signing_alg_values_supported: ["RS256"],
      token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
      code_challenge_methods_supported: ["S256"],
      scopes_supported: ["openid", "email", "profile", "groups"],
      backchannel_logout_supported: true,
      backchannel_logout_session_supported: true,
    };
  }

  /** @param {import("node:http").IncomingMessage} req @param {import("node:http").ServerResponse} res @param {URL} u */
  function authorize(req, res, u) {
    const q = u.searchParams;
    if (q.get("client_id") !== clientId) return sendHtml(res, 400, messagePage("Invalid request", "Unknown client_id."));
    const redirectUri = q.get("redirect_uri") ?? "";
    if (!redirectUri || !redirectUris.some((p) => redirectUriMatches(p, redirectUri))) {
      return sendHtml(res, 400, messagePage("Invalid request", "The redirect_uri is not registered for this application."));
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
    const scopes = (q.get("scope") ?? "").split(" ").filter(Boolean);
    const request = { redirectUri, state: q.get("state") ?? undefined, challenge, nonce: q.get("nonce") ?? undefined, scopes, appTid: q.get("app_tid") ?? undefined };
    const sid = cookieOf(req, SESSION_COOKIE) ?? "";
    const session = sessions.get(sid);
    if (session) return issueCode(res, request, session.username, sid, session.authTime);
    return sendHtml(res, 200, loginPage({ title: "IAS simulator", action: "/oauth2/login", hidden: { authz: pending.put(request) } }));
  }

  /**
   * @param {import("node:http").ServerResponse} res
   * @param {{ redirectUri: string, state?: string, challenge?: string, nonce?: string, scopes: string[] }} request
   * @param {string} username @param {string} sid @param {number} authTime @param {Record<string, string>} [headers]
   */
  function issueCode(res, request, username, sid, authTime, headers = {}) {
    const code = codes.put({ ...request, username, sid, authTime });
    const target = new URL(request.redirectUri);
    target.searchParams.set("code", code);
    if (request.state !== undefined) target.searchParams.set("state", request.state);
    return redirect(res, target.href, headers);
  }

  /** @param {import("node:http").IncomingMessage} req @param {import("node:http").ServerResponse} res */
  async function login(req, res) {
    const form = await readForm(req);
    const request = pending.take(form.get("authz") ?? "");
    if (!request) return sendHtml(res, 400, messagePage("Login expired", "Start again from the application."));
    const user = userNamed(form.get("username") ?? "");
    if (!user || !safeEqual(user.password, form.get("password") ?? "")) {
      return sendHtml(res, 200, loginPage({ title: "IAS simulator", action: "/oauth2/login", hidden: { authz: pending.put(request) }, error: "Sorry, we could not authenticate you." }));
    }
    const sid = randomUUID();
    const authTime = nowSeconds();
    sessions.set(sid, { username: user.username, authTime });
    return issueCode(res, request, user.username, sid, authTime, { "set-cookie": `${SESSION_COOKIE}=${sid}; Path=/; HttpOnly; SameSite=Lax` });
  }

  /** @param {import("node:http").IncomingMessage} req @param {import("node:http").ServerResponse} res @param {Record<string, any>} entry */
  async function token(req, res, entry) {
    const form = await readForm(req);
    const auth = clientAuthOf(req.headers, form);
    Object.assign(entry, { form: [...new Set(form.keys())], grantType: form.get("grant_type") ?? undefined, clientAuthMethod: auth.method, appTid: form.get("app_tid") ?? undefined });
    if (settings.tokenFailureStatus) return sendJson(res, settings.tokenFailureStatus, { error: "server_error", error_description: "simulated outage" });
    if (!auth.ok || auth.clientId !== clientId || auth.secrets.length === 0 || !auth.secrets.every((s) => safeEqual(s, clientSecret))) {
      return sendJson(res, 401, { error: "invalid_client", error_description: "client authentication failed" });
    }
    entry.clientId = auth.clientId;
    const appTidParam = form.get("app_tid");
    if (appTidParam && appTidParam !== appTid) return sendJson(res, 400, { error: "invalid_request", error_description: "unknown app_tid" });
    const invalidGrant = (/** @type {string} */ d) => sendJson(res, 400, { error: "invalid_grant", error_description: d });
    const grantType = form.get("grant_type");
    if (grantType === "authorization_code") {
      const c = codes.take(form.get("code") ?? "");
      if (!c) return invalidGrant("invalid authorization code");
      if (form.get("redirect_uri") !== c.redirectUri) return invalidGrant("redirect_uri mismatch");
      if (c.challenge && !pkceMatches(c.challenge, form.get("code_verifier") ?? "")) return invalidGrant("invalid code_verifier");
      const user = /** @type {(typeof users)[number]} */ (userNamed(c.username));
      const refreshToken = newRefreshToken(user.username, c.sid, c.scopes, c.authTime);
      return sendJson(res, 200, await tokenResponse({ user, sid: c.sid, scopes: c.scopes, authTime: c.authTime, nonce: c.nonce, refreshToken }));
    }
    if (grantType === "refresh_token") {
      const presented = form.get("refresh_token") ?? "";
      const r = refreshTokens.get(presented);
      const user = r && userNamed(r.username);
      if (!r || !user || r.clientId !== auth.clientId) return invalidGrant("invalid refresh token");
      let refreshToken = presented;
      if (settings.rotateRefreshTokens) {
        refreshTokens.delete(presented);
        refreshToken = newRefreshToken(user.username, r.sid, r.scopes, r.authTime);
      }
      return sendJson(res, 200, await tokenResponse({ user, sid: r.sid, scopes: r.scopes, authTime: r.authTime, refreshToken }));
    }
    if (grantType === "password") {
      const user = userNamed(form.get("username") ?? "");
      if (!user || !safeEqual(user.password, form.get("password") ?? "")) return invalidGrant("invalid user credentials");
      const scopes = (form.get("scope") ?? "openid").split(" ").filter(Boolean);
      const sid = randomUUID();
      const authTime = nowSeconds();
      return sendJson(res, 200, await tokenResponse({ user, sid, scopes, authTime, refreshToken: newRefreshToken(user.username, sid, scopes, authTime) }));
    }
    return sendJson(res, 400, { error: "unsupported_grant_type", error_description: `unsupported grant type: ${grantType ?? "(none)"}` });
  }

  /** @param {import("node:http").IncomingMessage} req @param {import("node:http").ServerResponse} res */
  async function userinfo(req, res) {
    const auth = String(req.headers.authorization ?? "");
    const claims = /^bearer /i.test(auth) ? await keys.verify(auth.slice(7).trim()) : undefined;
    const user = claims && users.find((u) => u.userUuid === claims.sub);
    if (!claims || !user) return sendJson(res, 401, { error: "invalid_token", error_description: "invalid or expired token" });
    const { sid: _sid, ...info } = userClaims(user, "");
    return sendJson(res, 200, info);
  }

  /** @param {import("node:http").IncomingMessage} req @param {import("node:http").ServerResponse} res @param {URL} u @param {Record<string, any>} entry */
  async function logout(req, res, u, entry) {
    const q = u.searchParams;
    const hint = q.get("id_token_hint");
    entry.idTokenHintValid = hint ? (await keys.verify(hint)) !== undefined : undefined;
    sessions.delete(cookieOf(req, SESSION_COOKIE) ?? "");
    const target = q.get("post_logout_redirect_uri");
    const allowed = target && (q.get("client_id") === clientId || entry.idTokenHintValid) && logoutRedirectUris.some((p) => redirectUriMatches(p, target));
    return redirect(res, allowed ? target : `${url}/logged_out`, { "set-cookie": `${SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax` });
  }

  /** @param {import("./sim-types").IasBindingOptions} [o] */
  function binding(o = {}) {
    return {
      label: "identity",
      name: o.name ?? "ias",
      instance_name: o.name ?? "ias",
      tags: ["ias"],
      plan: "application",
      credentials: {
        url,
        clientid: clientId,
        clientsecret: clientSecret,
        domains: o.domainsAsString ? JSON.stringify(domains) : [...domains],
        app_tid: appTid,
        zone_uuid: appTid,
        "credential-type": "binding-secret",
      },
    };
  }
  const fetchVia = hostFetch(localOrigin);
  const servesHost = (/** @type {string} */ h) => h.toLowerCase() === new URL(url).host || h === new URL(localOrigin).host;

  return {
    url,
    issuer,
    localOrigin,
    clientId,
    clientSecret,
    appTid,
    domains: [...domains],
    users: users.map((u) => ({ username: u.username, password: u.password, userUuid: u.userUuid, email: u.email })),
    binding,
    vcapServices: (o) => JSON.stringify({ identity: [binding(o)] }),
    fetch: fetchVia,
    servesHost,
    outbound: async (request) => (servesHost(new URL(request.url).host) ? fetchVia(request) : fetch(request)),
    jwks: () => keys.jwks(),
    get kid() {
      return keys.kid;
    },
    rotateSigningKey: (o) => keys.rotate(o),
    sessionIds: () => [...sessions.keys()],
    async signLogoutToken(o) {
      const iat = nowSeconds();
      return keys.sign({ iss: issuer, aud: o.aud ?? clientId, iat, exp: iat + 120, jti: randomUUID(), ...(o.sid ? { sid: o.sid } : {}), ...(o.sub ? { sub: o.sub } : {}), events: { [BACKCHANNEL_LOGOUT_EVENT]: {} } }, { typ: "logout+jwt" });
    },
    async sendBackchannelLogout(o) {
      const logoutToken = await this.signLogoutToken(o);
      const res = await (o.fetch ?? fetch)(o.endpoint, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ logout_token: logoutToken }).toString(),
        redirect: "manual",
      });
      await res.body?.cancel();
      return res.status;
    },
    requests: () => log.all(),
    tokenRequests: () => log.all().filter((e) => e.path === "/oauth2/token"),
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

const USAGE = `Usage: node scripts/sim/ias.mjs --redirect-uri URL [options]
Starts the IAS simulator on loopback and prints the VCAP_SERVICES to bind the router to it.
  --redirect-uri P    allowed redirect URI pattern (* and ** wildcards), repeatable
  --host H            bind address (default 127.0.0.2)
  --port N            port (default: a free one)
  --client-id ID      default: a random UUID
  --client-secret S   default: random
  --ttl SECONDS       access token lifetime (default 3600)`;

async function main() {
  const { values } = parseArgs({
    options: {
      "redirect-uri": { type: "string", multiple: true },
      host: { type: "string" },
      port: { type: "string" },
      "client-id": { type: "string" },
      "client-secret": { type: "string" },
      ttl: { type: "string" },
      help: { type: "boolean" },
    },
  });
  if (values.help || !values["redirect-uri"]?.length) {
    console.log(USAGE);
    process.exit(values.help ? 0 : 2);
  }
  const sim = await startIasSim({
    redirectUris: values["redirect-uri"],
    ...(values.host ? { host: values.host } : {}),
    ...(values.port ? { port: Number(values.port) } : {}),
    ...(values["client-id"] ? { clientId: values["client-id"] } : {}),
    ...(values["client-secret"] ? { clientSecret: values["client-secret"] } : {}),
    ...(values.ttl ? { accessTokenTtl: Number(values.ttl) } : {}),
  });
  console.log(`IAS simulator: ${sim.url}; users: ${sim.users.map((u) => u.username).join(", ")}`);
  console.log(`VCAP_SERVICES=${sim.vcapServices()}`);
  const stop = () => sim.stop().then(() => process.exit(0));
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e) => {
    console.error(`ias simulator: ${e instanceof Error ? e.message : e}`);
    process.exit(1);
  });
}
