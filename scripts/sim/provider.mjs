// What both simulated providers share: signing keys, the request log, the authorize checks,
// the login form and its sessions (SSO), single-use codes, client authentication at the
// token endpoint, rotating refresh tokens, logout's session end, and the handle tests drive
// (outage, revocation, key rotation, stop/start). xsuaa.mjs and ias.mjs add their protocol.
import { randomBytes, randomUUID } from "node:crypto";
import { cookieOf, hostFetch, networkFetch, readForm, redirect, sendHtml, sendJson } from "./http.mjs";
import { createKeyRing } from "./keys.mjs";
import {
  clientAuthOf,
  loginPage,
  messagePage,
  nowSeconds,
  pkceMatches,
  redirectUriMatches,
  requestLog,
  safeEqual,
  singleUseStore,
} from "./oauth.mjs";

/**
 * @typedef {import("node:http").IncomingMessage} Req
 * @typedef {import("node:http").ServerResponse} Res
 * @typedef {{ username: string, password: string }} Credentials
 * @typedef {{ realm: string, redirectUri: string, state?: string, challenge?: string, [k: string]: any }} AuthzRequest
 * @typedef {{ realm: string, clientId: string, username: string, sid: string, scopes: string[], authTime: number }} RefreshEntry
 */

/**
 * @template {Credentials} U
 * @param {{
 *   kidPrefix: string, clientId: string, clientSecret: string, redirectUris: string[], users: U[],
 *   sessionCookie: string, loginAction: string, tokenPath: string, jwksWithPem: boolean,
 *   badClient: { error: string, error_description: string },
 *   newRefreshTokenValue: () => string,
 *   scopesFor: (request: AuthzRequest, user: U) => string[],
 *   settings: { accessTokenTtl: number, rotateRefreshTokens: boolean, refreshReturnsRefreshToken: boolean },
 *   signingKey?: { kid: string, privateJwk: import("jose").JWK }, loginNote?: string,
 * }} o
 */
export async function createProvider(o) {
  const keys = await createKeyRing(o.kidPrefix, o.signingKey);
  const log = requestLog();
  const pending = singleUseStore(600);
  const codes = singleUseStore(300);
  /** @type {Map<string, RefreshEntry>} */
  const refreshTokens = new Map();
  /** Login sessions by id (IAS's `sid`). @type {Map<string, { realm: string, username: string, authTime: number }>} */
  const sessions = new Map();
  const settings = { ...o.settings, /** @type {number | null} */ tokenFailureStatus: null };
  const initialSettings = { ...settings };
  const userNamed = (/** @type {string} */ name) => o.users.find((u) => u.username === name);
  const clearSession = `${o.sessionCookie}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax`;

  /** @param {string} redirectUri @param {Record<string, string>} params @param {string | undefined} state */
  const backTo = (redirectUri, params, state) => {
    const target = new URL(redirectUri);
    for (const [k, v] of Object.entries(params)) target.searchParams.set(k, v);
    if (state !== undefined) target.searchParams.set("state", state);
    return target.href;
  };

  /**
   * The checks every authorize request gets. Answers (and returns undefined) when the client or
   * redirect URI is unknown (a page, never a redirect) or the request is malformed (an error
   * redirect); else the request and `fail(error, description)` for the caller's own checks.
   * @param {Res} res @param {URLSearchParams} q
   */
  function authorizeFront(res, q) {
    if (q.get("client_id") !== o.clientId)
      return void sendHtml(res, 400, messagePage("Invalid authorization request", "Unknown client_id."));
    const redirectUri = q.get("redirect_uri") ?? "";
    if (!URL.canParse(redirectUri) || !o.redirectUris.some((p) => redirectUriMatches(p, redirectUri))) {
      return void sendHtml(
        res,
        400,
        messagePage("Invalid authorization request", "The redirect_uri is not registered for this client."),
      );
    }
    const state = q.get("state") ?? undefined;
    const fail = (/** @type {string} */ error, /** @type {string} */ description) =>
      redirect(res, backTo(redirectUri, { error, error_description: description }, state));
    if (q.get("response_type") !== "code")
      return void fail("unsupported_response_type", "only response_type=code");
    const challenge = q.get("code_challenge") ?? undefined;
    if (challenge && q.get("code_challenge_method") !== "S256")
      return void fail("invalid_request", "code_challenge_method must be S256");
    return { request: { redirectUri, state, challenge }, fail };
  }

  /**
   * Log the user in: straight to a code while the simulator's session of this realm lasts,
   * else the username/password form.
   * @param {Req} req @param {Res} res @param {AuthzRequest} request @param {string} title
   */
  function loginOrCode(req, res, request, title) {
    const sid = cookieOf(req, o.sessionCookie) ?? "";
    const session = sessions.get(sid);
    const user = session?.realm === request.realm ? userNamed(session.username) : undefined;
    if (session && user) return issueCode(res, request, user, sid, session.authTime);
    return sendHtml(
      res,
      200,
      loginPage({
        title,
        action: o.loginAction,
        hidden: { authz: pending.put({ request, title }) },
        ...(o.loginNote ? { note: o.loginNote } : {}),
      }),
    );
  }

  /** @param {Res} res @param {AuthzRequest} request @param {U} user @param {string} sid @param {number} authTime @param {Record<string, string>} [headers] */
  function issueCode(res, request, user, sid, authTime, headers = {}) {
    const code = codes.put({
      ...request,
      username: user.username,
      sid,
      authTime,
      scopes: o.scopesFor(request, user),
    });
    return redirect(res, backTo(request.redirectUri, { code }, request.state), headers);
  }

  /** The login form's POST. @param {Req} req @param {Res} res @param {string} realm */
  async function loginPost(req, res, realm) {
    const form = await readForm(req);
    const p = pending.take(form.get("authz") ?? "");
    if (!p || p.request.realm !== realm)
      return sendHtml(res, 400, messagePage("Login expired", "Start again from the application."));
    const user = userNamed(form.get("username") ?? "");
    if (!user || !safeEqual(user.password, form.get("password") ?? "")) {
      const again = {
        title: p.title,
        action: o.loginAction,
        hidden: { authz: pending.put(p) },
        error: "Unable to verify username or password. Please try again.",
        ...(o.loginNote ? { note: o.loginNote } : {}),
      };
      return sendHtml(res, 200, loginPage(again));
    }
    const sid = randomUUID();
    const authTime = nowSeconds();
    sessions.set(sid, { realm, username: user.username, authTime });
    return issueCode(res, p.request, user, sid, authTime, {
      "set-cookie": `${o.sessionCookie}=${sid}; Path=/; HttpOnly; SameSite=Lax`,
    });
  }

  /**
   * The start of every token request: reads the form, records how the client authenticated,
   * answers outages and bad clients. Returns the form, or undefined when it answered.
   * `mtls`: the request came to a certificate host (XSUAA's certurl), where a client_id
   * without a secret counts as authenticated by its certificate: plain loopback http carries
   * none, so the simulator takes the host's word for it (recorded as tls_client_auth).
   * @param {Req} req @param {Res} res @param {Record<string, any>} entry @param {{ mtls?: boolean }} [via]
   */
  async function tokenRequest(req, res, entry, via = {}) {
    const form = await readForm(req);
    const auth = clientAuthOf(req.headers, form);
    const byCertificate = via.mtls === true && auth.ok && auth.method === "none";
    Object.assign(entry, {
      form: [...new Set(form.keys())],
      grantType: form.get("grant_type") ?? undefined,
      clientAuthMethod: byCertificate ? "tls_client_auth" : auth.method,
    });
    if (settings.tokenFailureStatus)
      return void sendJson(res, settings.tokenFailureStatus, {
        error: "server_error",
        error_description: "simulated outage",
      });
    const secretsOk =
      auth.ok && auth.secrets.length > 0 && auth.secrets.every((s) => safeEqual(s, o.clientSecret));
    if (!auth.ok || auth.clientId !== o.clientId || !(secretsOk || byCertificate)) {
      return void sendJson(res, 401, o.badClient);
    }
    entry.clientId = auth.clientId;
    return form;
  }

  const invalidGrant = (/** @type {Res} */ res, /** @type {string} */ description) =>
    void sendJson(res, 400, { error: "invalid_grant", error_description: description });

  /** An authorization_code grant's code, checked (single use, realm, redirect_uri, PKCE); undefined when answered. @param {Res} res @param {URLSearchParams} form @param {string} realm */
  function redeemCode(res, form, realm) {
    const c = codes.take(form.get("code") ?? "");
    if (!c || c.realm !== realm) return invalidGrant(res, "Invalid authorization code");
    if (form.get("redirect_uri") !== c.redirectUri) return invalidGrant(res, "Redirect URI mismatch");
    if (c.challenge && !pkceMatches(c.challenge, form.get("code_verifier") ?? ""))
      return invalidGrant(res, "Invalid code verifier");
    const user = userNamed(c.username);
    if (!user) return invalidGrant(res, "Unknown user");
    return {
      code: /** @type {AuthzRequest & { username: string, sid: string, authTime: number, scopes: string[] }} */ (
        c
      ),
      user,
      refreshToken: newRefreshToken({
        realm,
        clientId: o.clientId,
        username: user.username,
        sid: c.sid,
        scopes: c.scopes,
        authTime: c.authTime,
      }),
    };
  }

  /** @param {RefreshEntry} entry */
  function newRefreshToken(entry) {
    const token = o.newRefreshTokenValue();
    refreshTokens.set(token, entry);
    return token;
  }

  /**
   * A refresh_token grant: the grant it continues and the refresh token to answer with (a new
   * one when rotating, the same when not, none when configured so); undefined when answered.
   * @param {Res} res @param {URLSearchParams} form @param {string} realm
   */
  function redeemRefresh(res, form, realm) {
    const presented = form.get("refresh_token") ?? "";
    const r = refreshTokens.get(presented);
    const user = r && userNamed(r.username);
    if (!r || !user || r.realm !== realm)
      return invalidGrant(res, "Invalid refresh token (expired or revoked)");
    /** @type {string | null} */
    let refreshToken = null;
    if (settings.refreshReturnsRefreshToken) {
      refreshToken = presented;
      if (settings.rotateRefreshTokens) {
        refreshTokens.delete(presented);
        refreshToken = newRefreshToken(r);
      }
    }
    return { grant: r, user, refreshToken };
  }

  /**
   * An authorization_code or refresh_token grant (the two that continue a sign-in), checked:
   * the user, the sign-in's session id, scopes and time, the code's nonce, and the refresh
   * token to answer with; undefined when answered.
   * @param {Res} res @param {URLSearchParams} form @param {string} realm
   */
  function redeemGrant(res, form, realm) {
    if (form.get("grant_type") === "authorization_code") {
      const r = redeemCode(res, form, realm);
      if (!r) return undefined;
      const { sid, scopes, authTime, nonce } = r.code;
      return { user: r.user, sid, scopes, authTime, nonce, refreshToken: r.refreshToken };
    }
    const r = redeemRefresh(res, form, realm);
    if (!r) return undefined;
    const { sid, scopes, authTime } = r.grant;
    return { user: r.user, sid, scopes, authTime, nonce: undefined, refreshToken: r.refreshToken };
  }

  /** A password grant's user, or undefined when answered. @param {Res} res @param {URLSearchParams} form */
  function passwordUser(res, form) {
    const user = userNamed(form.get("username") ?? "");
    if (!user || !safeEqual(user.password, form.get("password") ?? ""))
      return invalidGrant(res, "Bad user credentials");
    return user;
  }

  /**
   * Ends the simulator's login session; redirects to `target` when `allowed`, else to the
   * provider's logged-out page.
   * @param {Req} req @param {Res} res @param {string | null} target @param {boolean} allowed @param {string} loggedOutUrl
   */
  function endSessionAndRedirect(req, res, target, allowed, loggedOutUrl) {
    sessions.delete(cookieOf(req, o.sessionCookie) ?? "");
    return redirect(res, allowed && target ? target : loggedOutUrl, { "set-cookie": clearSession });
  }

  /** Whether `target` may be a logout redirect. @param {string[]} patterns @param {string | null} target */
  const allowedRedirect = (patterns, target) =>
    !!target && patterns.some((p) => redirectUriMatches(p, target));

  /**
   * The part of the simulator's handle every provider has.
   * @param {{ start(): Promise<void>, close(): Promise<void>, readonly running: boolean }} server
   * @param {string} localOrigin
   * @param {(host: string) => boolean} servesHost
   */
  function controls(server, localOrigin, servesHost) {
    const fetchVia = hostFetch(localOrigin);
    return {
      localOrigin,
      clientId: o.clientId,
      clientSecret: o.clientSecret,
      fetch: fetchVia,
      servesHost,
      outbound: (/** @type {Request} */ request) =>
        servesHost(new URL(request.url).host) ? fetchVia(request) : networkFetch(request),
      jwks: () => keys.jwks({ pem: o.jwksWithPem }),
      get kid() {
        return keys.kid;
      },
      rotateSigningKey: (/** @type {{ dropOld?: boolean }} */ r) => keys.rotate(r),
      requests: () => log.all(),
      tokenRequests: () => log.all().filter((e) => e.path === o.tokenPath),
      set: (/** @type {Partial<typeof settings>} */ s) => void Object.assign(settings, s),
      failTokenEndpoint: (status = 503) => void (settings.tokenFailureStatus = status),
      revokeRefreshTokens(/** @type {string | undefined} */ username) {
        for (const [t, r] of refreshTokens)
          if (username === undefined || r.username === username) refreshTokens.delete(t);
      },
      sessionIds: () => [...sessions.keys()],
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

  return {
    keys,
    log,
    settings,
    userNamed,
    authorizeFront,
    loginOrCode,
    loginPost,
    tokenRequest,
    redeemGrant,
    passwordUser,
    newRefreshToken,
    endSessionAndRedirect,
    allowedRedirect,
    controls,
  };
}

/** A random opaque refresh token; XSUAA's end in `-r`. */
export const opaqueToken =
  (/** @type {string} */ suffix = "") =>
  () =>
    `${randomBytes(16).toString("hex")}${suffix}`;
