#!/usr/bin/env node
// A simulator of SAP Cloud Identity Services (IAS) on loopback, following
// /work/shared/notes/xsuaa-ias-facts.md: discovery at the tenant URL, /oauth2/* endpoints,
// client secret in the body and/or Basic, app_tid, PKCE, tokens with app_tid/zone_uuid/sid,
// id_token with nonce, /oauth2/logout?post_logout_redirect_uri=, and a back-channel logout
// sender. README.md next to this file documents the API.
import { randomBytes, randomUUID } from "node:crypto";
import { COMMON_USAGE, isMain, runCli } from "./cli.mjs";
import { sendHtml, sendJson, startHttp } from "./http.mjs";
import { messagePage, nowSeconds } from "./oauth.mjs";
import { createProvider, opaqueToken } from "./provider.mjs";
import { selfSignedCertificate } from "./x509.mjs";

export const BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout";
export const DEFAULT_IAS_USERS = [
  { username: "demo", password: "demo", email: "demo@example.test", givenName: "Demo", familyName: "User" },
  {
    username: "admin",
    password: "admin",
    email: "admin@example.test",
    givenName: "Ada",
    familyName: "Admin",
    groups: ["admins"],
  },
];
/** The one realm of an IAS tenant (XSUAA has one per identity zone). */
const REALM = "ias";

/**
 * @param {import("./sim-types").IasSimOptions} [options]
 * @returns {Promise<import("./sim-types").IasSim>}
 */
export async function startIasSim(options = {}) {
  const host = options.host ?? "127.0.0.2";
  const clientId = options.clientId ?? randomUUID();
  const appTid = options.appTid ?? randomUUID();
  const logoutRedirectUris = options.postLogoutRedirectUris ?? options.redirectUris ?? [];
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
  const p = await createProvider({
    kidPrefix: "ias-key-",
    clientId,
    clientSecret: options.clientSecret ?? randomBytes(24).toString("base64url"),
    redirectUris: options.redirectUris ?? [],
    users,
    sessionCookie: "IAS_SIM_SESSION",
    loginAction: "/oauth2/login",
    tokenPath: "/oauth2/token",
    jwksWithPem: false,
    badClient: { error: "invalid_client", error_description: "client authentication failed" },
    newRefreshTokenValue: opaqueToken(),
    scopesFor: (request) => request.scopes,
    settings: {
      accessTokenTtl: options.accessTokenTtl ?? 3600,
      rotateRefreshTokens: options.rotateRefreshTokens ?? true,
      refreshReturnsRefreshToken: true,
    },
  });

  const server = await startHttp({ host, port: options.port ?? 0, handler: (req, res) => handle(req, res) });
  const localOrigin = `http://${host}:${server.port}`;
  const url = options.url ?? localOrigin;
  const issuer = options.customIssuer ?? url;
  // IAS lists the tenant's parent domain (`accounts.ondemand.com`); a loopback IP is its own.
  const urlHost = new URL(url).hostname;
  const domains = options.domains ?? [
    /^[\d.]+$|^\[/.test(urlHost) || urlHost.split(".").length < 3
      ? urlHost
      : urlHost.slice(urlHost.indexOf(".") + 1),
  ];

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
    const iss = { iss: issuer, ...(options.customIssuer ? { ias_iss: url } : {}) };
    return {
      ...iss,
      aud: [clientId],
      azp: clientId,
      app_tid: appTid,
      zone_uuid: appTid,
      iat,
      exp: iat + p.settings.accessTokenTtl,
      jti: randomUUID(),
    };
  };

  /** @param {{ user: (typeof users)[number], sid: string, scopes: string[], authTime: number, nonce?: string, refreshToken: string | null }} g */
  async function tokenResponse(g) {
    const access = { ...common(), ...userClaims(g.user, g.sid), scope: g.scopes };
    /** @type {Record<string, unknown>} */
    const body = {
      access_token: await p.keys.sign(access, { typ: "JWT" }),
      token_type: "Bearer",
      expires_in: p.settings.accessTokenTtl,
      scope: g.scopes.join(" "),
    };
    if (g.scopes.includes("openid")) {
      const id = {
        ...common(),
        ...userClaims(g.user, g.sid),
        auth_time: g.authTime,
        amr: ["pwd"],
        ...(g.nonce ? { nonce: g.nonce } : {}),
      };
      body.id_token = await p.keys.sign(id, { typ: "JWT" });
    }
    if (g.refreshToken) body.refresh_token = g.refreshToken;
    return body;
  }

  /** @param {import("node:http").IncomingMessage} req @param {import("node:http").ServerResponse} res */
  async function handle(req, res) {
    const u = new URL(req.url ?? "/", "http://sim");
    const entry = p.log.add(req, u);
    res.on("finish", () => (entry.status = res.statusCode));
    const route = `${req.method} ${u.pathname}`;
    if (route === "GET /.well-known/openid-configuration") return sendJson(res, 200, discovery());
    if (route === "GET /oauth2/authorize") return authorize(req, res, u.searchParams);
    if (route === "POST /oauth2/login") return p.loginPost(req, res, REALM);
    if (route === "POST /oauth2/token") return token(req, res, entry);
    if (route === "GET /oauth2/userinfo") return userinfo(req, res);
    if (route === "GET /oauth2/certs") return sendJson(res, 200, p.keys.jwks());
    if (route === "GET /oauth2/logout") return logout(req, res, u.searchParams, entry);
    if (route === "GET /logged_out")
      return sendHtml(res, 200, messagePage("Logged out", "You have been logged out of the IAS simulator."));
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

  /** @param {import("node:http").IncomingMessage} req @param {import("node:http").ServerResponse} res @param {URLSearchParams} q */
  function authorize(req, res, q) {
    const front = p.authorizeFront(res, q);
    if (!front) return;
    const scopes = (q.get("scope") ?? "").split(" ").filter(Boolean);
    return p.loginOrCode(
      req,
      res,
      { ...front.request, realm: REALM, scopes, nonce: q.get("nonce") ?? undefined },
      "IAS simulator",
    );
  }

  /** @param {import("node:http").IncomingMessage} req @param {import("node:http").ServerResponse} res @param {Record<string, any>} entry */
  async function token(req, res, entry) {
    const form = await p.tokenRequest(req, res, entry);
    if (!form) return;
    entry.appTid = form.get("app_tid") ?? undefined;
    if (entry.appTid && entry.appTid !== appTid)
      return sendJson(res, 400, { error: "invalid_request", error_description: "unknown app_tid" });
    const grantType = form.get("grant_type");
    if (grantType === "authorization_code" || grantType === "refresh_token") {
      const r = p.redeemGrant(res, form, REALM);
      if (r) sendJson(res, 200, await tokenResponse(r));
    } else if (grantType === "password") {
      const user = p.passwordUser(res, form);
      if (!user) return;
      const scopes = (form.get("scope") ?? "openid").split(" ").filter(Boolean);
      const sid = randomUUID();
      const authTime = nowSeconds();
      const refreshToken = p.newRefreshToken({
        realm: REALM,
        clientId,
        username: user.username,
        sid,
        scopes,
        authTime,
      });
      sendJson(res, 200, await tokenResponse({ user, sid, scopes, authTime, refreshToken }));
    } else {
      sendJson(res, 400, {
        error: "unsupported_grant_type",
        error_description: `unsupported grant type: ${grantType ?? "(none)"}`,
      });
    }
  }

  /** @param {import("node:http").IncomingMessage} req @param {import("node:http").ServerResponse} res */
  async function userinfo(req, res) {
    const auth = String(req.headers.authorization ?? "");
    const claims = /^bearer /i.test(auth) ? await p.keys.verify(auth.slice(7).trim()) : undefined;
    const user = claims && users.find((u) => u.userUuid === claims.sub);
    if (!user)
      return sendJson(res, 401, { error: "invalid_token", error_description: "invalid or expired token" });
    const { sid: _sid, ...info } = userClaims(user, "");
    return sendJson(res, 200, info);
  }

  /** @param {import("node:http").IncomingMessage} req @param {import("node:http").ServerResponse} res @param {URLSearchParams} q @param {Record<string, any>} entry */
  async function logout(req, res, q, entry) {
    const hint = q.get("id_token_hint");
    entry.idTokenHintValid = hint ? (await p.keys.verify(hint)) !== undefined : undefined;
    const target = q.get("post_logout_redirect_uri");
    const allowed =
      (q.get("client_id") === clientId || entry.idTokenHintValid === true) &&
      p.allowedRedirect(logoutRedirectUris, target);
    return p.endSessionAndRedirect(req, res, target, allowed, `${url}/logged_out`);
  }

  /** @param {import("./sim-types").IasBindingOptions} [o] */
  function binding(o = {}) {
    return {
      label: /** @type {const} */ ("identity"),
      name: o.name ?? "ias",
      instance_name: o.name ?? "ias",
      tags: ["ias"],
      plan: /** @type {const} */ ("application"),
      credentials: {
        url,
        clientid: clientId,
        clientsecret: sim.clientSecret,
        domains: o.domainsAsString ? JSON.stringify(domains) : [...domains],
        app_tid: appTid,
        zone_uuid: appTid,
        "credential-type": /** @type {const} */ ("binding-secret"),
      },
    };
  }

  /** @type {Promise<{ certificate: string, key: string }> | undefined} */
  let certificate;
  /**
   * The X.509 variant: certificate and key instead of clientsecret. The simulator's token
   * endpoint still wants the secret (plain http carries no client certificate).
   * @param {import("./sim-types").IasBindingOptions} [o]
   */
  async function x509Binding(o = {}) {
    const { credentials, ...rest } = binding(o);
    const { clientsecret: _secret, ...keep } = credentials;
    const pair = await (certificate ??= selfSignedCertificate(clientId));
    return {
      ...rest,
      credentials: { ...keep, ...pair, "credential-type": /** @type {const} */ ("X509_GENERATED") },
    };
  }

  /** @param {{ sid?: string, sub?: string, aud?: string | string[] }} o */
  const signLogoutToken = (o) => {
    const iat = nowSeconds();
    const claims = {
      iss: issuer,
      aud: o.aud ?? clientId,
      iat,
      exp: iat + 120,
      jti: randomUUID(),
      ...(o.sid ? { sid: o.sid } : {}),
      ...(o.sub ? { sub: o.sub } : {}),
    };
    return p.keys.sign({ ...claims, events: { [BACKCHANNEL_LOGOUT_EVENT]: {} } }, { typ: "logout+jwt" });
  };
  const servesHost = (/** @type {string} */ h) =>
    [new URL(url).host, new URL(localOrigin).host].includes(h.toLowerCase());
  const sim = Object.assign(p.controls(server, localOrigin, servesHost), {
    url,
    issuer,
    appTid,
    domains: [...domains],
    users: users.map((u) => ({
      username: u.username,
      password: u.password,
      userUuid: u.userUuid,
      email: u.email,
    })),
    binding,
    x509Binding,
    vcapServices: (/** @type {import("./sim-types").IasBindingOptions} */ o) =>
      JSON.stringify({ identity: [binding(o)] }),
    signLogoutToken,
    /** @param {{ endpoint: string, sid?: string, sub?: string, aud?: string | string[], fetch?: import("./sim-types").SimFetch }} o */
    async sendBackchannelLogout(o) {
      const res = await (o.fetch ?? fetch)(o.endpoint, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ logout_token: await signLogoutToken(o) }).toString(),
        redirect: "manual",
      });
      await res.body?.cancel();
      return res.status;
    },
  });
  return sim;
}

if (isMain(import.meta.url)) {
  await runCli({
    name: "IAS simulator",
    usage: `Usage: node scripts/sim/ias.mjs --redirect-uri URL [options]
Starts the IAS simulator on loopback and prints the VCAP_SERVICES to bind the router to it.
${COMMON_USAGE} (default 3600)
  --client-id ID      default: a random UUID`,
    options: { "client-id": { type: "string" } },
    toOptions: (v) => (v["client-id"] ? { clientId: v["client-id"] } : {}),
    start: startIasSim,
  });
}
