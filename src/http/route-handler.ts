import type { Context } from "hono";
import type { Authenticator } from "../app.js";
import { authOf } from "../auth/auth-data.js";
import type { UserApiHandler } from "../auth/user-api.js";
import type { Destination, RouteConfig, RouterConfig } from "../config/types.js";
import type { DestinationResolver } from "../destinations/index.js";
import type { AppSelection, Html5Router } from "../html5/index.js";
import { cookieHeaderFor, mergeJar, readJar, splitBackendCookies } from "../proxy/backend-cookies.js";
import { forward, removeRouterCookies } from "../proxy/forward.js";
import { decideRoute } from "../routing/decide.js";
import { csrfDecision, isStateChanging } from "../security/csrf.js";
import type { SessionEnv, SessionScope } from "../session/middleware.js";
import { serveLocalDir, welcomeRedirect } from "../static/local-dir.js";
import { withMutableHeaders } from "./mutable.js";
import { errorPage } from "./pages.js";
import { waitUntilOf } from "./wait-until.js";
import type { Logger } from "../log.js";

/**
 * Everything that is not one of the router's own endpoints: welcome file, route
 * matching, authentication, CSRF, then `localDir` from static assets or a destination
 * through the proxy, with the destination's session cookies kept in the router session.
 */
const CSRF_HEADER = "x-csrf-token";

export function routeHandler(options: {
  config: RouterConfig;
  fetch: typeof fetch;
  authenticate: Authenticator;
  csrfTokenFor: (sessionId: string) => Promise<string>;
  log?: Logger;
  userApi: UserApiHandler;
  resolveDestination: DestinationResolver;
  /** The HTML5 application repository, when bound: apps' own routes and files (src/html5). */
  html5?: Html5Router;
}) {
  const { config, fetch, authenticate, csrfTokenFor, userApi, resolveDestination, html5, log } = options;
  const { xsApp } = config;
  const cookieName = config.session.cookieName;
  const websockets = {
    enabled: xsApp.websockets.enabled,
    ...(config.http.wsAllowedOrigins ? { allowedOrigins: config.http.wsAllowedOrigins } : {}),
  };

  return async (c: Context<SessionEnv>): Promise<Response> => {
    const url = new URL(c.req.url);
    // An app of the HTML5 repository named by the first segment brings its own routes.
    const selection: AppSelection = html5
      ? await html5.select(c.req.raw, waitUntilOf(c))
      : { kind: "central" };
    if (selection.kind === "answer") return selection.response;
    const app = selection.kind === "app" ? selection : undefined;
    const welcome = !app && url.pathname === "/" ? welcomeRedirect(c.req.raw, xsApp.welcomeFile) : null;
    if (welcome?.kind === "redirect") return welcome.response;
    const [pathname, search] = app
      ? [app.pathname, app.search]
      : welcome?.kind === "rewrite"
        ? splitQuery(welcome.pathAndQuery)
        : [url.pathname, url.search];

    // Decided on the canonical path, which is also what is forwarded (src/routing/decide.ts).
    const match = decideRoute(app?.routes ?? xsApp.routes, pathname, search, c.req.method);
    if (match.kind === "refused") {
      log?.("route.path_refused.warn", { reason: match.reason });
      return errorPage(400, "PATH_REFUSED");
    }
    if (match.kind === "none") return errorPage(404, "ROUTE_NOT_FOUND");
    if (match.kind === "method-not-allowed")
      return errorPage(405, "METHOD_NOT_ALLOWED", { allow: match.allow.join(", ") });
    if (match.kind === "invalid-target") return errorPage(400, "INVALID_TARGET");
    const { route, target } = match;

    const scope = c.get("session");
    const requiresAuth = route.authenticationType !== "none";
    if (requiresAuth) {
      const denied = await authenticate(c, route);
      if (denied) return denied;
    }

    const csrf = await checkCsrf(c, route, requiresAuth, scope, csrfTokenFor);
    if (csrf.kind === "reject") return errorPage(403, "CSRF_TOKEN_REQUIRED", { [CSRF_HEADER]: "Required" });

    let response: Response;
    if (route.service === "html5-apps-repo-rt") {
      response = await html5!.serve(csrf.request, route, target, selection); // bound: checked at start-up
    } else if (route.service !== undefined) {
      response = await userApi(c, target);
    } else if (route.localDir !== undefined) {
      const assets = (c.env as { ASSETS?: Fetcher } | undefined)?.ASSETS;
      if (!assets) return errorPage(500, "ASSETS_NOT_BOUND"); // checked at start-up
      const localDir = {
        localDir: route.localDir,
        ...(route.cacheControl ? { cacheControl: route.cacheControl } : {}),
        ...(route.replace ? { replace: route.replace } : {}),
      };
      response = await serveLocalDir(csrf.request, target, localDir, (r) => assets.fetch(r), log);
    } else {
      const userToken = async () =>
        requiresAuth ? authOf((await scope.current())?.record.data)?.accessToken : undefined;
      const found = await resolveDestination(route.destination, {
        userToken,
        waitUntil: waitUntilOf(c),
        // A dynamic route ("$1", "*") takes its destination's name from these (src/destinations/dynamic.ts).
        dynamic: { source: route.source, pathAndQuery: match.path + search, host: url.host },
      });
      if (!found.ok) return found.response;
      const destination = found.destination;
      // The path the route was decided on: the canonical one, or the welcome file's (SAP).
      const forwardedPath = app?.fullPath ?? match.path;
      response = await proxy(c, csrf.request, route, destination, target, requiresAuth, forwardedPath);
    }
    if (csrf.token === undefined || response.status === 101) return response;
    const withToken = withMutableHeaders(response);
    withToken.headers.set(CSRF_HEADER, csrf.token);
    return withToken;
  };

  async function proxy(
    c: Context<SessionEnv>,
    incoming: Request,
    route: RouteConfig,
    destination: Destination,
    target: string,
    requiresAuth: boolean,
    forwardedPath: string | undefined,
  ) {
    const scope = c.get("session");
    const session = await scope.current(); // nothing to load without the router's cookie
    const cookies = (session?.record.data?.cookies as Record<string, unknown> | undefined) ?? {};
    const jar = readJar(cookies[destination.name]);
    // The destination's kept cookies join the browser's others (the jar may hold a backend
    // cookie named like the router's: it must reach that backend, and only it).
    const cookieHeader =
      jar.length > 0
        ? cookieHeaderFor(
            jar,
            removeRouterCookies(incoming.headers.get("cookie") ?? "", cookieName),
            new URL(destination.url + target).pathname,
          )
        : undefined;
    const token =
      destination.forwardAuthToken && requiresAuth ? authOf(session?.record.data)?.accessToken : undefined;
    const clientIp = c.req.header("cf-connecting-ip");
    const response = await forward(incoming, {
      destination,
      target,
      fetch,
      sessionCookieName: cookieName,
      ...(cookieHeader !== undefined ? { cookieHeader } : {}),
      ...(forwardedPath ? { forwardedPath } : {}),
      websockets,
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(requiresAuth ? { dropClientAuthorization: true } : {}),
      ...(clientIp ? { clientIp } : {}),
    });
    if (response.status === 101) return response;

    const setCookies = response.headers.getSetCookie();
    if (setCookies.length === 0) return response;
    const split = splitBackendCookies(setCookies, {
      keepSessionCookies: !route.setBackendSessionCookies,
      sessionCookieName: cookieName,
      requestPath: new URL(destination.url + target).pathname,
    });
    response.headers.delete("set-cookie");
    for (const value of split.toBrowser) response.headers.append("set-cookie", value);
    const merged = mergeJar(jar, split.toJar);
    if (merged !== jar) {
      // SAP keeps a backend's session cookies in the router session (creating one if need be).
      const holder = session ?? (await scope.ensure());
      if (!holder) return response; // store down, session unknown: the backend cookie is not kept
      holder.record = {
        ...holder.record,
        data: { ...holder.record.data, cookies: { ...cookies, [destination.name]: merged } },
      };
    }
    return response;
  }
}

function splitQuery(pathAndQuery: string): [string, string] {
  const at = pathAndQuery.indexOf("?");
  return at === -1 ? [pathAndQuery, ""] : [pathAndQuery.slice(0, at), pathAndQuery.slice(at)];
}

/**
 * SAP's CSRF rules: `x-csrf-token: fetch` on a GET/HEAD returns the session's token
 * (creating session and token if need be); a state-changing request to a protected route
 * needs it. On protected routes with `csrfProtection` the header is the router's and
 * never reaches the backend; public routes pass it on, as SAP does.
 */
async function checkCsrf(
  c: Context<SessionEnv>,
  route: RouteConfig,
  requiresAuth: boolean,
  scope: SessionScope,
  csrfTokenFor: (sessionId: string) => Promise<string>,
): Promise<{ kind: "reject" } | { kind: "ok"; request: Request; token?: string }> {
  const incoming = c.req.raw;
  if (!route.csrfProtection) return { kind: "ok", request: incoming };
  const fetchHeader = c.req.header(CSRF_HEADER) ?? null;
  const checked = requiresAuth && isStateChanging(c.req.method);
  const decision = csrfDecision({
    method: c.req.method,
    fetchHeader,
    routeRequiresAuth: requiresAuth,
    csrfProtection: true,
    sessionToken: checked ? (await scope.current())?.record.csrf : undefined,
  });
  if (decision.kind === "reject") return { kind: "reject" };
  let token: string | undefined;
  if (decision.kind === "fetch") {
    const session = await scope.ensure();
    if (session) {
      if (session.record.csrf === undefined)
        session.record = { ...session.record, csrf: await csrfTokenFor(session.id) };
      token = session.record.csrf;
    }
    // else: the store is down and the cookie's session unknown: no token rather than a new session.
  }
  // SAP keeps the header from the backends of protected routes only.
  if (fetchHeader === null || !requiresAuth)
    return { kind: "ok", request: incoming, ...(token ? { token } : {}) };
  const headers = new Headers(incoming.headers);
  headers.delete(CSRF_HEADER);
  return { kind: "ok", request: new Request(incoming, { headers }), ...(token ? { token } : {}) };
}
