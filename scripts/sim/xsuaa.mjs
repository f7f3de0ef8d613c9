#!/usr/bin/env node
// A simulator of SAP XSUAA (a Cloud Foundry UAA as XSUAA runs it) on loopback, following
// /work/shared/notes/xsuaa-ias-facts.md: hardcoded UAA paths, discovery issuer
// `<url>/oauth/token`, tokens with jku/kid/zid/ext_attr/scope array, scopes granted only
// when no `scope` is requested, client_secret_post and _basic, rotating refresh tokens,
// /token_keys?zid=, /logout.do?redirect=&client_id=. Identity zones are picked by the Host
// header (`<subdomain>.<uaadomain>`). README.md next to this file documents the API.
import { randomBytes, randomUUID } from "node:crypto";
import { COMMON_USAGE, isMain, runCli } from "./cli.mjs";
import { sendHtml, sendJson, startHttp } from "./http.mjs";
import { messagePage } from "./oauth.mjs";
import { createProvider, opaqueToken } from "./provider.mjs";
import { selfSignedCertificate } from "./x509.mjs";
import { accessTokenClaims, idTokenClaims } from "./xsuaa-tokens.mjs";

/** Users every XSUAA simulator knows unless told otherwise; `$XSAPPNAME` is replaced. */
export const DEFAULT_XSUAA_USERS = [
  {
    username: "demo",
    password: "demo",
    scopes: ["$XSAPPNAME.Display", "$XSAPPNAME.Edit"],
    email: "demo@example.test",
    givenName: "Demo",
    familyName: "User",
  },
  {
    username: "admin",
    password: "admin",
    scopes: ["$XSAPPNAME.Display", "$XSAPPNAME.Edit", "$XSAPPNAME.Admin"],
    email: "admin@example.test",
    givenName: "Ada",
    familyName: "Admin",
  },
];
/** UAA's default groups: every user has them. */
const DEFAULT_USER_SCOPES = ["openid", "uaa.user"];

const isLoopbackName = (/** @type {string} */ h) =>
  h === "localhost" || h.endsWith(".localhost") || /^127(\.\d{1,3}){3}$/.test(h) || h === "[::1]";
const isIpLiteral = (/** @type {string} */ h) => /^\d{1,3}(\.\d{1,3}){3}$/.test(h) || h.startsWith("[");
const hostnameOf = (/** @type {string} */ hostPort) => hostPort.toLowerCase().replace(/:\d+$/, "");

/**
 * @typedef {import("./xsuaa-tokens.mjs").Zone} Zone
 * @typedef {import("./xsuaa-tokens.mjs").SimUser & { password: string, scopes: string[] }} User
 */

/**
 * @param {import("./sim-types").XsuaaSimOptions} [options]
 * @returns {Promise<import("./sim-types").XsuaaSim>}
 */
export async function startXsuaaSim(options = {}) {
  // Browsers resolve *.localhost to 127.0.0.1: a localhost domain has to be served there.
  const localhostDomain =
    options.uaadomain !== undefined && /^(.+\.)?localhost(:\d+)?$/i.test(options.uaadomain);
  const host = options.host ?? (localhostDomain ? "127.0.0.1" : "127.0.0.2");
  if (localhostDomain && host !== "127.0.0.1")
    throw new Error(
      `uaadomain ${options.uaadomain} resolves to 127.0.0.1, so the simulator must listen there (host ${host})`,
    );
  const xsappname = options.xsappname ?? "approuter-edge!t123";
  const clientId = options.clientId ?? `sb-${xsappname}`;
  const clientSecret = options.clientSecret ?? randomBytes(24).toString("base64url");
  const expand = (/** @type {string} */ s) => s.replaceAll("$XSAPPNAME", xsappname);
  const clientScopes = (
    options.clientScopes ?? [
      "openid",
      "uaa.user",
      "$XSAPPNAME.Display",
      "$XSAPPNAME.Edit",
      "$XSAPPNAME.Admin",
    ]
  ).map(expand);
  const clientAuthorities = (options.clientAuthorities ?? ["uaa.resource"]).map(expand);
  const logoutRedirectUris = options.logoutRedirectUris ?? options.redirectUris ?? [];
  /** @type {User[]} */
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
  /** Scopes UAA grants: the user's that the client has; with a `scope` request, only those asked for. */
  const grantedScopes = (/** @type {User} */ user, /** @type {string[] | undefined} */ requested) =>
    user.scopes.filter((s) => clientScopes.includes(s) && (!requested || requested.includes(s)));
  const p = await createProvider({
    kidPrefix: "default-jwt-key-",
    clientId,
    clientSecret,
    redirectUris: options.redirectUris ?? [],
    users,
    sessionCookie: "X-Uaa-Sim-Session",
    loginAction: "/login.do",
    tokenPath: "/oauth/token",
    jwksWithPem: true,
    badClient: { error: "unauthorized", error_description: "Bad credentials" },
    newRefreshTokenValue: opaqueToken("-r"),
    ...(options.signingKey ? { signingKey: options.signingKey } : {}),
    ...(options.loginNote ? { loginNote: options.loginNote } : {}),
    scopesFor: (request, user) => grantedScopes(user, request.requested),
    settings: {
      accessTokenTtl: options.accessTokenTtl ?? 1800,
      rotateRefreshTokens: options.rotateRefreshTokens ?? true,
      refreshReturnsRefreshToken: options.refreshReturnsRefreshToken ?? true,
    },
  });

  const server = await startHttp({ host, port: options.port ?? 0, handler: (req, res) => handle(req, res) });
  let uaadomain = (options.uaadomain ?? `${host}:${server.port}`).toLowerCase();
  // *.localhost names resolve to loopback in browsers: give them the bound port.
  if (isLoopbackName(hostnameOf(uaadomain)) && !/:\d+$/.test(uaadomain))
    uaadomain = `${uaadomain}:${server.port}`;
  const scheme = isLoopbackName(hostnameOf(uaadomain)) ? "http" : "https";
  const ipDomain = isIpLiteral(hostnameOf(uaadomain));
  /** @type {Zone[]} */
  const zones = [options.subdomain ?? "provider", ...(options.tenants ?? [])].map((subdomain, i) => ({
    subdomain,
    zoneId: options.zoneIds?.[subdomain] ?? randomUUID(),
    subaccountId: randomUUID(),
    // A bare IP has no subdomains: there the provider zone is served on the IP itself.
    url: ipDomain ? (i === 0 ? `${scheme}://${uaadomain}` : "") : `${scheme}://${subdomain}.${uaadomain}`,
  }));
  const provider = /** @type {Zone} */ (zones[0]);

  // XSUAA's certificate hosts (certurl): `cert` after the domain's first label
  // (authentication.eu10… -> authentication.cert.eu10…); an IP has none.
  const certDomain = ipDomain
    ? undefined
    : uaadomain.includes(".")
      ? uaadomain.replace(".", ".cert.")
      : `cert.${uaadomain}`;

  /** The identity zone a Host header names, `<subdomain>.<uaadomain>` (the bare domain: the provider), and whether it is a certificate host. */
  const zoneOfHost = (/** @type {string} */ hostHeader) => {
    const h = hostnameOf(hostHeader);
    for (const [domain, mtls] of /** @type {const} */ ([
      [uaadomain, false],
      [certDomain, true],
    ])) {
      if (!domain) continue;
      const d = hostnameOf(domain);
      if (h === d && !mtls) return { zone: provider, mtls };
      const zone = h.endsWith(`.${d}`)
        ? zones.find((z) => z.url && z.subdomain === h.slice(0, -(d.length + 1)))
        : undefined;
      if (zone) return { zone, mtls };
    }
    return undefined;
  };
  const jku = (/** @type {Zone} */ zone) => `${zone.url}/token_keys`;

  /**
   * The token endpoint's answer for a grant.
   * @param {{ zone: Zone, grantType: string, scopes: string[], user?: User, authTime?: number, refreshToken?: string | null }} g
   */
  async function tokenResponse(g) {
    const grant = { ...g, clientId, ttl: p.settings.accessTokenTtl };
    const claims = accessTokenClaims(grant);
    /** @type {Record<string, unknown>} */
    const body = {
      access_token: await p.keys.sign(claims, { jku: jku(g.zone), typ: "JWT" }),
      token_type: "bearer",
    };
    if (g.user && g.scopes.includes("openid"))
      body.id_token = await p.keys.sign(idTokenClaims({ ...grant, user: g.user }), { typ: "JWT" });
    if (g.refreshToken) body.refresh_token = g.refreshToken;
    return { ...body, expires_in: p.settings.accessTokenTtl, scope: g.scopes.join(" "), jti: claims.jti };
  }

  /** @param {import("node:http").IncomingMessage} req @param {import("node:http").ServerResponse} res */
  async function handle(req, res) {
    const url = new URL(req.url ?? "/", "http://sim");
    const entry = p.log.add(req, url);
    res.on("finish", () => (entry.status = res.statusCode));
    const found = zoneOfHost(String(req.headers.host ?? ""));
    if (!found)
      return sendJson(res, 404, {
        error: "not_found",
        error_description: `no identity zone for host ${req.headers.host}`,
      });
    const zone = found.zone;
    entry.zone = zone.subdomain;
    const route = `${req.method} ${url.pathname}`;
    if (route === "GET /.well-known/openid-configuration") return sendJson(res, 200, discovery(zone));
    if (route === "GET /oauth/authorize") return authorize(req, res, url.searchParams, zone);
    if (route === "POST /login.do") return p.loginPost(req, res, zone.zoneId);
    if (route === "POST /oauth/token") return token(req, res, zone, entry, found.mtls);
    if (route === "GET /userinfo") return userinfo(req, res, zone);
    if (route === "GET /token_keys") return tokenKeys(res, url.searchParams.get("zid"));
    if (route === "GET /logout.do") return logoutDo(req, res, url.searchParams, zone);
    if (route === "GET /logged_out")
      return sendHtml(
        res,
        200,
        messagePage("Logged out", "You have been logged out of the XSUAA simulator."),
      );
    return sendJson(res, 404, { error: "not_found", error_description: `no endpoint ${route}` });
  }

  /** UAA's discovery document: its issuer is the token endpoint, not the base URL. @param {Zone} zone */
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
      claims_supported: [
        "sub",
        "user_name",
        "origin",
        "iss",
        "auth_time",
        "amr",
        "azp",
        "given_name",
        "family_name",
        "email",
        "zid",
        "cid",
      ],
    };
  }

  /** @param {import("node:http").IncomingMessage} req @param {import("node:http").ServerResponse} res @param {URLSearchParams} q @param {Zone} zone */
  function authorize(req, res, q, zone) {
    const front = p.authorizeFront(res, q);
    if (!front) return;
    const requested = q.has("scope") ? (q.get("scope") ?? "").split(" ").filter(Boolean) : undefined;
    const unknown = requested?.filter((s) => !clientScopes.includes(s)) ?? [];
    if (unknown.length) return front.fail("invalid_scope", `Invalid scope: ${unknown.join(" ")}`);
    return p.loginOrCode(
      req,
      res,
      { ...front.request, realm: zone.zoneId, requested },
      `XSUAA simulator: ${zone.subdomain}`,
    );
  }

  /** @param {import("node:http").IncomingMessage} req @param {import("node:http").ServerResponse} res @param {Zone} zone @param {Record<string, any>} entry @param {boolean} mtls */
  async function token(req, res, zone, entry, mtls) {
    const form = await p.tokenRequest(req, res, entry, { mtls });
    if (!form) return;
    const grantType = /** @type {string} */ (form.get("grant_type"));
    if (grantType === "authorization_code" || grantType === "refresh_token") {
      const r = p.redeemGrant(res, form, zone.zoneId);
      if (!r) return;
      const { user, scopes, authTime, refreshToken } = r;
      sendJson(res, 200, await tokenResponse({ zone, grantType, scopes, user, authTime, refreshToken }));
    } else if (grantType === "password") {
      const user = p.passwordUser(res, form);
      if (!user) return;
      const scopes = grantedScopes(
        user,
        form.has("scope") ? (form.get("scope") ?? "").split(" ").filter(Boolean) : undefined,
      );
      const authTime = Math.floor(Date.now() / 1000);
      const refreshToken = p.newRefreshToken({
        realm: zone.zoneId,
        clientId,
        username: user.username,
        sid: "",
        scopes,
        authTime,
      });
      sendJson(res, 200, await tokenResponse({ zone, grantType, scopes, user, authTime, refreshToken }));
    } else if (grantType === "client_credentials") {
      sendJson(res, 200, await tokenResponse({ zone, grantType, scopes: clientAuthorities }));
    } else {
      sendJson(res, 400, {
        error: "unsupported_grant_type",
        error_description: `Unsupported grant type: ${grantType ?? "(none)"}`,
      });
    }
  }

  /** @param {import("node:http").IncomingMessage} req @param {import("node:http").ServerResponse} res @param {Zone} zone */
  async function userinfo(req, res, zone) {
    const auth = String(req.headers.authorization ?? "");
    const claims = /^bearer /i.test(auth) ? await p.keys.verify(auth.slice(7).trim()) : undefined;
    if (!claims || claims.zid !== zone.zoneId)
      return sendJson(res, 401, { error: "invalid_token", error_description: "invalid or expired token" });
    if (!Array.isArray(claims.scope) || !claims.scope.includes("openid"))
      return sendJson(res, 403, { error: "insufficient_scope", error_description: "openid scope required" });
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

  /** Keys of every zone (one key ring for the simulator). @param {import("node:http").ServerResponse} res @param {string | null} zid */
  function tokenKeys(res, zid) {
    // Real UAA: an unknown zid is a 400 (xssec reads it as a wrong audience).
    if (zid !== null && !zones.some((z) => z.zoneId === zid))
      return sendJson(res, 400, { error: "invalid_request", error_description: `Invalid zid: ${zid}` });
    return sendJson(res, 200, p.keys.jwks({ pem: true }));
  }

  /** UAA redirects after logout only to the client's allowed URIs. @param {import("node:http").IncomingMessage} req @param {import("node:http").ServerResponse} res @param {URLSearchParams} q @param {Zone} zone */
  function logoutDo(req, res, q, zone) {
    const target = q.get("redirect");
    const allowed = q.get("client_id") === clientId && p.allowedRedirect(logoutRedirectUris, target);
    return p.endSessionAndRedirect(req, res, target, allowed, `${zone.url}/logged_out`);
  }

  /** @param {import("./sim-types").XsuaaBindingOptions} [o] */
  function binding(o = {}) {
    const z = zones.find((x) => x.subdomain === (o.subdomain ?? provider.subdomain)) ?? provider;
    return {
      label: /** @type {const} */ ("xsuaa"),
      name: o.name ?? "uaa",
      instance_name: o.name ?? "uaa",
      tags: ["xsuaa"],
      plan: /** @type {const} */ ("application"),
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
        "credential-type": /** @type {const} */ ("binding-secret"),
        ...(o.verificationKey ? { verificationkey: p.keys.pem } : {}),
      },
    };
  }

  /** @type {Promise<{ certificate: string, key: string }> | undefined} */
  let certificate;
  /** The X.509 variant: certificate, key and certurl instead of clientsecret. @param {import("./sim-types").XsuaaBindingOptions} [o] */
  async function x509Binding(o = {}) {
    if (!certDomain)
      throw new Error(
        "X.509 binding: the uaadomain is an IP address, which has no certificate host; give a uaadomain with names (e.g. localhost)",
      );
    const { credentials, ...rest } = binding(o);
    const { clientsecret: _secret, ...keep } = credentials;
    const pair = await (certificate ??= selfSignedCertificate(clientId));
    const certurl = `${scheme}://${credentials.identityzone}.${certDomain}`;
    return {
      ...rest,
      credentials: { ...keep, ...pair, certurl, "credential-type": /** @type {const} */ ("x509") },
    };
  }

  const sim = Object.assign(
    p.controls(server, `http://${host}:${server.port}`, (h) => zoneOfHost(h) !== undefined),
    {
      url: provider.url,
      uaadomain,
      xsappname,
      zones: zones.map((z) => ({ ...z })),
      zone(/** @type {string} */ subdomain) {
        const z = zones.find((x) => x.subdomain === subdomain);
        if (!z) throw new Error(`no zone ${subdomain} (known: ${zones.map((x) => x.subdomain).join(", ")})`);
        return { ...z };
      },
      users: users.map((u) => ({
        id: u.id,
        username: u.username,
        password: u.password,
        scopes: [...u.scopes],
        email: u.email,
      })),
      binding,
      x509Binding,
      /** What a restart needs to look the same to a router holding its tokens (npm run dev:redis keeps it). */
      async keptState() {
        return {
          port: server.port,
          signingKey: await p.keys.exportSigningKey(),
          zoneIds: Object.fromEntries(zones.map((z) => [z.subdomain, z.zoneId])),
        };
      },
      vcapServices: (/** @type {import("./sim-types").XsuaaBindingOptions} */ o) =>
        JSON.stringify({ xsuaa: [binding(o)] }),
      /** @param {{ username?: string, subdomain?: string, scopes?: string[], claims?: Record<string, unknown> }} [o] */
      async mintAccessToken(o = {}) {
        const user = o.username === undefined ? undefined : p.userNamed(o.username);
        if (o.username !== undefined && !user) throw new Error(`no user ${o.username}`);
        const zone = zones.find((z) => z.subdomain === o.subdomain) ?? provider;
        const scopes = o.scopes ?? (user ? grantedScopes(user, undefined) : clientAuthorities);
        const grant = {
          zone,
          clientId,
          scopes,
          grantType: user ? "authorization_code" : "client_credentials",
          ttl: p.settings.accessTokenTtl,
          ...(user ? { user } : {}),
        };
        return p.keys.sign({ ...accessTokenClaims(grant), ...o.claims }, { jku: jku(zone), typ: "JWT" });
      },
    },
  );
  return sim;
}

if (isMain(import.meta.url)) {
  await runCli({
    name: "XSUAA simulator",
    usage: `Usage: node scripts/sim/xsuaa.mjs --redirect-uri URL [options]
Starts the XSUAA simulator on loopback and prints the VCAP_SERVICES to bind the router to it.
${COMMON_USAGE} (default 1800)
  --uaadomain D       domain of the zone URLs (default: host:port; e.g. localhost -> http://provider.localhost:PORT)
  --xsappname X       default approuter-edge!t123
  --tenant SUB        another identity zone (subscriber tenant), repeatable
  --user U:P[:S,S]    a user with password and scopes ($XSAPPNAME allowed), repeatable (default demo:demo, admin:admin)`,
    options: {
      uaadomain: { type: "string" },
      xsappname: { type: "string" },
      tenant: { type: "string", multiple: true },
      user: { type: "string", multiple: true },
    },
    toOptions: (v) => ({
      ...(v.uaadomain ? { uaadomain: v.uaadomain } : {}),
      ...(v.xsappname ? { xsappname: v.xsappname } : {}),
      ...(v.tenant ? { tenants: v.tenant } : {}),
      ...(v.user ? { users: v.user.map(parseUserArg) } : {}),
    }),
    start: startXsuaaSim,
  });
}

/** `name:password:scope,scope` */
export function parseUserArg(/** @type {string} */ arg) {
  const [username = "", password = "", scopes = ""] = arg.split(":");
  if (!username || !password) throw new Error(`--user ${arg}: expected name:password[:scope,scope]`);
  return { username, password, scopes: scopes.split(",").filter(Boolean) };
}
