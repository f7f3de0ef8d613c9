import type { Context } from "hono";
import { decodeJwt } from "jose";
import { errorPage } from "../http/pages.js";
import type { SessionEnv } from "../session/middleware.js";
import type { AuthData } from "./auth-data.js";
import { ProviderError } from "./provider.js";
import { markOnce, type AuthServices } from "./services.js";

/**
 * Logout towards the identity provider: the provider's logout after the router's own
 * (XSUAA `/logout.do?redirect=&client_id=`, IAS `end_session_endpoint` /
 * `/oauth2/logout?post_logout_redirect_uri=&client_id=`), and OpenID Connect Back-Channel
 * Logout 1.0 (IAS), which ends every session of a provider `sid` (or of a `sub`) on every
 * isolate: in the store at once, in other isolates' first tiers within the revalidation
 * window. Served at xs-app.json `logout.backChannelLogoutEndpoint` (SAP's property) and at
 * the fixed alias `/login/backchannel-logout`.
 */
export const BACKCHANNEL_LOGOUT_PATH = "/login/backchannel-logout";
const LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout";
const JTI_TTL_MS = 20 * 60_000;

/** The provider's logout URL for a user who just logged out, or null when it cannot be built now. */
export async function endSessionUrl(
  services: AuthServices,
  auth: AuthData,
  postLogoutRedirectUri: string | undefined,
): Promise<string | null> {
  const provider = services.providers.get(auth.idp);
  if (!provider) return null;
  return provider.logoutUrl({
    ...(auth.tenant && { tenant: auth.tenant }),
    ...(postLogoutRedirectUri !== undefined && { postLogoutRedirectUri }),
    ...(auth.idToken && { idToken: auth.idToken }),
  });
}

export async function handleBackchannelLogout(
  c: Context<SessionEnv>,
  services: AuthServices,
): Promise<Response> {
  const reject = (reason: string, fields: Record<string, unknown> = {}) => {
    services.log("auth.backchannel.warn", { reason, ...fields });
    return new Response(JSON.stringify({ error: "invalid_request" }), {
      status: 400,
      headers: { "content-type": "application/json", "cache-control": "no-store" },
    });
  };
  if (c.req.method !== "POST") return errorPage(405, "METHOD_NOT_ALLOWED", { allow: "POST" });
  let token: unknown;
  try {
    token = (await c.req.parseBody()).logout_token;
  } catch {
    return reject("body");
  }
  if (typeof token !== "string" || token.length > 16_384) return reject("no logout_token");

  let unverified: Record<string, unknown>;
  try {
    unverified = decodeJwt(token);
  } catch {
    return reject("malformed");
  }
  const provider = [...services.providers.values()].find((p) => p.acceptsIssuer(unverified));
  if (!provider) return reject("unknown issuer");

  let claims: Record<string, unknown>;
  try {
    claims = await provider.verifyLogoutToken(token);
  } catch (error) {
    if (error instanceof ProviderError && error.kind === "unavailable") {
      services.log("auth.idp.error", { label: provider.config.label, ...error.fields });
      return new Response(null, {
        status: 503,
        headers: { "cache-control": "no-store", "retry-after": "5" },
      });
    }
    return reject("verification", error instanceof ProviderError ? error.fields : {});
  }
  const events = claims.events;
  const event =
    typeof events === "object" && events !== null && !Array.isArray(events)
      ? (events as Record<string, unknown>)[LOGOUT_EVENT]
      : undefined;
  if (typeof event !== "object" || event === null || Array.isArray(event)) return reject("events");
  if ("nonce" in claims) return reject("nonce");
  const sid = typeof claims.sid === "string" && claims.sid !== "" ? claims.sid : undefined;
  const sub = typeof claims.sub === "string" && claims.sub !== "" ? claims.sub : undefined;
  if (!sid && !sub) return reject("no sid or sub");
  const iss = String(claims.iss);

  // Sessions first, replay marker after: a retry after a failed delete must succeed, and
  // ending the same sessions twice is harmless. The marker is scoped by issuer, so one
  // provider's `jti` cannot block another's.
  const index = sid ? `sid\0${iss}\0${sid}` : `sub\0${iss}\0${sub}`;
  const ended = await services.manager.destroyIndexed(index);
  if (ended === "unavailable") {
    return new Response(null, { status: 503, headers: { "cache-control": "no-store", "retry-after": "5" } });
  }
  if (!(await markOnce(services, "bcl", `${iss}\0${String(claims.jti)}`, JTI_TTL_MS)))
    return reject("replayed");
  services.metrics.backchannelLogouts++;
  services.log("auth.backchannel", { sessions: ended });
  return new Response(null, { status: 200, headers: { "cache-control": "no-store" } });
}
