import type { Context } from "hono";
import { authOf } from "../auth/auth-data.js";
import { endSessionUrl } from "../auth/logout.js";
import type { AuthServices } from "../auth/services.js";
import type { Destination, LogoutConfig, XsAppConfig } from "../config/types.js";
import { cookieHeaderFor, readJar } from "../proxy/backend-cookies.js";
import { csrfDecision } from "../security/csrf.js";
import type { SessionRecord } from "../session/record.js";
import type { SessionEnv } from "../session/middleware.js";
import { errorPage } from "./pages.js";
import { waitUntilOf } from "./wait-until.js";

/**
 * `logout.logoutEndpoint`: ends the session in both tiers (CSRF-checked as configured),
 * tells each destination with a `logoutPath` (with its cookies and the user's token),
 * clears the browser's cookies, then sends the browser to the identity provider's
 * logout, which comes back to `logoutPage`.
 */
export function logoutHandler(options: {
  logout: LogoutConfig;
  xsApp: XsAppConfig;
  destinations: ReadonlyMap<string, Destination>;
  fetch: typeof fetch;
  auth?: AuthServices;
}) {
  const { logout, auth } = options;
  return async (c: Context<SessionEnv>): Promise<Response> => {
    if (c.req.method !== logout.logoutMethod) return errorPage(405, "METHOD_NOT_ALLOWED", { allow: logout.logoutMethod });
    const scope = c.get("session");
    const session = await scope.current();
    const user = authOf(session?.record.data);
    if (session) {
      const decision = csrfDecision({
        method: c.req.method,
        fetchHeader: c.req.header("x-csrf-token") ?? null,
        routeRequiresAuth: true,
        csrfProtection: logout.csrfProtection,
        sessionToken: session.record.csrf,
      });
      if (decision.kind === "reject") return errorPage(403, "CSRF_TOKEN_REQUIRED", { "x-csrf-token": "Required" });
      const record = session.record;
      await scope.destroy();
      waitUntilOf(c)(callBackendLogouts(record, options));
    } else if (c.req.header("cookie")) {
      await scope.destroy(); // clears a stale cookie too
    }
    const headers = { "clear-site-data": '"cookies"', "cache-control": "no-store" };
    const back = new URL(logout.logoutPage ?? "/", c.req.url).href;
    const providerLogout = user && auth ? await endSessionUrl(auth, user, back) : null;
    const location = providerLogout ?? logout.logoutPage;
    if (location) return new Response(null, { status: 302, headers: { ...headers, location } });
    return c.html("<!doctype html><title>Logged out</title><p>You have been logged out.</p>", 200, headers);
  };
}

/** SAP calls every destination's `logoutPath` when a session ends, so backends can end theirs. */
async function callBackendLogouts(
  record: SessionRecord,
  options: { xsApp: XsAppConfig; destinations: ReadonlyMap<string, Destination>; fetch: typeof fetch },
): Promise<void> {
  const cookies = (record.data?.cookies ?? {}) as Record<string, unknown>;
  const token = authOf(record.data)?.accessToken;
  await Promise.all(
    [...options.xsApp.destinations].map(async ([name, { logoutPath, logoutMethod }]) => {
      const destination = options.destinations.get(name);
      if (!destination || !logoutPath) return;
      const headers = new Headers();
      const cookie = cookieHeaderFor(readJar(cookies[name]), null, logoutPath);
      if (cookie) headers.set("cookie", cookie);
      if (destination.forwardAuthToken && token) headers.set("authorization", `Bearer ${token}`);
      try {
        const response = await options.fetch(destination.url + logoutPath, { method: logoutMethod, headers, signal: AbortSignal.timeout(destination.timeoutMs) });
        await response.body?.cancel();
      } catch {
        // Best effort, as in SAP: the router's own logout is done.
      }
    }),
  );
}
