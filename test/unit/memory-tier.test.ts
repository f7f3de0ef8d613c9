import { describe, expect, it } from "vitest";
import { entryBytes, MemoryTier, type MemoryEntry } from "../../src/session/memory-tier.js";

// Fixed-width timestamps in the record, so every entry of one padding has one size.
function entry(now: number, padding = 0, exp = 1e12): MemoryEntry {
  const record = { v: 1 as const, iat: 1e12, exp, data: { pad: "x".repeat(padding) } };
  return {
    record,
    size: JSON.stringify(record).length,
    lastAccess: now,
    validatedAt: now,
    ttlSetAt: now,
    dirty: false,
  };
}

describe("MemoryTier", () => {
  it("evicts the least recently used entry beyond maxEntries", () => {
    const tier = new MemoryTier({ maxEntries: 3, maxBytes: 1e9, idleTimeoutMs: 1e9 });
    for (const id of ["a", "b", "c"]) tier.set(id, entry(0), 0);
    tier.get("a", 1); // a is now the most recent
    tier.set("d", entry(1), 1);
    expect(tier.get("b", 2)).toBeUndefined();
    expect(tier.get("a", 2)).toBeDefined();
    expect(tier.get("c", 2)).toBeDefined();
    expect(tier.get("d", 2)).toBeDefined();
    expect(tier.stats()).toMatchObject({ entries: 3, evictions: 1 });
  });

  it("stays under maxBytes and accounts bytes exactly", () => {
    const one = entryBytes(entry(0, 1000));
    const tier = new MemoryTier({ maxEntries: 1e6, maxBytes: one * 5 + 10, idleTimeoutMs: 1e9 });
    for (let i = 0; i < 50; i++) {
      tier.set(`s${i}`, entry(i, 1000), i);
      expect(tier.stats().bytes).toBeLessThanOrEqual(one * 5 + 10);
    }
    expect(tier.stats()).toMatchObject({ entries: 5, bytes: one * 5, evictions: 45 });
    for (let i = 45; i < 50; i++) tier.delete(`s${i}`);
    expect(tier.stats()).toMatchObject({ entries: 0, bytes: 0 });
  });

  it("replacing an entry does not leak bytes, even if the caller mutated the old one", () => {
    const tier = new MemoryTier({ maxEntries: 10, maxBytes: 1e9, idleTimeoutMs: 1e9 });
    const e = entry(0, 10);
    tier.set("a", e, 0);
    e.size += 5000; // a careless caller
    tier.set("a", entry(0, 10), 0);
    expect(tier.stats().bytes).toBe(entryBytes(entry(0, 10)));
  });

  it("refuses an entry larger than the whole budget", () => {
    const tier = new MemoryTier({ maxEntries: 10, maxBytes: 1000, idleTimeoutMs: 1e9 });
    tier.set("big", entry(0, 5000), 0);
    expect(tier.get("big", 0)).toBeUndefined();
    expect(tier.stats().bytes).toBe(0);
  });

  it("expires idle entries on read and sweeps them from the cold end on write", () => {
    const tier = new MemoryTier({ maxEntries: 100, maxBytes: 1e9, idleTimeoutMs: 1000 });
    tier.set("old1", entry(0), 0);
    tier.set("old2", entry(0), 0);
    tier.set("fresh", entry(900), 900);
    expect(tier.get("old1", 999)).toBeDefined(); // accessed: now the warmest
    expect(tier.get("old2", 1000)).toBeUndefined(); // idle for 1000 ms
    tier.set("new", entry(1500), 1500);
    tier.set("new2", entry(1950), 1950); // sweeps "fresh" (idle 1050 ms), stops at "old1" (951 ms)
    expect(tier.stats()).toMatchObject({ entries: 3, expirations: 2 });
    expect(tier.get("old1", 1950)).toBeDefined();
  });

  it("expires entries past their absolute lifetime", () => {
    const tier = new MemoryTier({ maxEntries: 100, maxBytes: 1e9, idleTimeoutMs: 1e9 });
    tier.set("a", entry(0, 0, 500), 0);
    expect(tier.get("a", 499)).toBeDefined(); // lastAccess 0, idle 1e9: only the absolute limit applies
    expect(tier.get("a", 500)).toBeUndefined();
  });

  it("stays under its byte cap through a churn of 100,000 sessions", () => {
    const maxBytes = 2 * 1024 * 1024;
    const tier = new MemoryTier({ maxEntries: 1e6, maxBytes, idleTimeoutMs: 1e9 });
    for (let i = 0; i < 100_000; i++) {
      tier.set(`id-${i}`, entry(i, 200), i);
    }
    const stats = tier.stats();
    expect(stats.bytes).toBeLessThanOrEqual(maxBytes);
    expect(stats.entries).toBe(Math.floor(maxBytes / entryBytes(entry(0, 200))));
    expect(stats.evictions).toBe(100_000 - stats.entries);
  });
});
