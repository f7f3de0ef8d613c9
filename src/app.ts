import { Hono, type Context } from "hono";
import type { RouteConfig, RouterConfig } from "./config/types.js";
import { errorPage } from "./http/pages.js";
import { installStatus } from "./http/status.js";
import type { Logger } from "./log.js";
import { forward } from "./proxy/forward.js";
import { matchRoute } from "./routing/match.js";
import { csrfDecision, isStateChanging, newCsrfToken } from "./security/csrf.js";
import { authOf } from "./auth/auth-data.js";
import { createAuthenticator } from "./auth/authenticate.js";
import { handleCallback } from "./auth/login.js";
import { BACKCHANNEL_LOGOUT_PATH, endSessionUrl, handleBackchannelLogout } from "./auth/logout.js";
import type { AuthServices } from "./auth/services.js";
import type { SessionManager } from "./session/manager.js";
import { sessionMiddleware, type SessionEnv } from "./session/middleware.js";

/**
 * Decides whether a request may use a route that requires authentication. Returns
 * null to let it through, or the response to send instead. Login (OpenID Connect)
 * plugs in here; until an identity provider is configured, nobody is authenticated.
 */
export type Authenticator = (c: Context<SessionEnv>, route: RouteConfig) => Promise<Response | null>;

export const noIdentityProvider: Authenticator = async () => errorPage(401, "AUTHENTICATION_REQUIRED");

export interface AppDeps {
  config: RouterConfig;
  manager: SessionManager;
  fetch: typeof fetch;
  log: Logger;
  /** Login (OpenID Connect) when identity providers are bound. */
  auth?: AuthServices;
  /** Replaces the authenticator (tests). */
  authenticate?: Authenticator;
  /** Enables the status endpoint. */
  statusToken?: string;
  now?: () => number;
}

const CSRF_HEADER = "x-csrf-token";

export function createApp({ config, manager, fetch, log, auth, authenticate: override, statusToken, now = Date.now }: AppDeps): Hono<SessionEnv> {
  const authenticate = override ?? (auth ? createAuthenticator(auth) : noIdentityProvider);
  const app = new Hono<SessionEnv>();
  const { xsApp, destinations, session: sessionSettings } = config;

  app.onError((error, c) => {
    // A bug, not an expected failure: log its kind only (messages may carry request data).
    log("request.error", { name: error.name, method: c.req.method });
    return errorPage(500, "INTERNAL_ERROR");
  });

  installStatus(app, { manager, ...(auth ? { auth } : {}), ...(statusToken ? { token: statusToken } : {}), log, now });
  app.use(sessionMiddleware({ manager, cookieName: sessionSettings.cookieName }));

  if (auth) {
    app.get(xsApp.login.callbackEndpoint, (c) => handleCallback(c, auth));
    app.all(BACKCHANNEL_LOGOUT_PATH, (c) => handleBackchannelLogout(c, auth));
  }

  const logout = xsApp.logout;
  if (logout?.logoutEndpoint) {
    app.all(logout.logoutEndpoint, async (c) => {
      if (c.req.method !== logout.logoutMethod) {
        return errorPage(405, "METHOD_NOT_ALLOWED", { allow: logout.logoutMethod });
      }
      const scope = c.get("session");
      const session = await scope.current();
      const user = authOf(session?.record.data);
      if (session) {
        const decision = csrfDecision({
          method: c.req.method,
          fetchHeader: c.req.header(CSRF_HEADER) ?? null,
          routeRequiresAuth: true,
          csrfProtection: logout.csrfProtection,
          sessionToken: session.record.csrf,
        });
        if (decision.kind === "reject") return errorPage(403, "CSRF_TOKEN_REQUIRED", { [CSRF_HEADER]: "Required" });
        await scope.destroy();
      } else if (c.req.header("cookie")) {
        await scope.destroy(); // clears a stale cookie too
      }
      const headers = { "clear-site-data": '"cookies"', "cache-control": "no-store" };
      // Then the identity provider's own logout, which comes back to the logout page.
      const back = new URL(logout.logoutPage ?? "/", c.req.url).href;
      const providerLogout = user && auth ? await endSessionUrl(auth, user, back) : null;
      const location = providerLogout ?? logout.logoutPage;
      if (location) return new Response(null, { status: 302, headers: { ...headers, location } });
      return c.html("<!doctype html><title>Logged out</title><p>You have been logged out.</p>", 200, headers);
    });
  }

  app.all("*", async (c) => {
    const url = new URL(c.req.url);
    const match = matchRoute(xsApp.routes, url.pathname + url.search, c.req.method);
    if (match.kind === "none") return errorPage(404, "ROUTE_NOT_FOUND");
    if (match.kind === "method-not-allowed") return errorPage(405, "METHOD_NOT_ALLOWED", { allow: match.allow.join(", ") });
    if (match.kind === "invalid-target") return errorPage(400, "INVALID_TARGET");
    const { route, target } = match;
    const destination = destinations.get(route.destination);
    if (!destination) return errorPage(500, "UNKNOWN_DESTINATION"); // validated at start-up; a bug

    const scope = c.get("session");
    const requiresAuth = route.authenticationType !== "none";
    if (requiresAuth) {
      const denied = await authenticate(c, route);
      if (denied) return denied;
    }

    let issueToken: string | undefined;
    let incoming = c.req.raw;
    if (route.csrfProtection) {
      const fetchHeader = c.req.header(CSRF_HEADER) ?? null;
      // Only a state-changing request on a protected route needs the session's token.
      const checked = requiresAuth && isStateChanging(c.req.method);
      const decision = csrfDecision({
        method: c.req.method,
        fetchHeader,
        routeRequiresAuth: requiresAuth,
        csrfProtection: true,
        sessionToken: checked ? (await scope.current())?.record.csrf : undefined,
      });
      if (decision.kind === "reject") return errorPage(403, "CSRF_TOKEN_REQUIRED", { [CSRF_HEADER]: "Required" });
      if (decision.kind === "fetch") {
        const s = await scope.ensure();
        s.record.csrf ??= newCsrfToken();
        issueToken = s.record.csrf;
      }
      if (fetchHeader !== null) {
        // The router owns this header on protected routes: the backend never sees the token.
        const headers = new Headers(incoming.headers);
        headers.delete(CSRF_HEADER);
        incoming = new Request(incoming, { headers });
      }
    }

    const token = destination.forwardAuthToken && requiresAuth ? authOf((await scope.current())?.record.data)?.accessToken : undefined;
    const response = await forward(incoming, {
      destination,
      target,
      fetch,
      sessionCookieName: sessionSettings.cookieName,
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(c.req.header("cf-connecting-ip") ? { clientIp: c.req.header("cf-connecting-ip")! } : {}),
    });
    if (issueToken === undefined) return response;
    const withToken = new Response(response.body, response);
    withToken.headers.set(CSRF_HEADER, issueToken);
    return withToken;
  });

  return app;
}
