import { describe, expect, it } from "vitest";
import { ResilientStore, type ResilienceOptions } from "../../src/stores/resilient.js";
import { MapByteStore } from "../support/map-byte-store.js";

/** A manual clock: sleeps resolve when the test advances time past them. */
function manualClock() {
  let t = 0;
  const sleepers: { at: number; resolve: () => void }[] = [];
  const sleep = (ms: number, signal?: AbortSignal) =>
    new Promise<void>((resolve) => {
      sleepers.push({ at: t + ms, resolve });
      signal?.addEventListener("abort", () => resolve());
    });
  const advance = async (ms: number) => {
    t += ms;
    for (const s of sleepers.filter((s) => s.at <= t)) s.resolve();
    await new Promise((r) => setTimeout(r, 0));
  };
  return { now: () => t, sleep, advance, sleeps: sleepers };
}

function options(
  clock: ReturnType<typeof manualClock>,
  over: Partial<ResilienceOptions> = {},
): ResilienceOptions {
  return {
    budgetMs: 2000,
    backOffMs: 50,
    maxAttempts: 3,
    cooldownMs: 1000,
    now: clock.now,
    sleep: clock.sleep,
    ...over,
  };
}

describe("ResilientStore", () => {
  it("passes results through", async () => {
    const clock = manualClock();
    const inner = new MapByteStore(clock.now);
    const store = new ResilientStore(inner, options(clock));
    expect(await store.set("k", "v", 1000, "create")).toEqual({ ok: true, value: true });
    expect(await store.get("k")).toEqual({ ok: true, value: "v" });
    expect(await store.set("k", "v", 1000, "create")).toEqual({ ok: true, value: false });
    expect(store.counters).toMatchObject({ calls: 3, failures: 0 });
  });

  it("retries a failing call with exponential pauses, then reports an error value", async () => {
    const clock = manualClock();
    const inner = new MapByteStore(clock.now);
    inner.failWith = new Error("connection refused");
    const store = new ResilientStore(inner, options(clock));
    const pending = store.get("k");
    await clock.advance(0);
    expect(inner.calls).toEqual(["get"]);
    await clock.advance(50); // first pause: backOff * 2^0
    expect(inner.calls).toEqual(["get", "get"]);
    await clock.advance(99);
    expect(inner.calls.length).toBe(2);
    await clock.advance(1); // second pause: backOff * 2^1
    expect(await pending).toEqual({ ok: false, failure: "error" });
    expect(inner.calls.length).toBe(3);
    expect(store.counters).toMatchObject({ calls: 3, failures: 1, timeouts: 0 });
  });

  it("bounds a hanging store by the budget, then skips calls during the cooldown", async () => {
    const clock = manualClock();
    const inner = new MapByteStore(clock.now);
    inner.hang = true;
    const store = new ResilientStore(inner, options(clock, { budgetMs: 300, cooldownMs: 1000 }));
    let result: unknown;
    void store.get("k").then((r) => (result = r));
    await clock.advance(299);
    expect(result).toBeUndefined();
    await clock.advance(1);
    expect(result).toEqual({ ok: false, failure: "timeout" });
    expect(inner.calls).toEqual(["get"]); // no retry past the budget
    expect(store.degraded).toBe(true);
    expect(await store.get("k")).toEqual({ ok: false, failure: "skipped" });
    expect(inner.calls.length).toBe(1);
    await clock.advance(1000);
    inner.hang = false;
    expect(store.degraded).toBe(false);
    expect(await store.get("k")).toEqual({ ok: true, value: null });
  });

  it("never pauses past the deadline", async () => {
    const clock = manualClock();
    const inner = new MapByteStore(clock.now);
    inner.failWith = new Error("boom");
    const store = new ResilientStore(
      inner,
      options(clock, { budgetMs: 120, backOffMs: 100, maxAttempts: 10 }),
    );
    const pending = store.get("k");
    await clock.advance(0);
    await clock.advance(100); // attempt 2 after 100 ms; next pause (200) would pass the deadline
    expect(await pending).toEqual({ ok: false, failure: "error" });
    expect(inner.calls.length).toBe(2);
  });
});
