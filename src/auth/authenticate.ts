import type { Context } from "hono";
import type { Authenticator } from "./types.js";
import { LABEL_FOR } from "../config/identity.js";
import type { RouteConfig } from "../config/types.js";
import { errorPage } from "../http/pages.js";
import { waitUntilOf } from "../http/wait-until.js";
import type { SessionEnv } from "../session/middleware.js";
import { authOf } from "./auth-data.js";
import { tenantOfHost } from "./endpoints.js";
import { startLogin } from "./login.js";
import { ensureFreshTokens } from "./refresh.js";
import { scopeAllows, scopesFor } from "./scopes.js";
import type { AuthServices } from "./services.js";

/**
 * The gate of routes that require authentication. No login yet: a navigation is sent
 * to the identity provider, anything else (non-GET, XMLHttpRequest) gets 401, as in
 * SAP's router. Logged in: the session must belong to the request host's tenant (403,
 * as SAP), tokens are kept fresh and the route's scopes are checked.
 */
export function createAuthenticator(services: AuthServices): Authenticator {
  return async (c: Context<SessionEnv>, route: RouteConfig) => {
    if (route.authenticationType === "none") return null;
    const label = LABEL_FOR[route.authenticationType];
    const provider = services.providers.get(label);
    if (!provider) return errorPage(500, "IDP_NOT_CONFIGURED"); // validated at start-up
    const scope = c.get("session");
    const session = await scope.current();
    const auth = authOf(session?.record.data);
    // The cookie names a session the store cannot be asked about (a fresh isolate while the
    // store is down): a login now would replace it, so the user is asked to try again instead.
    if (!session && scope.undetermined)
      return errorPage(503, "SESSION_STORE_UNAVAILABLE", { "retry-after": "5" });
    if (!session || !auth || auth.idp !== label) return loginOrDeny(c, services, label, route);

    const pattern = services.login.tenantHostPattern; // without it, no URL to parse on every request
    const hostTenant = pattern && tenantOfHost(new URL(c.req.url).host, pattern);
    if (hostTenant !== undefined && auth.tenant !== undefined && hostTenant !== auth.tenant) {
      services.log("auth.tenant.warn", { reason: "session of another tenant" });
      return errorPage(403, "TENANT_MISMATCH");
    }

    const freshness = await ensureFreshTokens(session, provider, services, waitUntilOf(c));
    if (freshness === "ended") {
      await scope.destroy();
      return loginOrDeny(c, services, label, route);
    }
    if (freshness === "unavailable") return errorPage(503, "IDP_UNAVAILABLE", { "retry-after": "10" });

    const granted = authOf(session.record.data)!.scopes;
    if (!scopeAllows(route.scope, c.req.method, granted, provider.config.xsappname)) {
      const wanted = scopesFor(route.scope, c.req.method) ?? [];
      services.log("auth.scope.warn", {
        method: c.req.method,
        wanted: wanted.map((s) =>
          provider.config.xsappname ? s.replaceAll("$XSAPPNAME", provider.config.xsappname) : s,
        ),
      });
      return errorPage(403, "INSUFFICIENT_SCOPE");
    }
    return null;
  };
}

function loginOrDeny(
  c: Context<SessionEnv>,
  services: AuthServices,
  label: "xsuaa" | "identity",
  route: RouteConfig,
): Promise<Response> | Response {
  const method = c.req.method;
  const xhr = (c.req.header("x-requested-with") ?? "").toLowerCase() === "xmlhttprequest";
  if ((method !== "GET" && method !== "HEAD") || xhr) return errorPage(401, "AUTHENTICATION_REQUIRED");
  return startLogin(c, services, label, identityProviderFor(c, route, services));
}

/**
 * The identity provider to ask for: the route's, or, where the route or
 * DYNAMIC_IDENTITY_PROVIDER allows it, the one the request names in `sap_idp` (SAP: an
 * XSUAA origin key or an IAS corporate provider's name). Harmless to take from the
 * request: it only picks among the providers the tenant trusts, and travels URL-encoded.
 */
function identityProviderFor(
  c: Context<SessionEnv>,
  route: RouteConfig,
  services: AuthServices,
): string | undefined {
  if (route.dynamicIdentityProvider || services.login.dynamicIdentityProvider) {
    const chosen = c.req.query("sap_idp");
    if (chosen) return chosen;
  }
  return route.identityProvider;
}
