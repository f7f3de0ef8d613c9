import * as oauth from "oauth4webapi";
import type { Session } from "../session/manager.js";
import { authOf, type AuthData } from "./auth-data.js";
import { randomToken } from "./login-state.js";
import type { IdentityProvider } from "./provider.js";
import { leases, type AuthServices } from "./services.js";

/**
 * Keeps the access token fresh: refreshed once it is within `SKEW_MS` of expiry (a
 * quarter of its lifetime for short-lived tokens), and
 * **once per session across all isolates**. A lease in the store (`SET NX PX`, renewed
 * while the call runs) elects one request; the others wait and reload the session the
 * winner stored. A transient provider error never ends the session; `invalid_grant`
 * does (the refresh token is dead).
 */
export type Freshness = "fresh" | "ended" | "unavailable";

export const SKEW_MS = 60_000;
const LEASE_MS = 10_000;
const WAIT_MS = 10_000;
const POLL_MS = 100;

export async function ensureFreshTokens(
  session: Session,
  provider: IdentityProvider,
  services: AuthServices,
  waitUntil: (p: Promise<unknown>) => void,
): Promise<Freshness> {
  const deadline = services.now() + WAIT_MS;
  for (;;) {
    const auth = authOf(session.record.data);
    if (!auth) return "ended";
    const now = services.now();
    if (auth.expiresAt - now > refreshMargin(auth)) return "fresh";
    if (!auth.refreshToken) return auth.expiresAt > now ? "fresh" : "ended";

    const owner = randomToken(16);
    const got = await leases.acquire(services, session.id, owner, LEASE_MS);
    if (got !== false) {
      // Holding the lease (or the store is down: refresh alone, best effort).
      try {
        if (got === true && (await adoptStored(session, services))) continue; // someone refreshed just before us
        return await refreshNow(session, auth, provider, services, owner, waitUntil);
      } finally {
        if (got === true) await leases.release(services, session.id, owner);
      }
    }
    services.metrics.refreshWaits++;
    if (services.now() >= deadline) return auth.expiresAt > services.now() ? "fresh" : "unavailable";
    await services.sleep(POLL_MS);
    if (!(await adoptStored(session, services, true))) return "ended";
  }
}

/**
 * Replaces the request's copy with the stored one. Returns whether the stored tokens
 * are newer; with `presence`, whether the session still exists at all.
 */
export function refreshMargin(auth: AuthData): number {
  return Math.min(SKEW_MS, (auth.lifetimeMs ?? SKEW_MS * 4) / 4);
}

async function adoptStored(session: Session, services: AuthServices, presence = false): Promise<boolean> {
  const stored = await services.manager.reread(session.id);
  if (!stored) return false;
  const before = authOf(session.record.data)?.expiresAt ?? 0;
  const after = authOf(stored.record.data)?.expiresAt ?? 0;
  session.record = stored.record;
  session.base = stored.base;
  return presence ? true : after > before;
}

async function refreshNow(
  session: Session,
  auth: AuthData,
  provider: IdentityProvider,
  services: AuthServices,
  owner: string,
  waitUntil: (p: Promise<unknown>) => void,
): Promise<Freshness> {
  const renew = setInterval(() => void leases.renew(services, session.id, owner, LEASE_MS), LEASE_MS / 3);
  try {
    const as = await provider.authorizationServer();
    const response = await oauth.refreshTokenGrantRequest(as, provider.client, provider.clientAuth, auth.refreshToken!, provider.requestOptions);
    const result = await oauth.processRefreshTokenResponse(as, provider.client, response);
    const next: AuthData = {
      ...auth,
      accessToken: result.access_token,
      ...(result.refresh_token ? { refreshToken: result.refresh_token } : {}),
      ...(result.id_token ? { idToken: result.id_token } : {}),
      expiresAt: services.now() + (result.expires_in ?? 3600) * 1000,
      lifetimeMs: (result.expires_in ?? 3600) * 1000,
      ...(result.scope ? { scopes: result.scope.split(" ").filter(Boolean) } : {}),
    };
    session.record = { ...session.record, data: { ...session.record.data, auth: next } };
    // Stored before the lease is released, so waiting requests find the new tokens.
    const committed = await services.manager.commit(session, waitUntil);
    services.metrics.refreshes++;
    return committed === "gone" ? "ended" : "fresh";
  } catch (error) {
    services.metrics.refreshFailures++;
    if (error instanceof oauth.ResponseBodyError && error.error === "invalid_grant") {
      services.log("auth.refresh.warn", { reason: "invalid_grant" });
      return "ended";
    }
    services.log("auth.refresh.warn", { reason: "provider unavailable" });
    return auth.expiresAt > services.now() ? "fresh" : "unavailable";
  } finally {
    clearInterval(renew);
  }
}
