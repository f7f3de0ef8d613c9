import type { Context } from "hono";
import { authOf } from "../auth/auth-data.js";
import { endSessionUrl } from "../auth/logout.js";
import type { AuthServices } from "../auth/services.js";
import type { Destination, LogoutConfig, XsAppConfig } from "../config/types.js";
import type { LogoutDestinationLookup } from "../destinations/index.js";
import { applyDestinationHeaders, withDestinationQueries } from "../destinations/request.js";
import { cookieHeaderFor } from "../proxy/backend-cookies.js";
import { jarOf } from "../proxy/session-jar.js";
import { csrfDecision } from "../security/csrf.js";
import type { SessionRecord } from "../session/record.js";
import type { SessionEnv } from "../session/middleware.js";
import { errorPage } from "../http/pages.js";
import { waitUntilOf } from "../http/wait-until.js";
import { CSRF_HEADER, type CsrfTokenFor, csrfTokenRequired, giveCsrfToken } from "./csrf.js";

/**
 * `logout.logoutEndpoint`: ends the session in both tiers (CSRF-checked as configured),
 * tells each destination with a `logoutPath` (with its cookies and the user's token),
 * expires the session cookie, then sends the browser to the identity provider's logout,
 * which comes back to `logoutPage`.
 */
export function logoutHandler(options: {
  logout: LogoutConfig;
  xsApp: XsAppConfig;
  destinations: ReadonlyMap<string, Destination>;
  /** Destinations of the destination service (src/destinations), for their logoutPath. */
  lookup?: LogoutDestinationLookup;
  fetch: typeof fetch;
  auth?: AuthServices;
  csrfTokenFor: CsrfTokenFor;
}) {
  const { logout, auth } = options;
  // SAP checks the token only on a POST logout of an app that requires login.
  const checksCsrf =
    logout.csrfProtection && logout.logoutMethod === "POST" && options.xsApp.authenticationMethod === "route";
  return async (c: Context<SessionEnv>): Promise<Response> => {
    const scope = c.get("session");
    if (c.req.method !== logout.logoutMethod) {
      // SAP answers a token fetch here too (a UI fetches it before its POST logout).
      if (
        (c.req.method === "GET" || c.req.method === "HEAD") &&
        c.req.header(CSRF_HEADER)?.toLowerCase() === "fetch"
      ) {
        const session = await scope.ensure();
        if (!session) return errorPage(503, "SESSION_STORE_UNAVAILABLE");
        const token = await giveCsrfToken(session, options.csrfTokenFor);
        return new Response(null, {
          status: 200,
          headers: { [CSRF_HEADER]: token, "cache-control": "no-store" },
        });
      }
      return errorPage(405, "METHOD_NOT_ALLOWED", { allow: logout.logoutMethod });
    }
    const session = await scope.current();
    const user = authOf(session?.record.data);
    if (session && checksCsrf) {
      const decision = csrfDecision({
        method: c.req.method,
        fetchHeader: c.req.header(CSRF_HEADER) ?? null,
        routeRequiresAuth: true,
        csrfProtection: true,
        sessionToken: session.record.csrf,
      });
      if (decision.kind === "reject") return csrfTokenRequired();
    }
    if (session) waitUntilOf(c)(callBackendLogouts(session.record, options));
    await scope.destroy(); // also clears the cookie when there was none to find, as SAP does
    // No Clear-Site-Data: browsers apply it to the whole site (every subdomain's cookies),
    // which would log users out of other applications; the session cookie is expired instead.
    const headers = { "cache-control": "no-cache, no-store, must-revalidate" };
    // SAP: `?skip-redirect` ends the session without sending the browser anywhere.
    if (new URL(c.req.url).searchParams.has("skip-redirect"))
      return new Response(null, { status: 200, headers });
    // The provider comes back to logoutPage (absolute); without one SAP sends the bare logout URL.
    const back = logout.logoutPage !== undefined ? new URL(logout.logoutPage, c.req.url).href : undefined;
    const providerLogout = user && auth ? await endSessionUrl(auth, user, back) : null;
    const next = providerLogout ?? logout.logoutPage;
    if (c.req.method === "POST") {
      // SAP answers a POST logout (usually an XMLHttpRequest) with a page, not a redirect
      // the script could not follow to another origin; the page moves the browser on.
      return c.html(loggedOutPage(next), 200, headers);
    }
    if (next) return new Response(null, { status: 302, headers: { ...headers, location: next } });
    return c.html(loggedOutPage(undefined), 200, headers);
  };
}

function loggedOutPage(next: string | undefined): string {
  if (!next) return "<!doctype html><title>Logged out</title><p>You have been logged out.</p>";
  const href = escapeHtml(next);
  return (
    `<!doctype html><title>Logged out</title><meta http-equiv="refresh" content="0;url=${href}">` +
    `<p>You have been logged out. <a href="${href}">Continue</a></p>`
  );
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

/**
 * SAP calls every destination's `logoutPath` when a session ends (logout or timeout), so
 * backends can end theirs.
 */
export async function callBackendLogouts(
  record: SessionRecord,
  options: {
    xsApp: XsAppConfig;
    destinations: ReadonlyMap<string, Destination>;
    lookup?: LogoutDestinationLookup;
    fetch: typeof fetch;
  },
): Promise<void> {
  const token = authOf(record.data)?.accessToken;
  await Promise.all(
    [...options.xsApp.destinations].map(async ([name, { logoutPath, logoutMethod }]) => {
      if (!logoutPath) return;
      const destination = options.destinations.get(name) ?? (await options.lookup?.(name, token));
      if (!destination) return;
      const headers = new Headers();
      const cookie = cookieHeaderFor(jarOf(record, name), null, logoutPath);
      if (cookie) headers.set("cookie", cookie);
      if (destination.forwardAuthToken && token) headers.set("authorization", `Bearer ${token}`);
      // A destination of the service: its authentication, sap-client, URL.headers/queries (SAP).
      applyDestinationHeaders(headers, new Headers(), destination);
      const url = withDestinationQueries(destination.url + logoutPath, destination);
      try {
        const response = await options.fetch(url, {
          method: logoutMethod,
          headers,
          signal: AbortSignal.timeout(destination.timeoutMs),
        });
        await response.body?.cancel();
      } catch {
        // Best effort, as in SAP: the router's own logout is done.
      }
    }),
  );
}
