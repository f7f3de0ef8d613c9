/**
 * Serving a route from its destination: the destination resolved (the destination service
 * may need the user's token), the request forwarded with the destination's kept cookies
 * and, when the destination wants it, the user's token; the backend's session cookies are
 * kept in the router session (src/proxy/session-jar.ts) instead of reaching the browser.
 */
import type { Context } from "hono";
import { authOf } from "../auth/auth-data.js";
import type { Destination, RouteConfig } from "../config/types.js";
import { type DestinationResolver, variableDestination } from "../destinations/index.js";
import { appendMergedCsp } from "../http/response-headers.js";
import { waitUntilOf } from "../http/wait-until.js";
import { CSRF_HEADER } from "./csrf.js";
import { cookieHeaderFor, mergeJar, splitBackendCookies } from "../proxy/backend-cookies.js";
import { forward, removeRouterCookies, type WebSocketPolicy } from "../proxy/forward.js";
import { jarOf, withJar } from "../proxy/session-jar.js";
import type { SessionEnv } from "../session/middleware.js";

export interface ProxyOptions {
  fetch: typeof fetch;
  resolveDestination: DestinationResolver;
  /** The `destinations` variable: its destinations need no lookup. */
  variable: ReadonlyMap<string, Destination>;
  /** The router's session cookie: never forwarded, never set by a backend. */
  sessionCookieName: string;
  websockets: WebSocketPolicy;
  /** Whether the runtime aborts an incoming request's signal (src/http/request-signal.ts). */
  clientAbort: boolean;
  /** MERGE_CSP_HEADERS: sent with a backend's own Content-Security-Policy (none: nothing merged). */
  mergeCsp: readonly string[];
}

/** The route of a request to proxy, after route matching, authentication and the CSRF check. */
export interface ProxiedRoute {
  route: RouteConfig;
  target: string;
  /** X-Forwarded-Path: the path the route was decided on. */
  forwardedPath: string;
  /** Path and query the route's `source` matched (for a dynamic destination's name). */
  matchedPathAndQuery: string;
  /** The request's URL, already parsed. */
  url: URL;
}

/**
 * What serving a route gave: `ok: false` when the route could not be served and `response`
 * is the router's own failure page (here: the destination could not be resolved).
 */
export type Served = { ok: boolean; response: Response };

/**
 * The proxy step, built once per app: resolves the route's destination and forwards the
 * request to it (without its `x-csrf-token` when `dropCsrfHeader`: the router's there).
 */
export function proxyRoute(options: ProxyOptions) {
  return async (
    c: Context<SessionEnv>,
    proxied: ProxiedRoute,
    requiresAuth: boolean,
    dropCsrfHeader: boolean,
  ): Promise<Served> => {
    let destination = variableDestination(options.variable, proxied.route.destination);
    if (!destination) {
      const userToken = async () =>
        requiresAuth ? authOf((await c.get("session").current())?.record.data)?.accessToken : undefined;
      const found = await options.resolveDestination(proxied.route.destination, {
        userToken,
        waitUntil: waitUntilOf(c),
        // A dynamic route ("$1", "*") takes its destination's name from these (src/destinations/dynamic.ts).
        dynamic: {
          source: proxied.route.source,
          pathAndQuery: proxied.matchedPathAndQuery,
          host: proxied.url.host,
        },
      });
      if (!found.ok) return { ok: false, response: found.response };
      destination = found.destination;
    }
    return {
      ok: true,
      response: await forwardWithJar(c, proxied, requiresAuth, dropCsrfHeader, options, destination),
    };
  };
}

async function forwardWithJar(
  c: Context<SessionEnv>,
  proxied: ProxiedRoute,
  requiresAuth: boolean,
  dropCsrfHeader: boolean,
  options: ProxyOptions,
  destination: Destination,
): Promise<Response> {
  const request = c.req.raw;
  const scope = c.get("session");
  const { route, target } = proxied;
  const { sessionCookieName } = options;
  const session = await scope.current(); // nothing to load without the router's cookie
  const jar = jarOf(session?.record, destination.name);
  const requestPath = () => new URL(destination.url + target).pathname;
  // The destination's kept cookies join the browser's others (the jar may hold a backend
  // cookie named like the router's: it must reach that backend, and only it).
  const cookieHeader =
    jar.length > 0
      ? cookieHeaderFor(
          jar,
          removeRouterCookies(request.headers.get("cookie") ?? "", sessionCookieName),
          requestPath(),
        )
      : undefined;
  const token =
    destination.forwardAuthToken && requiresAuth ? authOf(session?.record.data)?.accessToken : undefined;
  // A plain object, not conditional spreads: this runs on every proxied request.
  const response = await forward(request, {
    destination,
    target,
    fetch: options.fetch,
    sessionCookieName,
    cookieHeader,
    forwardedPath: proxied.forwardedPath || undefined,
    incomingUrl: proxied.url,
    websockets: options.websockets,
    clientAbort: options.clientAbort,
    authorization: token ? `Bearer ${token}` : undefined,
    dropClientAuthorization: requiresAuth,
    dropHeader: dropCsrfHeader ? CSRF_HEADER : undefined,
    clientIp: request.headers.get("cf-connecting-ip") ?? undefined,
  });
  if (response.status === 101) return response;
  if (options.mergeCsp.length > 0) appendMergedCsp(response.headers, options.mergeCsp);

  const setCookies = response.headers.getSetCookie();
  if (setCookies.length === 0) return response;
  const split = splitBackendCookies(setCookies, {
    keepSessionCookies: !route.setBackendSessionCookies,
    sessionCookieName,
    requestPath: requestPath(),
  });
  response.headers.delete("set-cookie");
  for (const value of split.toBrowser) response.headers.append("set-cookie", value);
  const merged = mergeJar(jar, split.toJar);
  if (merged !== jar) {
    // SAP keeps a backend's session cookies in the router session (creating one if need be).
    const holder = session ?? (await scope.ensure());
    // Without one (store down, session unknown) the backend cookie is not kept.
    if (holder) holder.record = withJar(holder.record, destination.name, merged);
  }
  return response;
}
