import { Hono, type Context } from "hono";
import { createAuthenticator } from "./auth/authenticate.js";
import { createDestinationResolver, logoutDestinationLookup } from "./destinations/index.js";
import { createHtml5Router } from "./html5/index.js";
import { handleCallback } from "./auth/login.js";
import { userApiHandler, userApiProvider } from "./auth/user-api.js";
import { BACKCHANNEL_LOGOUT_PATH, handleBackchannelLogout } from "./auth/logout.js";
import type { AuthServices } from "./auth/services.js";
import type { Authenticator } from "./auth/types.js";
import type { RouterConfig } from "./config/types.js";
import { corsHeaders, corsPreflight, effectiveCorsRules, mergeCorsHeaders } from "./http/cors.js";
import { callBackendLogouts, logoutHandler } from "./handlers/logout-handler.js";
import { ownResponse, withMutableHeaders } from "./http/mutable.js";
import { errorPage, ROUTER_ERROR_HEADER } from "./http/pages.js";
import { applyResponseHeaders, configuredCsp, planResponseHeaders } from "./http/response-headers.js";
import { routeHandler } from "./handlers/route-handler.js";
import { installStatusEndpoint, metricsLogger } from "./handlers/status.js";
import { forbidTransform } from "./http/no-compression.js";
import { errorHookAnswer, installRequestHooks, type RouterHooks } from "./handlers/hooks.js";
import { guardLikeRoute } from "./handlers/route-guard.js";
import { infoEndpoints, pick } from "./handlers/whitelist-service.js";
import { errorFields, type Logger } from "./log.js";
import type { SessionManager } from "./session/manager.js";
import { sessionMiddleware, type SessionEnv } from "./session/middleware.js";

const NO_CORS = { kind: "none" } as const;

/** Without an identity provider nobody is authenticated (configuration prevents this). */
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
  /** Extension middleware (createRouter, src/router.ts). */
  hooks?: RouterHooks;
}

/**
 * The router: a thin Hono composition of the pieces in src/http, src/auth and
 * src/session. Order matters: CORS preflights are answered before anything else, the
 * response headers are applied to every answer, the session is committed last.
 */
export function createApp({
  config,
  manager,
  fetch,
  log,
  auth,
  authenticate: override,
  statusToken,
  now = Date.now,
  hooks,
}: AppDeps): Hono<SessionEnv> {
  const app = new Hono<SessionEnv>();
  const { xsApp, http } = config;
  const authenticate = override ?? (auth ? createAuthenticator(auth) : noIdentityProvider);
  const headerPlan = planResponseHeaders({
    sendXFrameOptions: http.sendXFrameOptions,
    httpHeaders: http.httpHeaders,
    responseHeaders: xsApp.responseHeaders,
  });
  const corsRules = effectiveCorsRules(xsApp.cors, http.cors);
  const corsHeadersOrPreflight = (request: Request) => {
    const preflight = corsPreflight(request, corsRules);
    return preflight ? ({ kind: "answer", response: preflight } as const) : corsHeaders(request, corsRules);
  };

  const startedAt = now();
  const logMetrics = metricsLogger({ manager, ...(auth ? { auth } : {}), startedAt, now, log });

  const hookedErrors = new WeakSet<object>();
  app.onError(async (error, c) => {
    // A bug, not an expected failure: log its kind only (messages may carry request data).
    log("request.error", { ...errorFields(error), method: c.req.method });
    hookedErrors.add(c); // the error hooks see it here, with the error, not again as a page
    return (
      (await errorHookAnswer(hooks, { status: 500, code: "INTERNAL_ERROR", error }, c)) ??
      errorPage(500, "INTERNAL_ERROR")
    );
  });

  app.use(async (c, next) => {
    const cors = corsRules.length === 0 ? NO_CORS : corsHeadersOrPreflight(c.req.raw);
    if (cors.kind === "answer" || cors.kind === "reject") return cors.response;
    await next();
    logMetrics();
    if (c.res.status === 101) return; // a WebSocket: nothing to add
    // Assign only a new object: Hono's `res` setter copies the response and all its headers.
    const response = withMutableHeaders(c.res);
    if (response !== c.res) c.res = response;
    // Read after the assignment (the setter copies again) and once per response object:
    // each read is a call into the runtime.
    let { headers } = c.res;
    const code = headers.get(ROUTER_ERROR_HEADER);
    if (code !== null) {
      headers.delete(ROUTER_ERROR_HEADER);
      const { status } = c.res;
      const page = xsApp.errorPage.get(status);
      const hooked =
        hooks?.beforeErrorHandler && !hookedErrors.has(c)
          ? await errorHookAnswer(hooks, { status, code }, c)
          : undefined;
      if (hooked) c.res = withMutableHeaders(hooked);
      else if (page && "file" in page) c.res = await customErrorPage(c, page.file, c.res);
      else if (page) c.res = errorPageRedirect(c, page.path, c.res);
      headers = c.res.headers;
    }
    applyResponseHeaders(headers, headerPlan);
    if (!xsApp.compression.enabled) forbidTransform(headers);
    if (cors.kind === "allow") mergeCorsHeaders(headers, cors.headers);
  });

  if (statusToken)
    installStatusEndpoint(app, { manager, ...(auth ? { auth } : {}), startedAt, now, token: statusToken });
  const resolveDestination = createDestinationResolver({
    variable: config.destinations,
    ...(config.destinationService && { service: config.destinationService }),
    ...(config.destinationHostPattern && { hostPattern: config.destinationHostPattern }),
    fetch,
    now,
    log,
  });
  // logoutPath of destinations from the destination service (src/destinations/index.ts).
  const logoutLookup = config.destinationService && logoutDestinationLookup(resolveDestination);
  const hasLogoutPaths = [...xsApp.destinations.values()].some((d) => d.logoutPath);
  app.use(
    sessionMiddleware({
      manager,
      cookieName: config.session.cookieName,
      cookie: config.session.cookie,
      ...(hasLogoutPaths
        ? {
            onEnded: (record) =>
              callBackendLogouts(record, {
                xsApp,
                destinations: config.destinations,
                ...(logoutLookup && { lookup: logoutLookup }),
                fetch,
              }),
          }
        : {}),
    }),
  );

  if (auth) {
    app.get(xsApp.login.callbackEndpoint, (c) => handleCallback(c, auth));
    app.all(BACKCHANNEL_LOGOUT_PATH, (c) => handleBackchannelLogout(c, auth));
    const backChannel = xsApp.logout?.backChannelLogoutEndpoint;
    if (backChannel && backChannel !== BACKCHANNEL_LOGOUT_PATH)
      app.post(backChannel, (c) => handleBackchannelLogout(c, auth));
  }
  const logout = xsApp.logout;
  if (logout?.logoutEndpoint) {
    const csrfTokenFor = (id: string) => manager.csrfTokenFor(id);
    app.all(
      logout.logoutEndpoint,
      logoutHandler({
        logout,
        xsApp,
        destinations: config.destinations,
        ...(logoutLookup && { lookup: logoutLookup }),
        fetch,
        csrfTokenFor,
        ...(auth ? { auth } : {}),
      }),
    );
  }
  const userApi = userApiHandler({ fetch, log, ...userApiProvider(config.identityProviders.xsuaa) });
  const html5 = config.html5Repo && createHtml5Router({ binding: config.html5Repo, config, fetch, now, log });
  const info = infoEndpoints({
    ...pick(xsApp, "whitelistService", "pluginMetadataEndpoint"),
    ...pick(http, "plugins"),
    ...(http.clickjackWhitelist ? { whitelist: http.clickjackWhitelist } : {}),
    routes: xsApp.routes,
    authenticate,
  });
  if (info) app.use(info);
  // SAP: extensions after its own endpoints, before the route is served.
  installRequestHooks(app, hooks, (c) => guardLikeRoute(c, xsApp.routes, authenticate));
  app.all(
    "*",
    routeHandler({
      config,
      fetch,
      authenticate,
      csrfTokenFor: (id) => manager.csrfTokenFor(id),
      userApi,
      resolveDestination,
      log,
      ...(html5 && { html5 }),
      ...(http.mergeCspHeaders && { mergeCsp: configuredCsp(headerPlan) }),
    }),
  );
  return app;
}

/**
 * xs-app.json `errorPage` with `path`: the router's own error answered with a redirect to
 * that path instead (SAP: 302, lib/middleware/error-handler.js), unless the request is for
 * that very path (the page itself failing would redirect to itself forever).
 */
function errorPageRedirect(c: Context<SessionEnv>, path: string, original: Response): Response {
  const url = new URL(c.req.url);
  if (url.pathname + url.search === path) return original;
  return ownResponse(new Response(null, { status: 302, headers: { location: path } }));
}

/**
 * xs-app.json `errorPage`: the router's own error answers replaced by a file from the
 * static assets, with the same status and headers (SAP). Falls back to the built-in page.
 */
async function customErrorPage(c: Context<SessionEnv>, file: string, original: Response): Promise<Response> {
  const assets = (c.env as { ASSETS?: Fetcher } | undefined)?.ASSETS;
  if (!assets) return original;
  const url = new URL(c.req.url);
  url.pathname = file;
  url.search = "";
  try {
    const asset = await assets.fetch(new Request(url, { method: "GET" }));
    if (!asset.ok) return original;
    const headers = new Headers(original.headers);
    headers.set("content-type", asset.headers.get("content-type") ?? "text/html; charset=utf-8");
    headers.delete("content-length");
    return new Response(asset.body, { status: original.status, headers });
  } catch {
    return original;
  }
}
