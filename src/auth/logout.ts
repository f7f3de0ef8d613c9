import type { Context } from "hono";
import { decodeJwt, jwtVerify } from "jose";
import { errorPage } from "../http/pages.js";
import type { SessionEnv } from "../session/middleware.js";
import type { AuthData } from "./auth-data.js";
import { markOnce, type AuthServices } from "./services.js";

/**
 * Logout towards the identity provider: RP-initiated logout after the router's own, and
 * OpenID Connect Back-Channel Logout 1.0, which ends every session of a provider `sid`
 * (or of a `sub`) on every isolate: in the store at once, in other isolates' first tiers
 * within the revalidation window.
 */
export const BACKCHANNEL_LOGOUT_PATH = "/login/backchannel-logout";
const LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout";

/** The provider's end-session URL for a user who just logged out, or null if it has none. */
export async function endSessionUrl(services: AuthServices, auth: AuthData, postLogoutRedirectUri: string): Promise<string | null> {
  const provider = services.providers.get(auth.idp);
  if (!provider) return null;
  try {
    const as = await provider.authorizationServer();
    if (!as.end_session_endpoint) return null;
    const url = new URL(as.end_session_endpoint);
    url.searchParams.set("id_token_hint", auth.idToken);
    url.searchParams.set("post_logout_redirect_uri", postLogoutRedirectUri);
    url.searchParams.set("client_id", provider.config.clientId);
    return url.href;
  } catch {
    return null; // provider down: the router's own logout is done anyway
  }
}

export async function handleBackchannelLogout(c: Context<SessionEnv>, services: AuthServices): Promise<Response> {
  const reject = (reason: string) => {
    services.log("auth.backchannel.warn", { reason });
    return new Response(JSON.stringify({ error: "invalid_request" }), {
      status: 400,
      headers: { "content-type": "application/json", "cache-control": "no-store" },
    });
  };
  if (c.req.method !== "POST") return errorPage(405, "METHOD_NOT_ALLOWED", { allow: "POST" });
  let token: unknown;
  try {
    token = (await c.req.parseBody())["logout_token"];
  } catch {
    return reject("body");
  }
  if (typeof token !== "string" || token.length > 16_384) return reject("no logout_token");

  let issuer: unknown;
  try {
    issuer = decodeJwt(token).iss;
  } catch {
    return reject("malformed");
  }
  const provider = [...services.providers.values()].find((p) => p.config.issuer === issuer || `${p.config.issuer}/` === issuer);
  if (!provider) return reject("unknown issuer");

  let claims: Record<string, unknown>;
  try {
    const as = await provider.authorizationServer();
    ({ payload: claims } = await jwtVerify(token, await provider.keys(), {
      issuer: as.issuer,
      audience: provider.config.clientId,
      maxTokenAge: "10m",
      requiredClaims: ["iat", "jti"],
    }));
  } catch {
    return reject("verification");
  }
  const events = claims.events as Record<string, unknown> | undefined;
  if (typeof events !== "object" || events === null || typeof events[LOGOUT_EVENT] !== "object") return reject("events");
  if ("nonce" in claims) return reject("nonce");
  const sid = typeof claims.sid === "string" ? claims.sid : undefined;
  const sub = typeof claims.sub === "string" ? claims.sub : undefined;
  if (!sid && !sub) return reject("no sid or sub");
  if (!(await markOnce(services, "bcl", String(claims.jti), 20 * 60_000))) return reject("replayed");

  const index = sid ? `sid\0${claims.iss}\0${sid}` : `sub\0${claims.iss}\0${sub}`;
  const ended = await services.manager.destroyIndexed(index);
  if (ended === "unavailable") {
    // The provider retries on an error answer; the sessions must not outlive the logout,
    // so the retry must not be taken for a replay (the marker fell back to this isolate).
    services.local.used.delete(`bcl\0${String(claims.jti)}`);
    return new Response(null, { status: 503, headers: { "cache-control": "no-store", "retry-after": "5" } });
  }
  services.metrics.backchannelLogouts++;
  services.log("auth.backchannel", { sessions: ended });
  return new Response(null, { status: 200, headers: { "cache-control": "no-store" } });
}
