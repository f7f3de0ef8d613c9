import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ExternalTier } from "../../src/session/external-tier.js";
import { KeyRing } from "../../src/session/keyring.js";
import type { SessionManager, Session } from "../../src/session/manager.js";
import { ResilientStore, type ResilienceOptions, type StoreOutcome } from "../../src/stores/resilient.js";
import type { ByteStore, SetMode } from "../../src/stores/types.js";
import { SECRET_A, SECRET_B } from "../support/secrets.js";
import { testSessionManager } from "../support/session-manager.js";

/**
 * The latency a failing store adds, on a virtual clock: every store operation costs at
 * most its budget (`defaultRetryTimeout`) whatever the failure (refused at once, an error
 * after a while, an answer too late, no answer), with at most `maxAttempts` calls; after
 * a failure the store is skipped for the cooldown (no call, no time); and one request's
 * load + commit costs at most one budget, because the first failure starts the cooldown.
 */

/** A clock whose sleeps resolve only when `settle` moves time to them (event-driven). */
class VirtualClock {
  t = 0;
  private readonly timers: { at: number; resolve: () => void; done: boolean }[] = [];
  readonly now = () => this.t;
  readonly sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
    new Promise<void>((resolve) => {
      const timer = { at: this.t + Math.max(0, ms), resolve, done: false };
      this.timers.push(timer);
      signal?.addEventListener("abort", () => {
        timer.done = true;
        resolve();
      });
    });

  /** Runs `work` to its end, jumping from timer to timer; its value and the virtual time it took. */
  async settle<T>(work: Promise<T>): Promise<{ value: T; elapsed: number }> {
    const start = this.t;
    const outcome: { settled: boolean; value?: T; failure?: unknown } = { settled: false };
    work.then(
      (value) => Object.assign(outcome, { settled: true, value }),
      (error: unknown) => Object.assign(outcome, { settled: true, failure: error ?? new Error("rejected") }),
    );
    for (let step = 0; step < 100_000; step++) {
      await new Promise((r) => setTimeout(r, 0)); // lets every pending continuation run
      if (outcome.failure !== undefined) throw outcome.failure;
      if (outcome.settled) return { value: outcome.value as T, elapsed: this.t - start };
      const pending = this.timers.filter((x) => !x.done);
      if (pending.length === 0) throw new Error("stuck: nothing scheduled and the work has not finished");
      this.t = Math.max(this.t, Math.min(...pending.map((x) => x.at)));
      for (const x of pending) {
        if (x.at <= this.t) {
          x.done = true;
          x.resolve();
        }
      }
    }
    throw new Error("did not settle");
  }

  /** Moves time forward with nothing running (e.g. past a cooldown). */
  advance(ms: number): void {
    this.t += ms;
  }

  /** Lets every pending timer fire (e.g. a late store answer applied after the caller gave up). */
  async drain(): Promise<void> {
    for (
      let pending = this.timers.filter((x) => !x.done);
      pending.length > 0;
      pending = this.timers.filter((x) => !x.done)
    ) {
      this.t = Math.max(this.t, ...pending.map((x) => x.at));
      for (const x of pending) {
        x.done = true;
        x.resolve();
      }
      await new Promise((r) => setTimeout(r, 0));
    }
  }
}

/** How the store fails: the faults of the resilience suite, as the client sees them. */
type Fault =
  | { kind: "refused" } // connection refused: an error at once
  | { kind: "error"; afterMs: number } // HTTP 500, a garbage or wrong-shape body: an error after a round trip
  | { kind: "late"; afterMs: number } // slow: the answer comes, after the budget
  | { kind: "hang" }; // no answer at all

/** A byte store that works (an in-memory map) or fails by script; it never advances the clock itself. */
class ScriptedStore implements ByteStore {
  readonly data = new Map<string, string>();
  readonly calls: { op: string; at: number }[] = [];
  fault: Fault | undefined;
  /** Latency of a successful call. */
  latencyMs = 0;

  constructor(private readonly clock: VirtualClock) {}

  private async call<T>(op: string, result: () => T): Promise<T> {
    this.calls.push({ op, at: this.clock.t });
    const fault = this.fault;
    if (!fault) {
      if (this.latencyMs > 0) await this.clock.sleep(this.latencyMs);
      return result();
    }
    switch (fault.kind) {
      case "refused":
        throw new Error("connection refused");
      case "error":
        await this.clock.sleep(fault.afterMs);
        throw new Error("HTTP 500");
      case "late":
        await this.clock.sleep(fault.afterMs);
        return result(); // too late: the router stopped waiting
      case "hang":
        return new Promise<T>(() => {});
    }
  }

  get(key: string) {
    return this.call("get", () => this.data.get(key) ?? null);
  }
  set(key: string, value: string, _ttlMs: number, mode: SetMode) {
    return this.call("set", () => {
      if (mode === "create" ? this.data.has(key) : !this.data.has(key)) return false;
      this.data.set(key, value);
      return true;
    });
  }
  touch(key: string) {
    return this.call("touch", () => this.data.has(key));
  }
  delete(keys: readonly string[]) {
    return this.call("delete", () => {
      for (const k of keys) this.data.delete(k);
    });
  }
  addToSet(key: string, members: readonly string[]) {
    return this.call("addToSet", () => {
      const current = new Set<string>(JSON.parse(this.data.get(key) ?? "[]") as string[]);
      for (const m of members) current.add(m);
      this.data.set(key, JSON.stringify([...current]));
    });
  }
  setMembers(key: string) {
    return this.call("setMembers", () => JSON.parse(this.data.get(key) ?? "[]") as string[]);
  }
}

const fault = (budgetMs: number): fc.Arbitrary<Fault> =>
  fc.oneof(
    fc.constant<Fault>({ kind: "refused" }),
    fc.integer({ min: 0, max: 3 * budgetMs }).map((afterMs): Fault => ({ kind: "error", afterMs })),
    fc
      .integer({ min: budgetMs + 1, max: 3 * budgetMs + 1 })
      .map((afterMs): Fault => ({ kind: "late", afterMs })),
    fc.constant<Fault>({ kind: "hang" }),
  );

type Op = "get" | "set" | "touch" | "delete" | "addToSet" | "setMembers";
const OPS: Op[] = ["get", "set", "touch", "delete", "addToSet", "setMembers"];

function invoke(store: ResilientStore, op: Op): Promise<StoreOutcome<unknown>> {
  switch (op) {
    case "get":
      return store.get("k");
    case "set":
      return store.set("k", "v", 1000, "create");
    case "touch":
      return store.touch("k", 1000);
    case "delete":
      return store.delete(["k"]);
    case "addToSet":
      return store.addToSet("k", ["m"], 1000);
    case "setMembers":
      return store.setMembers("k");
  }
}

describe("ResilientStore: the budget of one operation, for every kind of failure", () => {
  it("never takes longer than the budget, never calls more than maxAttempts times, and then skips for the cooldown", async () => {
    const settings = fc.record({
      budgetMs: fc.integer({ min: 1, max: 5000 }),
      backOffMs: fc.integer({ min: 1, max: 2000 }),
      maxAttempts: fc.integer({ min: 1, max: 6 }),
      cooldownMs: fc.integer({ min: 1, max: 10_000 }),
    });
    await fc.assert(
      fc.asyncProperty(
        settings.chain((s) =>
          fc.tuple(fc.constant(s), fault(s.budgetMs), fc.constantFrom(...OPS), fc.constantFrom(...OPS)),
        ),
        async ([s, f, op, nextOp]) => {
          const clock = new VirtualClock();
          const inner = new ScriptedStore(clock);
          inner.fault = f;
          const store = new ResilientStore(inner, { ...s, now: clock.now, sleep: clock.sleep });
          const { value, elapsed } = await clock.settle(invoke(store, op));
          expect(value.ok).toBe(false);
          expect(elapsed).toBeLessThanOrEqual(s.budgetMs);
          expect(inner.calls.length).toBeGreaterThanOrEqual(1);
          expect(inner.calls.length).toBeLessThanOrEqual(s.maxAttempts);
          if (f.kind === "hang" || f.kind === "late") {
            expect(value).toEqual({ ok: false, failure: "timeout" });
            expect(inner.calls).toHaveLength(1); // no retry once the budget is spent
          }
          if (f.kind === "refused") expect(value).toEqual({ ok: false, failure: "error" });
          expect(store.counters).toMatchObject({
            calls: inner.calls.length,
            failures: 1,
            timeouts: (value as { failure: string }).failure === "timeout" ? 1 : 0,
          });
          // The cooldown: skipped at once, no call…
          const calls = inner.calls.length;
          expect(store.degraded).toBe(true);
          const skipped = await clock.settle(invoke(store, nextOp));
          expect(skipped).toEqual({ value: { ok: false, failure: "skipped" }, elapsed: 0 });
          expect(inner.calls).toHaveLength(calls);
          // …until it is over: the store is asked again, and a healthy answer ends the outage.
          clock.advance(s.cooldownMs);
          inner.fault = undefined;
          expect(store.degraded).toBe(false);
          const healthy = await clock.settle(invoke(store, nextOp));
          expect(healthy.value.ok).toBe(true);
          expect(inner.calls).toHaveLength(calls + 1);
          expect(store.degraded).toBe(false);
        },
      ),
      { numRuns: 300 },
    );
  });

  it.each<[string, Fault, number]>([
    // budget 300, backOff 50, 3 attempts: an immediate error is tried 3 times (pauses 50, 100).
    ["refused", { kind: "refused" }, 3],
    // 500 after 100 ms: attempts at 0 and 150 (the pause of 100 would end at 350 > 300).
    ["an error after 100 ms", { kind: "error", afterMs: 100 }, 2],
    ["an answer after 2 s", { kind: "late", afterMs: 2000 }, 1],
    ["no answer", { kind: "hang" }, 1],
  ])(
    "with the router's settings (300 ms, back-off 50, 3 attempts): %s costs at most 300 ms",
    async (_name, f, attempts) => {
      const clock = new VirtualClock();
      const inner = new ScriptedStore(clock);
      inner.fault = f;
      const store = new ResilientStore(inner, {
        budgetMs: 300,
        backOffMs: 50,
        maxAttempts: 3,
        cooldownMs: 300,
        now: clock.now,
        sleep: clock.sleep,
      });
      const { elapsed } = await clock.settle(store.get("k"));
      expect(elapsed).toBeLessThanOrEqual(300);
      expect(inner.calls).toHaveLength(attempts);
      if (f.kind === "late" || f.kind === "hang") expect(elapsed).toBe(300);
    },
  );

  it("a success does not start a cooldown; a success after failed attempts neither", async () => {
    const clock = new VirtualClock();
    class Flaky extends ScriptedStore {
      failuresLeft = 2;
      override get(key: string) {
        if (this.failuresLeft-- > 0) return Promise.reject(new Error("blip"));
        return super.get(key);
      }
    }
    const flaky = new Flaky(clock);
    const store = new ResilientStore(flaky, {
      budgetMs: 1000,
      backOffMs: 10,
      maxAttempts: 3,
      cooldownMs: 5000,
      now: clock.now,
      sleep: clock.sleep,
    });
    const { value, elapsed } = await clock.settle(store.get("k"));
    expect(value).toEqual({ ok: true, value: null });
    expect(elapsed).toBe(30); // pauses of 10 and 20
    expect(store.degraded).toBe(false);
    expect(store.counters).toMatchObject({ calls: 3, failures: 0 });
  });
});

describe("SessionManager over a failing store: one request costs at most one budget", () => {
  const BUDGET = 300;
  const IDLE = 15 * 60_000;
  const REVALIDATE = 1000;

  async function setup(secrets = [SECRET_A]) {
    const clock = new VirtualClock();
    clock.t = 1_000_000;
    const inner = new ScriptedStore(clock);
    const options: ResilienceOptions = {
      budgetMs: BUDGET,
      backOffMs: 50,
      maxAttempts: 3,
      cooldownMs: BUDGET,
      now: clock.now,
      sleep: clock.sleep,
    };
    const manager = (ring: KeyRing) =>
      testSessionManager({
        external: new ExternalTier(new ResilientStore(inner, options), ring),
        idleTimeoutMs: IDLE,
        absoluteTimeoutMs: 8 * 3600_000,
        revalidateAfterMs: REVALIDATE,
        now: clock.now,
      });
    const a = manager(await KeyRing.create(secrets));
    const waits: Promise<unknown>[] = [];
    /** One request: load, let `change` act, commit (the after-response work included). */
    const request = async (m: SessionManager, id: string | undefined, change?: (s: Session) => void) => {
      const loaded = await m.load(id);
      let session = loaded.kind === "session" ? loaded.session : undefined;
      if (!session && change) session = m.create();
      if (session && change) change(session);
      const committed = session ? await m.commit(session, (p) => waits.push(p)) : undefined;
      await Promise.all(waits.splice(0));
      return { loaded: loaded.kind, committed, id: session?.id };
    };
    return { clock, inner, a, manager, request };
  }

  const faults: [string, Fault][] = [
    ["refused", { kind: "refused" }],
    ["erroring after 120 ms", { kind: "error", afterMs: 120 }],
    ["slow (2 s)", { kind: "late", afterMs: 2000 }],
    ["hanging", { kind: "hang" }],
  ];

  it.each(faults)(
    "%s: a held session past its revalidation window, changed by the request",
    async (_name, f) => {
      const { clock, inner, a, request } = await setup();
      const created = await clock.settle(
        request(a, undefined, (s) => (s.record = { ...s.record, csrf: "t1" })),
      );
      expect(created.value.committed).toBe("written");
      const id = created.value.id!;
      clock.advance(REVALIDATE);
      inner.fault = f;
      const { value, elapsed } = await clock.settle(
        request(a, id, (s) => (s.record = { ...s.record, data: { changed: true } })),
      );
      expect(value).toEqual({ loaded: "session", committed: "memory-only", id }); // served from memory, write kept dirty
      expect(elapsed).toBeLessThanOrEqual(BUDGET);
      // Within the cooldown the next request costs nothing and asks nothing.
      const calls = inner.calls.length;
      const next = await clock.settle(
        request(a, id, (s) => (s.record = { ...s.record, data: { changed: 2 } })),
      );
      expect(next).toEqual({ value: { loaded: "session", committed: "memory-only", id }, elapsed: 0 });
      expect(inner.calls).toHaveLength(calls);
    },
  );

  it.each(faults)(
    "%s: a fresh isolate, two secrets configured (two reads at once), then a new session",
    async (_name, f) => {
      const { clock, inner, manager, request } = await setup();
      inner.fault = f;
      const fresh = manager(await KeyRing.create([SECRET_B, SECRET_A]));
      const unknown = await clock.settle(request(fresh, "A".repeat(43)));
      expect(unknown.value.loaded).toBe("unknown");
      expect(unknown.elapsed).toBeLessThanOrEqual(BUDGET);
      clock.advance(BUDGET); // past the cooldown: the create pays its own budget
      const created = await clock.settle(
        request(fresh, undefined, (s) => (s.record = { ...s.record, csrf: "t" })),
      );
      expect(created.value.committed).toBe("memory-only");
      expect(created.elapsed).toBeLessThanOrEqual(BUDGET);
    },
  );

  it.each(faults)(
    "%s: moving a session to the newest secret (touch, create, delete) and destroying it",
    async (_name, f) => {
      const { clock, inner, a, manager, request } = await setup([SECRET_A]);
      const id = (await clock.settle(request(a, undefined, (s) => (s.record = { ...s.record, csrf: "t1" }))))
        .value.id!;
      const rotated = manager(await KeyRing.create([SECRET_B, SECRET_A]));
      expect((await clock.settle(request(rotated, id))).value.loaded).toBe("session"); // recovered under A's key
      clock.advance(60_000);
      inner.fault = f;
      const moved = await clock.settle(
        request(rotated, id, (s) => (s.record = { ...s.record, data: { x: 1 } })),
      );
      expect(moved.value).toEqual({ loaded: "session", committed: "memory-only", id });
      expect(moved.elapsed).toBeLessThanOrEqual(BUDGET);
      clock.advance(BUDGET);
      const destroyed = await clock.settle(rotated.destroy(id));
      expect(destroyed.value).toBe(false);
      expect(destroyed.elapsed).toBeLessThanOrEqual(BUDGET);
    },
  );

  it("a create that timed out but was applied by the store is written by the retry, not taken for a logout", async () => {
    // The store applies the SET NX and answers after the budget: the router keeps the new
    // session dirty in its first tier. Once the store is back, the next request retries
    // the write: the key exists (its own late create), and the session is still alive.
    const { clock, inner, a, request } = await setup();
    inner.fault = { kind: "late", afterMs: 2000 };
    const created = await clock.settle(
      request(a, undefined, (s) => (s.record = { ...s.record, csrf: "t1" })),
    );
    expect(created.value.committed).toBe("memory-only");
    await clock.drain(); // the late create lands
    expect(inner.data.size).toBe(1);
    inner.fault = undefined;
    clock.advance(BUDGET);
    const retried = await clock.settle(request(a, created.value.id, () => {}));
    expect(retried.value).toEqual({ loaded: "session", committed: "written", id: created.value.id });
    expect((await clock.settle(request(a, created.value.id))).value.loaded).toBe("session");
  });

  it("a slow but answering store costs one budget per sequential store operation at most", async () => {
    // Not a failure, so no cooldown: the bound is per operation (a changed session past its
    // window: one read, one write; a move to the newest secret: touch, create, delete).
    const { clock, inner, a, manager, request } = await setup([SECRET_A]);
    const id = (await clock.settle(request(a, undefined, (s) => (s.record = { ...s.record, csrf: "t1" }))))
      .value.id!;
    inner.latencyMs = BUDGET - 1;
    clock.advance(REVALIDATE);
    const changed = await clock.settle(request(a, id, (s) => (s.record = { ...s.record, data: { n: 1 } })));
    expect(changed.value).toEqual({ loaded: "session", committed: "written", id });
    expect(changed.elapsed).toBeLessThanOrEqual(2 * BUDGET);
    const rotated = manager(await KeyRing.create([SECRET_B, SECRET_A]));
    await clock.settle(request(rotated, id));
    clock.advance(60_000);
    const moved = await clock.settle(
      request(rotated, id, (s) => (s.record = { ...s.record, data: { n: 2 } })),
    );
    expect(moved.value).toEqual({ loaded: "session", committed: "written", id });
    expect(moved.elapsed).toBeLessThanOrEqual(4 * BUDGET);
  });
});
