import { describe, expect, it } from "vitest";
import { ExternalTier } from "../../src/session/external-tier.js";
import { KeyRing } from "../../src/session/keyring.js";
import type { Session } from "../../src/session/manager.js";
import type { SessionRecord } from "../../src/session/record.js";
import { ResilientStore, realSleep } from "../../src/stores/resilient.js";
import { MapByteStore } from "../support/map-byte-store.js";
import { SECRET_A, SECRET_B, SECRET_C } from "../support/secrets.js";
import { testSessionManager } from "../support/session-manager.js";

const IDLE = 15 * 60_000;
const ABSOLUTE = 8 * 3600_000;
const REVALIDATE = 5_000;
const TOUCH = 60_000;

/** One "isolate": its own first tier and manager, over a shared byte store and clock. */
/** Back-channel index entries of a test record: its `data.sid`. */
const bySid = (record: SessionRecord) =>
  typeof record.data?.sid === "string" ? [`sid\0${record.data.sid}`] : [];

async function isolate(
  store: MapByteStore,
  clock: { t: number },
  secrets = [SECRET_A],
  revalidateAfterMs = REVALIDATE,
) {
  const external = new ExternalTier(
    new ResilientStore(store, {
      budgetMs: 200,
      backOffMs: 1,
      maxAttempts: 2,
      cooldownMs: 0,
      now: () => clock.t,
      sleep: realSleep,
    }),
    await KeyRing.create(secrets),
  );
  const waits: Promise<unknown>[] = [];
  const manager = testSessionManager({
    external,
    idleTimeoutMs: IDLE,
    absoluteTimeoutMs: ABSOLUTE,
    revalidateAfterMs,
    touchIntervalMs: TOUCH,
    now: () => clock.t,
    indexesOf: bySid,
  });
  const commit = (s: Session) => manager.commit(s, (p) => waits.push(p));
  const settle = () => Promise.all(waits.splice(0));
  const load = async (id: string) => {
    const r = await manager.load(id);
    return r.kind === "session" ? r.session : r.kind;
  };
  return { manager, commit, settle, load, external };
}

async function setup(secrets?: string[]) {
  const clock = { t: 1_000_000 };
  const store = new MapByteStore(() => clock.t);
  return { clock, store, a: await isolate(store, clock, secrets), b: await isolate(store, clock, secrets) };
}

async function created(iso: Awaited<ReturnType<typeof isolate>>, csrf = "token-1") {
  const s = iso.manager.create();
  s.record = { ...s.record, csrf };
  expect(await iso.commit(s)).toBe("written");
  return s.id;
}

describe("SessionManager", () => {
  it("writes a new session once, before the response, with the idle timeout as TTL", async () => {
    const { a, store, clock } = await setup();
    const id = await created(a);
    expect(store.calls).toEqual(["set"]);
    const [entry] = [...store.data.values()];
    expect(entry!.expiresAt - clock.t).toBe(IDLE);
    expect(a.manager.metrics).toMatchObject({ created: 1, writes: 1 });
    expect(id).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  it("serves an unchanged session from memory with no store call inside the window", async () => {
    const { a, store, clock } = await setup();
    const id = await created(a);
    store.calls = [];
    for (let i = 0; i < 10; i++) {
      clock.t += 100;
      const s = (await a.load(id)) as Session;
      expect(s.record.csrf).toBe("token-1");
      expect(await a.commit(s)).toBe("unchanged");
    }
    await a.settle();
    expect(store.calls).toEqual([]);
    expect(a.manager.metrics).toMatchObject({ memoryHits: 10, writesSkippedUnchanged: 10 });
  });

  it("writes only what changed", async () => {
    const { a, store } = await setup();
    const id = await created(a);
    store.calls = [];
    const s = (await a.load(id)) as Session;
    s.record = { ...s.record, data: { x: 1 } };
    expect(await a.commit(s)).toBe("written");
    expect(store.calls).toEqual(["set"]);
  });

  it("recovers a session on another isolate with one store call, which also slides its TTL", async () => {
    const { a, b, store, clock } = await setup();
    const id = await created(a, "abc");
    clock.t += 60_000;
    store.calls = [];
    const s = (await b.load(id)) as Session;
    expect(s.record.csrf).toBe("abc");
    expect(store.calls).toEqual(["getex"]); // GET + PEXPIRE in one round trip
    expect(b.manager.metrics.recoveries).toBe(1);
    expect([...store.data.values()][0]!.expiresAt - clock.t).toBe(IDLE);
    expect(await b.commit(s)).toBe("unchanged");
    await b.settle();
    expect(store.calls).toEqual(["getex"]); // nothing after the response either
  });

  it("does not touch a recovered session again after the response, even if it was evicted meanwhile", async () => {
    const { a, store, clock } = await setup();
    const one = await created(a, "one");
    const two = await created(a, "two");
    const tiny = testSessionManager({
      maxEntries: 1,
      external: a.external,
      idleTimeoutMs: IDLE,
      absoluteTimeoutMs: ABSOLUTE,
      revalidateAfterMs: REVALIDATE,
      touchIntervalMs: TOUCH,
      now: () => clock.t,
    });
    clock.t += 1_000;
    store.calls = [];
    const first = (await tiny.load(one)) as { kind: "session"; session: Session };
    await tiny.load(two); // evicts the first from the one-entry tier while "its request" runs
    const waits: Promise<unknown>[] = [];
    expect(await tiny.commit(first.session, (p) => waits.push(p))).toBe("unchanged");
    await Promise.all(waits);
    expect(store.calls).toEqual(["getex", "getex"]); // the two recoveries, nothing more
  });

  it("keeps the store TTL of an active session sliding with its revalidation reads, no separate touches", async () => {
    const { a, store, clock } = await setup();
    const id = await created(a);
    store.calls = [];
    for (let i = 0; i < 30; i++) {
      clock.t += 4_000;
      await a.commit((await a.load(id)) as Session);
    }
    await a.settle();
    expect(store.calls.filter((c) => c === "touch")).toEqual([]);
    expect(store.calls.filter((c) => c === "getex").length).toBe(15); // one per revalidation (every 8 s here)
    expect([...store.data.values()][0]!.expiresAt - clock.t).toBeGreaterThan(IDLE - 8_000);
  });

  it("extends the store TTL of an unchanged session at most once per touch interval when nothing reads it", async () => {
    const clock = { t: 1_000_000 };
    const store = new MapByteStore(() => clock.t);
    const a = await isolate(store, clock, [SECRET_A], Infinity); // never revalidates
    const id = await created(a);
    store.calls = [];
    for (let i = 0; i < 30; i++) {
      clock.t += 4_000;
      await a.commit((await a.load(id)) as Session);
    }
    await a.settle();
    // 120 s of activity: two touches (at 60 s and 120 s), never one per request.
    expect(store.calls).toEqual(["touch", "touch"]);
    expect([...store.data.values()][0]!.expiresAt - clock.t).toBeGreaterThan(IDLE - TOUCH);
  });

  it("honours a destroy on another isolate once the copy is older than the window", async () => {
    const { a, b, clock } = await setup();
    const id = await created(a);
    await b.load(id);
    expect(await b.manager.destroy(id)).toBe(true);
    clock.t += REVALIDATE - 1;
    expect(await a.load(id)).not.toBe("none"); // still trusted: bounded staleness
    clock.t += 1;
    expect(await a.load(id)).toBe("none");
    expect(a.manager.metrics.revalidatedGone).toBe(1);
  });

  it("picks up a change made on another isolate at revalidation", async () => {
    const { a, b, clock } = await setup();
    const id = await created(a, "old");
    const onB = (await b.load(id)) as Session;
    onB.record = { ...onB.record, csrf: "new" };
    await b.commit(onB);
    clock.t += REVALIDATE;
    expect(((await a.load(id)) as Session).record.csrf).toBe("new");
  });

  it("never resurrects a session destroyed elsewhere with a late write", async () => {
    const { a, b, store, clock } = await setup();
    const id = await created(a);
    const onA = (await a.load(id)) as Session;
    await b.load(id);
    await b.manager.destroy(id);
    onA.record = { ...onA.record, data: { late: true } };
    expect(await a.commit(onA)).toBe("gone");
    expect(store.data.size).toBe(0);
    clock.t += 1;
    expect(await a.load(id)).toBe("none");
  });

  it("treats tampered, foreign and malformed blobs as no session", async () => {
    const { a, b, store } = await setup();
    const id = await created(a);
    const [key] = [...store.data.keys()];
    const other = await created(a, "other");
    const otherValue = [...store.data.entries()].find(([k]) => k !== key)![1].value;
    for (const value of [
      otherValue,
      "garbage",
      "e1.x.y.z",
      `${store.data.get(key!)!.value.slice(0, -3)}AAA`,
    ]) {
      store.data.get(key!)!.value = value;
      expect(await b.load(id)).toBe("none");
    }
    expect(b.manager.metrics.rejectedBlobs).toBe(4);
    expect(other).not.toBe(id);
  });

  it("keeps serving from memory while the store is down, and writes the change once it is back", async () => {
    const { a, b, store, clock } = await setup();
    const id = await created(a);
    store.failWith = new Error("connection refused");
    clock.t += REVALIDATE * 2;
    const s = (await a.load(id)) as Session;
    expect(s.record.csrf).toBe("token-1");
    s.record = { ...s.record, data: { changed: "while down" } };
    expect(await a.commit(s)).toBe("memory-only");
    expect(await b.load(id)).toBe("unknown"); // a fresh isolate cannot tell
    expect(store.data.size).toBe(1); // nothing deleted
    store.failWith = undefined;
    clock.t += 1;
    const again = (await a.load(id)) as Session;
    expect(await a.commit(again)).toBe("written"); // the dirty copy is retried
    clock.t += 1;
    expect(((await b.load(id)) as Session).record.data).toEqual({ changed: "while down" });
  });

  it("retries a logout that could not reach the store, after the response", async () => {
    const { a, b, store } = await setup();
    const id = await created(a);
    store.failWith = new Error("connection refused");
    const waits: Promise<unknown>[] = [];
    expect(await a.manager.destroy(id, (p) => waits.push(p))).toBe(false);
    expect(store.data.size).toBe(1); // still there: other isolates would keep it
    store.failWith = undefined; // the store is back before the retry
    await Promise.all(waits);
    expect(store.data.size).toBe(0);
    expect(await b.load(id)).toBe("none");
  });

  it("ends a session at its absolute lifetime however active", async () => {
    const { a, clock } = await setup();
    const id = await created(a);
    for (let t = 0; t < ABSOLUTE; t += 10 * 60_000) {
      clock.t += 10 * 60_000;
      const s = await a.load(id);
      if (s === "none") break;
      await a.commit(s as Session);
      await a.settle();
    }
    expect(await a.load(id)).toBe("none");
  });

  it("expires a session idle past the timeout in both tiers", async () => {
    const { a, b, clock } = await setup();
    const id = await created(a);
    clock.t += IDLE;
    expect(await a.load(id)).toBe("none");
    expect(await b.load(id)).toBe("none");
  });

  it("an idle copy on one isolate does not end a session the user kept active on another", async () => {
    const { a, b, store, clock } = await setup();
    const id = await created(a);
    const key = [...store.data.keys()][0]!;
    // The user works on B only, for longer than the idle timeout: B's revalidation reads slide the store TTL.
    for (let elapsed = 0; elapsed <= IDLE; elapsed += 4 * 60_000) {
      clock.t += 4 * 60_000;
      const onB = (await b.load(id)) as Session;
      expect(onB.record.csrf).toBe("token-1");
      await b.commit(onB);
      await b.settle();
    }
    store.calls = [];
    const onA = await a.manager.load(id); // A's copy is idle past the timeout
    expect(onA).toMatchObject({ kind: "session", session: { id, record: { csrf: "token-1" } } });
    expect(store.calls).toEqual(["getex"]); // one read: alive, and its TTL slid
    expect(store.data.has(key)).toBe(true);
    expect(store.data.get(key)!.expiresAt - clock.t).toBe(IDLE);
    expect(a.manager.metrics).toMatchObject({ timedOut: 0, destroyed: 0, idleElsewhere: 1 });
    clock.t += 1;
    expect(await a.load(id)).not.toBe("none"); // adopted: served from A's first tier again
  });

  it("an idle copy whose session the store no longer has is reported ended, with one read and no delete", async () => {
    const { a, store, clock } = await setup();
    const id = await created(a, "mine");
    clock.t += IDLE;
    store.calls = [];
    const result = await a.manager.load(id);
    expect(result).toMatchObject({ kind: "none", ended: { csrf: "mine" } });
    expect(store.calls).toEqual(["getex"]);
    expect(a.manager.metrics).toMatchObject({ timedOut: 1, idleElsewhere: 0 });
    expect(await a.manager.load(id)).toEqual({ kind: "none" }); // ended once: reported once
  });

  it("an idle copy while the store cannot answer ends nothing and reports nothing; it is checked again later", async () => {
    const { a, b, store, clock } = await setup();
    const id = await created(a);
    clock.t += IDLE - 60_000;
    await b.load(id); // active on B: the store TTL slides
    clock.t += 60_000;
    store.failWith = new Error("connection refused");
    expect(await a.manager.load(id)).toEqual({ kind: "unknown" });
    expect(store.data.size).toBe(1);
    expect(a.manager.metrics).toMatchObject({ timedOut: 0, destroyed: 0 });
    store.failWith = undefined;
    expect(await a.manager.load(id)).toMatchObject({ kind: "session", session: { id } });
  });

  it("opens sessions of a previous secret after rotation and moves them to the newest on their next write", async () => {
    const clock = { t: 1_000_000 };
    const store = new MapByteStore(() => clock.t);
    const before = await isolate(store, clock, [SECRET_A]);
    const id = await created(before, "kept");
    const oldKeys = [...store.data.keys()];
    const after = await isolate(store, clock, [SECRET_B, SECRET_A]);
    const s = (await after.load(id)) as Session;
    expect(s.record.csrf).toBe("kept");
    s.record = { ...s.record, data: { touched: true } };
    expect(await after.commit(s)).toBe("written");
    const newKeys = [...store.data.keys()];
    expect(newKeys).toHaveLength(1);
    expect(newKeys[0]).not.toBe(oldKeys[0]);
    expect(store.data.get(newKeys[0]!)!.value.split(".")[1]).toBe(
      (await KeyRing.create([SECRET_B])).current.kid,
    );
    const retired = await isolate(store, clock, [SECRET_C, SECRET_B]);
    expect(((await retired.load(id)) as Session).record.data).toEqual({ touched: true });
    const gone = await isolate(store, clock, [SECRET_C]);
    expect(await gone.load(id)).toBe("none");
  });

  it("rejects ids it did not issue without asking the store", async () => {
    const { a, store } = await setup();
    for (const bad of [undefined, "", "short", `${"x".repeat(43)}!`, "../../etc/passwd", "A".repeat(44)]) {
      expect(await a.load(bad as string)).toBe("none");
    }
    expect(store.calls).toEqual([]);
    expect(await a.load("A".repeat(43))).toBe("none"); // well-formed but unknown: one look-up
    expect(store.calls).toEqual(["getex"]);
  });
});

describe("SessionManager: back-channel index membership is confirmed and repaired", () => {
  async function loggedIn(iso: Awaited<ReturnType<typeof isolate>>, sid: string) {
    const s = iso.manager.create();
    s.record = { ...s.record, data: { sid } };
    return { s, result: await iso.commit(s) };
  }
  /** What a back-channel logout for `sid` finds, from a third isolate. */
  const logoutOf = async (store: MapByteStore, clock: { t: number }, sid: string) =>
    (await isolate(store, clock)).manager.destroyIndexed(`sid\0${sid}`);

  it("files a new session before its record, once; a later change does not file it again", async () => {
    const { a, store, clock } = await setup();
    store.calls = [];
    const { s, result } = await loggedIn(a, "s1");
    expect(result).toBe("written");
    expect(store.calls).toEqual(["addToSet", "set"]);
    store.calls = [];
    const again = (await a.load(s.id)) as Session;
    again.record = { ...again.record, data: { ...again.record.data, more: 1 } };
    await a.commit(again);
    await a.settle();
    expect(store.calls).toEqual(["set"]);
    expect(await logoutOf(store, clock, "s1")).toBe(1);
    expect(await a.load(s.id)).not.toBe("none"); // A's copy: honoured within the revalidation window
    clock.t += REVALIDATE;
    expect(await a.load(s.id)).toBe("none");
  });

  it("a session whose index SADD failed is filed by its next request, and a back-channel logout then ends it", async () => {
    const { a, b, store, clock } = await setup();
    store.failOps = ["addToSet"];
    const { s, result } = await loggedIn(a, "s2");
    expect(result).toBe("written"); // the record is stored, marked as not filed
    expect(a.manager.metrics.filingFailures).toBe(1);
    store.failOps = undefined;
    clock.t += 1;
    await a.commit((await a.load(s.id)) as Session); // unchanged: the filing is repaired after the response
    await a.settle();
    expect(a.manager.metrics.filingRepairs).toBe(1);
    store.calls = [];
    await a.commit((await a.load(s.id)) as Session); // confirmed: no more repairs
    await a.settle();
    expect(store.calls).toEqual([]);
    expect(await logoutOf(store, clock, "s2")).toBe(1);
    expect(await b.load(s.id)).toBe("none");
  });

  it("a session whose first write failed entirely is filed when the write is retried", async () => {
    const { a, b, store, clock } = await setup();
    store.failWith = new Error("connection refused");
    const { s, result } = await loggedIn(a, "s3");
    expect(result).toBe("memory-only");
    store.failWith = undefined;
    clock.t += 1;
    expect(await a.commit((await a.load(s.id)) as Session)).toBe("written"); // the pending write
    expect(await logoutOf(store, clock, "s3")).toBe(1);
    expect(await b.load(s.id)).toBe("none");
  });

  it("the mark travels with the record: another isolate that recovers it files it", async () => {
    const { a, b, store, clock } = await setup();
    store.failOps = ["addToSet"];
    const { s } = await loggedIn(a, "s4");
    store.failOps = undefined;
    clock.t += 1;
    await b.commit((await b.load(s.id)) as Session); // the user's next request lands on B
    await b.settle();
    expect(b.manager.metrics.filingRepairs).toBe(1);
    expect(await logoutOf(store, clock, "s4")).toBe(1);
    clock.t += REVALIDATE;
    expect(await a.load(s.id)).toBe("none");
  });
});
