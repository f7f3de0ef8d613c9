import type { Session } from "../session/manager.js";
import { authOf, type AuthData } from "./auth-data.js";
import { randomToken } from "./login-state.js";
import { ProviderError, type IdentityProvider } from "./provider.js";
import { leases, type AuthServices } from "./services.js";

/**
 * Keeps the access token fresh: refreshed once it is within JWT_REFRESH of expiry (a
 * quarter of its lifetime for tokens shorter than that), and
 * **once per session across all isolates**. A lease in the store (`SET NX PX`, renewed
 * while the call runs) elects one request; the others wait and reload the session the
 * winner stored. A transient provider error never ends the session, nor does a store
 * that cannot be read while waiting; a refused refresh token (400/401, `invalid_grant`)
 * does, once, for every isolate (the session is deleted in the store).
 */
export type Freshness = "fresh" | "ended" | "unavailable";

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
    if (auth.expiresAt - now > refreshMargin(auth, services.login.refreshBeforeMs)) return "fresh";
    if (!auth.refreshToken) return auth.expiresAt > now ? "fresh" : "ended";

    const owner = randomToken(16);
    const got = await leases.acquire(services, session.id, owner, LEASE_MS);
    if (got !== false) {
      // Holding the lease (or the store is down: refresh alone, best effort).
      try {
        // "newer": someone refreshed just before us.
        if (got === true && (await adoptStored(session, services)) === "newer") continue;
        return await refreshNow(session, auth, provider, services, owner, waitUntil, got === true);
      } finally {
        if (got === true) await leases.release(services, session.id, owner);
      }
    }
    services.metrics.refreshWaits++;
    if (services.now() >= deadline) return auth.expiresAt > services.now() ? "fresh" : "unavailable";
    await services.sleep(POLL_MS);
    // Only a session the store says is gone ends here. An unreadable store keeps it: served
    // with the token it has while that is valid, else the next round retries (or refreshes
    // alone when the lease cannot be had either).
    const seen = await adoptStored(session, services);
    if (seen === "gone") return "ended";
    if (seen === "unknown" && auth.expiresAt > services.now()) return "fresh";
  }
}

/** How long before expiry a token is refreshed: JWT_REFRESH, at most a quarter of the token's lifetime. */
export function refreshMargin(auth: AuthData, refreshBeforeMs: number): number {
  return Math.min(refreshBeforeMs, (auth.lifetimeMs ?? refreshBeforeMs * 4) / 4);
}

/**
 * Replaces the request's copy with the stored one. "newer": the stored tokens are newer;
 * "same": stored, not newer; "gone": the store says the session no longer exists;
 * "unknown": the store could not be read (the request's copy is kept).
 */
async function adoptStored(
  session: Session,
  services: AuthServices,
): Promise<"newer" | "same" | "gone" | "unknown"> {
  const stored = await services.manager.reread(session.id);
  if (!stored) {
    // reread() folds "missing" and "unavailable" together; only a store that answers
    // "missing" may end the session.
    if (!services.external) return "gone";
    const probe = await services.external.read(session.id);
    return probe.kind === "missing" ? "gone" : probe.kind === "found" ? "same" : "unknown";
  }
  const before = authOf(session.record.data)?.expiresAt ?? 0;
  const after = authOf(stored.record.data)?.expiresAt ?? 0;
  session.record = stored.record;
  session.base = stored.base;
  return after > before ? "newer" : "same";
}

async function refreshNow(
  session: Session,
  auth: AuthData,
  provider: IdentityProvider,
  services: AuthServices,
  owner: string,
  waitUntil: (p: Promise<unknown>) => void,
  leased: boolean,
): Promise<Freshness> {
  const renew = setInterval(() => void leases.renew(services, session.id, owner, LEASE_MS), LEASE_MS / 3);
  try {
    const result = await provider.refresh(auth.refreshToken!, auth.tenant);
    const next: AuthData = {
      ...auth,
      accessToken: result.accessToken,
      // An answer without a refresh token keeps the old one (SAP's sticky mode would drop the whole answer).
      ...(result.refreshToken && { refreshToken: result.refreshToken }),
      ...(result.idToken && { idToken: result.idToken }),
      expiresAt: services.now() + result.expiresInS * 1000,
      lifetimeMs: result.expiresInS * 1000,
      ...(result.scopes && { scopes: result.scopes }),
    };
    session.record = { ...session.record, data: { ...session.record.data, auth: next } };
    // Stored before the lease is released, so waiting requests find the new tokens.
    const committed = await services.manager.commit(session, waitUntil);
    services.metrics.refreshes++;
    return committed === "gone" ? "ended" : "fresh";
  } catch (error) {
    if (!(error instanceof ProviderError)) throw error;
    services.metrics.refreshFailures++;
    if (error.kind === "rejected" && error.op === "refresh" && /^HTTP 40[01]$/.test(error.cause_)) {
      if (!leased) {
        // Refreshed without the lease (store unreachable): another isolate may have used this
        // (single-use) refresh token; only the store can tell, and it must say so.
        const seen = await adoptStored(session, services);
        if (seen === "newer") return "fresh";
        if (seen === "unknown") return auth.expiresAt > services.now() ? "fresh" : "unavailable";
      }
      services.log("auth.refresh.warn", {
        label: auth.idp,
        reason: "refresh token refused",
        ...error.fields,
      });
      return "ended";
    }
    services.log("auth.idp.error", { label: auth.idp, ...error.fields });
    return auth.expiresAt > services.now() ? "fresh" : "unavailable";
  } finally {
    clearInterval(renew);
  }
}
