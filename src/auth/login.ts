import type { Context } from "hono";
import { getCookie } from "hono/cookie";
import { serialize } from "hono/utils/cookie";
import * as oauth from "oauth4webapi";
import { errorPage, type ErrorCode } from "../http/pages.js";
import { timingSafeEqual } from "../security/constant-time.js";
import type { SessionEnv } from "../session/middleware.js";
import type { AuthData } from "./auth-data.js";
import { tenantOfHost } from "./endpoints.js";
import {
  boundedReturnTo,
  fragmentCookieName,
  loginCookieName,
  openLoginState,
  randomToken,
  sealLoginState,
  LOGIN_STATE_TTL_S,
  MAX_FRAGMENT,
} from "./login-state.js";
import { loginPage } from "./login-page.js";
import { ProviderError } from "./provider.js";
import { safeReturnTo } from "./return-to.js";
import { markOnce, type AuthServices } from "./services.js";

/**
 * Authorization code flow with PKCE (S256) and `state` as SAP's router runs it, per
 * provider protocol (src/auth/provider.ts): XSUAA without scope and nonce, IAS with
 * `scope=openid`, nonce and `app_tid`. The tokens are verified (signature, issuer,
 * audience, times) before a session exists; the session id is regenerated at login.
 */
const AUTH_TYPE_OF = { xsuaa: "xsuaa", identity: "ias" } as const;

export function redirectUriFor(origin: string, services: AuthServices, label: "xsuaa" | "identity"): string {
  // SAP appends ?authType= when both providers are bound or ENABLE_PERMANENT_AUTHTYPE is set.
  const suffix = services.login.authTypeInRedirect ? `?authType=${AUTH_TYPE_OF[label]}` : "";
  return `${origin}${services.callbackPath}${suffix}`;
}

function cookieOptions(services: AuthServices, maxAge: number) {
  return { path: services.callbackPath, httpOnly: true, secure: true, sameSite: "Lax" as const, maxAge };
}

/**
 * Sends the browser to the provider: with PRESERVE_FRAGMENT (SAP's default) a small page
 * whose script keeps the URL's `#fragment` (which never reaches a server) in a cookie for
 * the callback, else a 302. A route's `identityProvider` goes as `idp=` (XS advanced:
 * `login_hint`).
 */
export async function startLogin(
  c: Context<SessionEnv>,
  services: AuthServices,
  label: "xsuaa" | "identity",
  identityProvider?: string,
): Promise<Response> {
  const provider = services.providers.get(label)!;
  const requestUrl = new URL(c.req.url);
  const tenant = tenantOfHost(requestUrl.host, services.login.tenantHostPattern);
  const state = randomToken();
  const nonce = randomToken();
  const codeVerifier = oauth.generateRandomCodeVerifier();
  let target: string;
  try {
    target = await provider.authorizeUrl({
      ...(tenant && { tenant }),
      redirectUri: redirectUriFor(requestUrl.origin, services, label),
      state,
      nonce,
      codeChallenge: await oauth.calculatePKCECodeChallenge(codeVerifier),
      ...(identityProvider !== undefined && { identityProvider }),
    });
  } catch (error) {
    if (!(error instanceof ProviderError)) throw error;
    services.log("auth.idp.error", { label, ...error.fields });
    return errorPage(503, "IDP_UNAVAILABLE", { "retry-after": "10" });
  }
  const returnTo = boundedReturnTo(safeReturnTo(requestUrl.pathname + requestUrl.search));
  const sealed = await sealLoginState(
    { state, nonce, codeVerifier, returnTo, idp: label, ...(tenant && { tenant }) },
    services.loginKey,
    services.now(),
  );
  const cookie = serialize(
    loginCookieName(services.cookieName, state),
    sealed,
    cookieOptions(services, LOGIN_STATE_TTL_S),
  ); // Lax: sent on the provider's top-level redirect back
  if (services.login.preserveFragment) {
    const page = await loginPage(
      target,
      fragmentCookieName(services.cookieName, state),
      services.callbackPath,
    );
    page.headers.append("set-cookie", cookie);
    return page;
  }
  return new Response(null, {
    status: 302,
    headers: { location: target, "set-cookie": cookie, "cache-control": "no-store" },
  });
}

/** The `#fragment` the login page kept, if it is one a Location header can carry. */
function keptFragment(raw: string | undefined): string {
  if (!raw) return "";
  let fragment: string;
  try {
    fragment = decodeURIComponent(raw);
  } catch {
    return "";
  }
  return fragment.startsWith("#") && fragment.length <= MAX_FRAGMENT && /^#[\x21-\x7e]*$/.test(fragment)
    ? fragment
    : "";
}

/** Provider `error` codes on the callback, as SAP's router answers them. */
const CALLBACK_ERRORS: Record<string, [number, ErrorCode]> = {
  server_error: [502, "IDP_ERROR"],
  temporarily_unavailable: [503, "IDP_UNAVAILABLE"],
};

export async function handleCallback(c: Context<SessionEnv>, services: AuthServices): Promise<Response> {
  let url: URL;
  try {
    url = new URL(c.req.url);
  } catch {
    return errorPage(400, "LOGIN_STATE_INVALID");
  }
  const params = url.searchParams;
  const state = params.get("state") ?? "";
  // A state that is not one of ours is refused before it names any cookie (`%3B` would
  // make an invalid cookie name: a 500 before).
  const validState = /^[A-Za-z0-9_-]{43}$/.test(state) && params.getAll("state").length === 1;
  const cleared = validState
    ? [
        serialize(loginCookieName(services.cookieName, state), "", cookieOptions(services, 0)),
        `${fragmentCookieName(services.cookieName, state)}=; Path=${services.callbackPath}; ` +
          "Max-Age=0; Secure; SameSite=Lax",
      ]
    : [];
  const fail = (status: number, code: ErrorCode, fields: Record<string, unknown> = {}) => {
    services.metrics.loginFailures++;
    services.log("auth.login.warn", { code, ...fields });
    const response = errorPage(status, code);
    for (const line of cleared) response.headers.append("set-cookie", line);
    return response;
  };

  if (!validState) return fail(400, "LOGIN_STATE_INVALID");
  const login = await openLoginState(
    getCookie(c, loginCookieName(services.cookieName, state)),
    services.loginKey,
    services.now(),
  );
  if (!login || !timingSafeEqual(login.state, state)) return fail(400, "LOGIN_STATE_INVALID");
  const authType = params.get("authType");
  if (authType !== null && authType !== AUTH_TYPE_OF[login.idp]) return fail(400, "LOGIN_STATE_INVALID");
  const providerError = params.get("error");
  if (providerError !== null) {
    const [status, code] = CALLBACK_ERRORS[providerError] ?? ([401, "LOGIN_FAILED"] as const);
    return fail(status, code, { error: providerError.slice(0, 64).replace(/[^\w.-]/g, "?") });
  }
  const code = params.get("code");
  if (!code || code.length > 4096 || params.getAll("code").length !== 1)
    return fail(400, "LOGIN_CODE_INVALID");
  if (!(await markOnce(services, "l", state, LOGIN_STATE_TTL_S * 2000)))
    return fail(400, "LOGIN_STATE_REPLAYED");
  const provider = services.providers.get(login.idp);
  if (!provider) return fail(400, "LOGIN_STATE_INVALID");

  let auth: AuthData;
  try {
    const redirectUri = redirectUriFor(url.origin, services, login.idp);
    const tenant = login.tenant;
    const tokens = await provider.exchangeCode({
      ...(tenant && { tenant }),
      code,
      redirectUri,
      codeVerifier: login.codeVerifier,
    });
    const who = await provider.verifyLogin(tokens, { nonce: login.nonce, ...(tenant && { tenant }) });
    const now = services.now();
    auth = {
      idp: login.idp,
      iss: who.iss,
      sub: who.sub,
      ...(who.sid && { sid: who.sid }),
      ...(who.tenant && { tenant: who.tenant }),
      ...(tokens.idToken && { idToken: tokens.idToken }),
      accessToken: tokens.accessToken,
      ...(tokens.refreshToken && { refreshToken: tokens.refreshToken }),
      expiresAt: now + tokens.expiresInS * 1000,
      lifetimeMs: tokens.expiresInS * 1000,
      // SAP checks route scopes against the token response's `scope`; none given, none granted.
      scopes: tokens.scopes ?? [],
      user: who.user,
    };
  } catch (error) {
    if (!(error instanceof ProviderError)) throw error;
    if (error.kind === "unavailable") {
      services.log("auth.idp.error", { label: login.idp, ...error.fields });
      return fail(502, "IDP_UNAVAILABLE");
    }
    return fail(401, "LOGIN_FAILED", { label: login.idp, ...error.fields });
  }

  const session = await c.get("session").regenerate();
  session.record = { ...session.record, data: { ...session.record.data, auth } };
  services.metrics.logins++;
  const fragment = keptFragment(getCookie(c, fragmentCookieName(services.cookieName, state)));
  const response = new Response(null, {
    status: 302,
    headers: { location: login.returnTo + fragment, "cache-control": "no-store" },
  });
  for (const line of cleared) response.headers.append("set-cookie", line);
  return response;
}
