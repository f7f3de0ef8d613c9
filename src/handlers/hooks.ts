/**
 * The extension points of SAP's `approuter.js` (doc/extending.md), as Hono middleware:
 *
 * - `first`: before anything of the router (CORS, sessions, login); installed by
 *   `createRouter` (src/router.ts) in front of the router.
 * - `beforeRequestHandler`: after the router's own endpoints (login callback, logout,
 *   user API, whitelist service), just before the route is served (static file or
 *   backend). As in SAP, login, authorization and the CSRF check of the route covering
 *   the path have run first (src/handlers/route-guard.ts), and the session is available
 *   (`c.get("session")`).
 * - `afterRequestHandler`: middleware at the same point whose code after `await next()`
 *   sees and may replace `c.res`, the route's answer (SAP: a function given the backend's
 *   and the client's responses), before the router adds its response headers.
 * - `beforeErrorHandler`: called with the router's own error answers (a status and a
 *   stable code: no route, 401, 403, 502, …) and with errors thrown by middleware
 *   (status 500, `error` set); a Response it returns replaces the router's page.
 */
import type { Context, Hono, MiddlewareHandler } from "hono";
import type { SessionEnv } from "../session/middleware.js";

export interface RouterError {
  status: number;
  /** The router's stable error code (`ROUTE_NOT_FOUND`, …); `INTERNAL_ERROR` for a thrown error. */
  code: string;
  /** The thrown error, for status 500 from an exception. */
  error?: Error;
}

// `void` so that a hook that only logs needs no `return undefined`.
// biome-ignore lint/suspicious/noConfusingVoidType: see above
type HookResult = Response | undefined | void;

export type ErrorHook = (failure: RouterError, c: Context<SessionEnv>) => HookResult | Promise<HookResult>;

export interface RouterHooks {
  first?: MiddlewareHandler[];
  beforeRequestHandler?: MiddlewareHandler<SessionEnv>[];
  afterRequestHandler?: MiddlewareHandler<SessionEnv>[];
  beforeErrorHandler?: ErrorHook[];
}

/**
 * Installs `beforeRequestHandler` and `afterRequestHandler` behind `guard`; nothing (and no
 * guard) without them.
 */
export function installRequestHooks(
  app: Hono<SessionEnv>,
  hooks: RouterHooks | undefined,
  guard: (c: Context<SessionEnv>) => Promise<Response | null>,
): void {
  const middleware = [...(hooks?.beforeRequestHandler ?? []), ...(hooks?.afterRequestHandler ?? [])];
  if (middleware.length === 0) return;
  app.use(async (c, next) => {
    const denied = await guard(c);
    if (denied) return denied;
    await next();
  });
  for (const handler of middleware) app.use(handler);
}

/**
 * The first Response an error hook returns, or undefined (the router's own answer stands).
 * A failing hook counts as none.
 */
export async function errorHookAnswer(
  hooks: RouterHooks | undefined,
  failure: RouterError,
  c: Context<SessionEnv>,
): Promise<Response | undefined> {
  for (const hook of hooks?.beforeErrorHandler ?? []) {
    try {
      const answer = await hook(failure, c);
      if (answer instanceof Response) return answer;
    } catch {
      // An extension's bug must not replace a clear error by another 500.
    }
  }
  return undefined;
}
