import type { LoginSettings } from "../config/types.js";
import type { Logger } from "../log.js";
import type { ExternalTier } from "../session/external-tier.js";
import type { SessionManager } from "../session/manager.js";
import type { IdentityProvider } from "./provider.js";

/** What the login flow needs, built once per isolate. */
export interface AuthServices {
  providers: ReadonlyMap<"xsuaa" | "identity", IdentityProvider>;
  /** Key of the login-state cookie (from the session secret, else the client secret). */
  loginKey: Uint8Array;
  manager: SessionManager;
  external?: ExternalTier;
  /** Per-isolate stand-ins for the store's single-use markers and leases (memory-only mode). */
  local: { used: Map<string, number>; leases: Map<string, { owner: string; until: number }> };
  cookieName: string;
  callbackPath: string;
  /** JWT_REFRESH, TENANT_HOST_PATTERN, PRESERVE_FRAGMENT and the other login variables. */
  login: LoginSettings;
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  log: Logger;
  metrics: AuthMetrics;
}

export interface AuthMetrics {
  logins: number;
  loginFailures: number;
  refreshes: number;
  refreshFailures: number;
  refreshWaits: number;
  backchannelLogouts: number;
}

export function newAuthMetrics(): AuthMetrics {
  return {
    logins: 0,
    loginFailures: 0,
    refreshes: 0,
    refreshFailures: 0,
    refreshWaits: 0,
    backchannelLogouts: 0,
  };
}

/** Marks `value` used; false when it already was. */
export async function markOnce(
  services: AuthServices,
  kind: string,
  value: string,
  ttlMs: number,
): Promise<boolean> {
  if (services.external) {
    const marked = await services.external.markOnce(kind, value, ttlMs);
    if (marked !== "unavailable") return marked;
    services.log("auth.store.warn", { op: "markOnce" }); // fall back to this isolate's memory
  }
  const key = `${kind}\0${value}`;
  const t = services.now();
  for (const [k, until] of services.local.used) if (until <= t) services.local.used.delete(k);
  if (services.local.used.has(key)) return false;
  services.local.used.set(key, t + ttlMs);
  return true;
}

export const leases = {
  async acquire(
    services: AuthServices,
    name: string,
    owner: string,
    ttlMs: number,
  ): Promise<boolean | "unavailable"> {
    if (services.external) return services.external.acquireLease(name, owner, ttlMs);
    const t = services.now();
    const held = services.local.leases.get(name);
    if (held && held.until > t) return false;
    services.local.leases.set(name, { owner, until: t + ttlMs });
    return true;
  },
  async renew(services: AuthServices, name: string, owner: string, ttlMs: number): Promise<void> {
    if (services.external) return services.external.renewLease(name, ttlMs);
    const held = services.local.leases.get(name);
    if (held?.owner === owner) held.until = services.now() + ttlMs;
  },
  async release(services: AuthServices, name: string, owner: string): Promise<void> {
    if (services.external) return services.external.releaseLease(name, owner);
    if (services.local.leases.get(name)?.owner === owner) services.local.leases.delete(name);
  },
};
