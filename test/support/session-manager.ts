import { MemoryTier } from "../../src/session/memory-tier.js";
import { SessionManager, type SessionManagerOptions } from "../../src/session/manager.js";

export interface TestManagerOptions extends Partial<Omit<SessionManagerOptions, "memory">> {
  /** First-tier limits (default 100 entries, 10 MB). */
  maxEntries?: number;
  maxBytes?: number;
}

/**
 * A `SessionManager` as the tests build it: a first tier with the same idle timeout, and
 * the external tier only when given (without it: memory only). Defaults: 15 minutes idle,
 * ten times that absolute, no revalidation, the TTL touched at most once a minute, the
 * real clock.
 */
export function testSessionManager(options: TestManagerOptions = {}): SessionManager {
  const { maxEntries = 100, maxBytes = 1e7, ...rest } = options;
  const idleTimeoutMs = rest.idleTimeoutMs ?? 15 * 60_000;
  return new SessionManager({
    absoluteTimeoutMs: idleTimeoutMs * 10,
    revalidateAfterMs: Infinity,
    touchIntervalMs: 60_000,
    now: Date.now,
    ...rest,
    idleTimeoutMs,
    memory: new MemoryTier({ maxEntries, maxBytes, idleTimeoutMs }),
  });
}
