import type { Context } from "hono";
import { getCookie } from "hono/cookie";
import { serialize } from "hono/utils/cookie";
import { jwtVerify } from "jose";
import * as oauth from "oauth4webapi";
import { errorPage, type ErrorCode } from "../http/pages.js";
import { timingSafeEqual } from "../security/constant-time.js";
import type { SessionEnv } from "../session/middleware.js";
import type { AuthData } from "./auth-data.js";
import { loginCookieName, openLoginState, randomToken, sealLoginState, LOGIN_STATE_TTL_S } from "./login-state.js";
import { IdentityProviderUnavailable, type IdentityProvider } from "./provider.js";
import { safeReturnTo } from "./return-to.js";
import { markOnce, type AuthServices } from "./services.js";

/**
 * Authorization code flow with PKCE, `state` and `nonce` (oauth4webapi). The ID token's
 * issuer, audience, expiry and nonce are checked by oauth4webapi, its signature by jose
 * against the provider's JWKS. The session id is regenerated at login.
 */
const USER_CLAIMS = ["name", "given_name", "family_name", "email", "user_name", "preferred_username", "zone_uuid"];

/**
 * Sends the browser to the provider. A route's `identityProvider` selects the user's
 * identity provider behind XSUAA as SAP's router does it (`login_hint` with the origin);
 * other providers get no hint.
 */
export async function startLogin(
  c: Context<SessionEnv>,
  services: AuthServices,
  label: "xsuaa" | "identity",
  identityProvider?: string,
): Promise<Response> {
  const provider = services.providers.get(label)!;
  let as: oauth.AuthorizationServer;
  try {
    as = await provider.authorizationServer();
  } catch {
    services.log("auth.idp.error", { label, op: "discovery" });
    return errorPage(503, "IDP_UNAVAILABLE");
  }
  if (!as.authorization_endpoint) return errorPage(503, "IDP_UNAVAILABLE");
  const requestUrl = new URL(c.req.url);
  const state = randomToken();
  const nonce = randomToken();
  const codeVerifier = oauth.generateRandomCodeVerifier();
  const target = new URL(as.authorization_endpoint);
  const params = {
    client_id: provider.config.clientId,
    response_type: "code",
    redirect_uri: `${requestUrl.origin}${services.callbackPath}`,
    scope: provider.config.scope,
    state,
    nonce,
    code_challenge: await oauth.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: "S256",
  };
  for (const [name, value] of Object.entries(params)) target.searchParams.set(name, value);
  if (identityProvider !== undefined && label === "xsuaa") target.searchParams.set("login_hint", JSON.stringify({ origin: identityProvider }));
  const sealed = await sealLoginState(
    { state, nonce, codeVerifier, returnTo: safeReturnTo(requestUrl.pathname + requestUrl.search), idp: label },
    services.loginKey,
    services.now(),
  );
  const cookie = serialize(loginCookieName(services.cookieName, state), sealed, {
    path: services.callbackPath,
    httpOnly: true,
    secure: true,
    sameSite: "Lax", // sent on the provider's top-level redirect back
    maxAge: LOGIN_STATE_TTL_S,
  });
  return new Response(null, { status: 302, headers: { location: target.href, "set-cookie": cookie, "cache-control": "no-store" } });
}

export async function handleCallback(c: Context<SessionEnv>, services: AuthServices): Promise<Response> {
  const url = new URL(c.req.url);
  const state = url.searchParams.get("state") ?? "";
  const cookieName = loginCookieName(services.cookieName, state);
  const clear = serialize(cookieName, "", { path: services.callbackPath, httpOnly: true, secure: true, sameSite: "Lax", maxAge: 0 });
  const fail = (status: number, code: ErrorCode) => {
    services.metrics.loginFailures++;
    services.log("auth.login.warn", { code });
    const response = errorPage(status, code);
    response.headers.append("set-cookie", clear);
    return response;
  };

  if (!/^[A-Za-z0-9_-]{43}$/.test(state)) return fail(400, "LOGIN_STATE_INVALID");
  const login = await openLoginState(getCookie(c, cookieName), services.loginKey, services.now());
  if (!login || !timingSafeEqual(login.state, state)) return fail(400, "LOGIN_STATE_INVALID");
  if (!(await markOnce(services, "l", state, LOGIN_STATE_TTL_S * 2000))) return fail(400, "LOGIN_STATE_REPLAYED");
  const provider = services.providers.get(login.idp);
  if (!provider) return fail(400, "LOGIN_STATE_INVALID");

  let auth: AuthData;
  try {
    auth = await exchangeCode(provider, url, login, `${url.origin}${services.callbackPath}`, services.now());
  } catch (error) {
    if (error instanceof IdentityProviderUnavailable) return fail(502, "IDP_UNAVAILABLE");
    return fail(401, "LOGIN_FAILED");
  }

  const session = await c.get("session").regenerate();
  session.record = { ...session.record, data: { ...session.record.data, auth } };
  services.metrics.logins++;
  const response = new Response(null, { status: 302, headers: { location: login.returnTo, "cache-control": "no-store" } });
  response.headers.append("set-cookie", clear);
  return response;
}

class LoginRejected extends Error {}

async function exchangeCode(
  provider: IdentityProvider,
  url: URL,
  login: { state: string; nonce: string; codeVerifier: string; idp: "xsuaa" | "identity" },
  redirectUri: string,
  now: number,
): Promise<AuthData> {
  const as = await provider.authorizationServer();
  let params: URLSearchParams;
  try {
    params = oauth.validateAuthResponse(as, provider.client, url, login.state);
  } catch {
    throw new LoginRejected("authorization response");
  }
  let response: Response;
  try {
    response = await oauth.authorizationCodeGrantRequest(as, provider.client, provider.clientAuth, params, redirectUri, login.codeVerifier, provider.requestOptions);
  } catch {
    throw new IdentityProviderUnavailable("token endpoint");
  }
  if (response.status >= 500) throw new IdentityProviderUnavailable("token endpoint");
  let result: oauth.TokenEndpointResponse;
  try {
    result = await oauth.processAuthorizationCodeResponse(as, provider.client, response, { expectedNonce: login.nonce, requireIdToken: true });
  } catch {
    throw new LoginRejected("token response");
  }
  const claims = oauth.getValidatedIdTokenClaims(result)!;
  try {
    await jwtVerify(result.id_token!, await provider.keys(), { issuer: as.issuer, audience: provider.config.clientId });
  } catch (error) {
    if (error instanceof IdentityProviderUnavailable) throw error;
    throw new LoginRejected("id token signature");
  }
  const user: Record<string, string> = {};
  for (const name of USER_CLAIMS) if (typeof claims[name] === "string") user[name] = claims[name] as string;
  return {
    idp: login.idp,
    iss: claims.iss,
    sub: claims.sub,
    ...(typeof claims.sid === "string" ? { sid: claims.sid } : {}),
    idToken: result.id_token!,
    accessToken: result.access_token,
    ...(result.refresh_token ? { refreshToken: result.refresh_token } : {}),
    expiresAt: now + (result.expires_in ?? 3600) * 1000,
    lifetimeMs: (result.expires_in ?? 3600) * 1000,
    scopes: (result.scope ?? "").split(" ").filter(Boolean),
    user,
  };
}
