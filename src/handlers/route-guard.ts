/**
 * SAP runs login, authorization and the CSRF check before its own endpoints and before
 * `beforeRequestHandler` extensions (lib/bootstrap.js order), for the route whose `source`
 * covers the request. Here the route handler does those per route; code that answers
 * before it (the whitelist service, extension middleware) asks this guard first, so a
 * path a protected route covers stays protected. No route matching: nothing to check
 * (SAP: no login for unknown routes).
 */
import type { Context } from "hono";
import type { Authenticator } from "../auth/types.js";
import type { RouteConfig } from "../config/types.js";
import { matchRoute } from "../routing/match.js";
import { csrfDecision } from "../security/csrf.js";
import type { SessionEnv } from "../session/middleware.js";
import { CSRF_HEADER, csrfTokenRequired } from "./csrf.js";

/** null to go on, or the answer to send instead (login, 401/403). */
export async function guardLikeRoute(
  c: Context<SessionEnv>,
  routes: readonly RouteConfig[],
  authenticate: Authenticator,
): Promise<Response | null> {
  const url = new URL(c.req.url);
  const match = matchRoute(routes, url.pathname + url.search, c.req.method);
  if (match.kind !== "route" || match.route.authenticationType === "none") return null;
  const denied = await authenticate(c, match.route);
  if (denied) return denied;
  const decision = csrfDecision({
    method: c.req.method,
    fetchHeader: c.req.header(CSRF_HEADER) ?? null,
    routeRequiresAuth: true,
    csrfProtection: match.route.csrfProtection,
    sessionToken: (await c.get("session").current())?.record.csrf,
  });
  return decision.kind === "reject" ? csrfTokenRequired() : null;
}
