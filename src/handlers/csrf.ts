/**
 * The CSRF steps of the handlers: the token a session hands out, the route's check and the
 * answers. The rules themselves are pure, in src/security/csrf.ts.
 */
import type { Context } from "hono";
import type { RouteConfig } from "../config/types.js";
import { withMutableHeaders } from "../http/mutable.js";
import { errorPage } from "../http/pages.js";
import { csrfDecision, isStateChanging } from "../security/csrf.js";
import type { Session } from "../session/manager.js";
import type { SessionEnv } from "../session/middleware.js";

export const CSRF_HEADER = "x-csrf-token";

/** The token of a session id (`SessionManager.csrfTokenFor`). */
export type CsrfTokenFor = (sessionId: string) => Promise<string>;

/** The session's CSRF token, given to the session (in its record) if it has none yet. */
export async function giveCsrfToken(session: Session, csrfTokenFor: CsrfTokenFor): Promise<string> {
  if (session.record.csrf !== undefined) return session.record.csrf;
  const csrf = await csrfTokenFor(session.id);
  session.record = { ...session.record, csrf };
  return csrf;
}

/** 403 with `x-csrf-token: Required`, as SAP answers a missing or wrong token. */
export function csrfTokenRequired(): Response {
  return errorPage(403, "CSRF_TOKEN_REQUIRED", { [CSRF_HEADER]: "Required" });
}

export type RouteCsrf =
  | { kind: "reject" }
  /**
   * `dropHeader`: the request's `x-csrf-token` is the router's and must not reach whatever
   * serves the route; `token`: to send back (a token fetch).
   */
  | { kind: "ok"; dropHeader?: true; token?: string };

/** Nothing to change or send back: one object for every such request. */
export const CSRF_PASS: RouteCsrf = Object.freeze({ kind: "ok" });

/**
 * The common case, settled without the session: the route is unprotected, or the request
 * carries no `x-csrf-token` and is safe or on a public route (nothing to check, fetch or strip).
 */
export function csrfNeedsNothing(
  c: Context<SessionEnv>,
  route: RouteConfig,
  requiresAuth: boolean,
  /** The request's `x-csrf-token` (null: none), when the caller has read it already. */
  fetchHeader: string | null = c.req.raw.headers.get(CSRF_HEADER),
): boolean {
  if (!route.csrfProtection) return true;
  if (fetchHeader !== null) return false;
  return !requiresAuth || !isStateChanging(c.req.method);
}

/**
 * SAP's CSRF rules for a route: `x-csrf-token: fetch` on a GET/HEAD returns the session's
 * token (creating session and token if need be); a state-changing request to a protected
 * route needs it. On protected routes with `csrfProtection` the header is the router's and
 * never reaches the backend; public routes pass it on, as SAP does.
 */
export async function checkRouteCsrf(
  c: Context<SessionEnv>,
  options: {
    route: RouteConfig;
    requiresAuth: boolean;
    csrfTokenFor: CsrfTokenFor;
    /** The request's `x-csrf-token` (null: none), when the caller has read it already. */
    fetchHeader?: string | null;
  },
): Promise<RouteCsrf> {
  const { route, requiresAuth } = options;
  if (!route.csrfProtection) return CSRF_PASS;
  const scope = c.get("session");
  const fetchHeader =
    options.fetchHeader !== undefined ? options.fetchHeader : c.req.raw.headers.get(CSRF_HEADER);
  // Each read of a request property is a call into the runtime: once.
  const method = c.req.method;
  const checked = requiresAuth && isStateChanging(method);
  const decision = csrfDecision({
    method,
    fetchHeader,
    routeRequiresAuth: requiresAuth,
    csrfProtection: true,
    sessionToken: checked ? (await scope.current())?.record.csrf : undefined,
  });
  if (decision.kind === "reject") return { kind: "reject" };
  let token: string | undefined;
  if (decision.kind === "fetch") {
    const session = await scope.ensure();
    if (session) token = await giveCsrfToken(session, options.csrfTokenFor);
    // else: the store is down and the cookie's session unknown: no token rather than a new session.
  }
  // SAP keeps the header from the backends of protected routes only.
  if (fetchHeader === null || !requiresAuth) return token ? { kind: "ok", token } : CSRF_PASS;
  return token ? { kind: "ok", dropHeader: true, token } : CSRF_DROP;
}

/** Nothing to send back, the router's header to drop. */
const CSRF_DROP: RouteCsrf = Object.freeze({ kind: "ok", dropHeader: true });

/** `response` with the fetched token in `x-csrf-token`; as it is without a token or for a WebSocket. */
export function withCsrfToken(response: Response, token: string | undefined): Response {
  if (token === undefined || response.status === 101) return response;
  const withToken = withMutableHeaders(response);
  withToken.headers.set(CSRF_HEADER, token);
  return withToken;
}
