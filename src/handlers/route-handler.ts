import type { Context } from "hono";
import type { Authenticator } from "../auth/types.js";
import type { UserApiHandler } from "../auth/user-api.js";
import type { RouterConfig } from "../config/types.js";
import type { DestinationResolver } from "../destinations/index.js";
import type { Html5Router } from "../html5/index.js";
import { errorPage } from "../http/pages.js";
import { runtimeAbortsRequestSignal } from "../http/request-signal.js";
import type { Logger } from "../log.js";
import type { SessionEnv } from "../session/middleware.js";
import { serveLocalDir } from "../static/local-dir.js";
import {
  CSRF_HEADER,
  CSRF_PASS,
  type CsrfTokenFor,
  checkRouteCsrf,
  csrfNeedsNothing,
  csrfTokenRequired,
  withCsrfToken,
} from "./csrf.js";
import { type FoundRoute, findRoute } from "./find-route.js";
import { proxyRoute, type Served } from "./proxy-route.js";

export interface RouteHandlerOptions {
  config: RouterConfig;
  fetch: typeof fetch;
  authenticate: Authenticator;
  csrfTokenFor: CsrfTokenFor;
  log?: Logger;
  userApi: UserApiHandler;
  resolveDestination: DestinationResolver;
  /** The HTML5 application repository, when bound: apps' own routes and files (src/html5). */
  html5?: Html5Router;
  /** MERGE_CSP_HEADERS: the configured Content-Security-Policy values a backend's own goes out with. */
  mergeCsp?: readonly string[];
}

/**
 * Everything that is not one of the router's own endpoints, in four steps: find the route
 * (welcome file, HTML5 repository app, route matching), authenticate, check CSRF, then
 * serve it: from the HTML5 repository, the user API, `localDir` in the static assets, or a
 * destination through the proxy. Each step may answer instead.
 */
export function routeHandler(options: RouteHandlerOptions) {
  const { config, authenticate, csrfTokenFor, html5, log } = options;
  const serve = routeServer(options);
  return async (c: Context<SessionEnv>): Promise<Response> => {
    const found = await findRoute(c, { xsApp: config.xsApp, html5, log });
    if (found.kind === "answer") return found.response;
    const { route } = found;
    const requiresAuth = route.authenticationType !== "none";
    if (requiresAuth) {
      const denied = await authenticate(c, route);
      if (denied) return denied;
    }
    // Read once for both CSRF steps: every header lookup is a call into the runtime.
    const fetchHeader = route.csrfProtection ? c.req.raw.headers.get(CSRF_HEADER) : null;
    const csrf = csrfNeedsNothing(c, route, requiresAuth, fetchHeader)
      ? CSRF_PASS
      : await checkRouteCsrf(c, { route, requiresAuth, csrfTokenFor, fetchHeader });
    if (csrf.kind === "reject") return csrfTokenRequired();
    const served = await serve(c, found, requiresAuth, csrf.dropHeader === true);
    // The router's own failure pages go without the token.
    return served.ok ? withCsrfToken(served.response, csrf.token) : served.response;
  };
}

/**
 * The last step, built once per app: serves the route from where it points (the HTML5
 * repository, the user API, `localDir` or a destination).
 */
function routeServer(options: RouteHandlerOptions) {
  const { config, html5, userApi, log } = options;
  const proxy = proxyRoute({
    fetch: options.fetch,
    resolveDestination: options.resolveDestination,
    variable: config.destinations,
    sessionCookieName: config.session.cookieName,
    websockets: {
      enabled: config.xsApp.websockets.enabled,
      ...(config.http.wsAllowedOrigins ? { allowedOrigins: config.http.wsAllowedOrigins } : {}),
    },
    clientAbort: runtimeAbortsRequestSignal(),
    mergeCsp: options.mergeCsp ?? [],
  });
  /**
   * `dropCsrfHeader`: the request's `x-csrf-token` is the router's (the CSRF step said so).
   * Only the proxy needs it: the HTML5 repository and `localDir` pass a fixed set of request
   * headers on, never that one.
   */
  return async (
    c: Context<SessionEnv>,
    routed: FoundRoute,
    requiresAuth: boolean,
    dropCsrfHeader: boolean,
  ): Promise<Served> => {
    const { route, target } = routed;
    if (route.service === "html5-apps-repo-rt") {
      // Bound: checked at start-up.
      return { ok: true, response: await html5!.serve(c.req.raw, route, target, routed.selection) };
    }
    if (route.service !== undefined) return { ok: true, response: await userApi(c, target) };
    if (route.localDir !== undefined) {
      const assets = (c.env as { ASSETS?: Fetcher } | undefined)?.ASSETS;
      if (!assets) return { ok: false, response: errorPage(500, "ASSETS_NOT_BOUND") }; // checked at start-up
      const localDir = {
        localDir: route.localDir,
        ...(route.cacheControl ? { cacheControl: route.cacheControl } : {}),
        ...(route.replace ? { replace: route.replace } : {}),
      };
      return {
        ok: true,
        response: await serveLocalDir(c.req.raw, target, localDir, (r) => assets.fetch(r), log),
      };
    }
    // The proxy drops the header from the copy of the headers it makes anyway.
    return proxy(c, routed, requiresAuth, dropCsrfHeader);
  };
}
