import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { open } from "../../src/session/codec.js";
import { ExternalTier } from "../../src/session/external-tier.js";
import { KeyRing } from "../../src/session/keyring.js";
import type { Session } from "../../src/session/manager.js";
import { ResilientStore, realSleep } from "../../src/stores/resilient.js";
import { createUpstashStore } from "../../src/stores/upstash.js";
import { SECRET_A, SECRET_B, SECRET_C } from "../support/secrets.js";
import { testSessionManager } from "../support/session-manager.js";

/**
 * Re-sealing on rotation at the manager level, against real Redis (the local Upstash REST
 * endpoint): the router has no request that changes an existing session (see
 * test/node/rotation.test.ts), the manager does. A changed session sealed with a previous
 * secret is moved on its write: PEXPIRE old, SET new NX, DEL old; two isolates moving it
 * at once both succeed (last write wins); a session destroyed meanwhile is not brought back.
 */
const testEnv = env as unknown as { TEST_UPSTASH_URL: string; TEST_UPSTASH_TOKEN: string };
const store = createUpstashStore({
  url: testEnv.TEST_UPSTASH_URL,
  token: testEnv.TEST_UPSTASH_TOKEN,
  requestTimeoutMs: 2000,
});
const IDLE = 15 * 60_000;

async function isolate(secrets: string[]) {
  const keyring = await KeyRing.create(secrets);
  const external = new ExternalTier(
    new ResilientStore(store, {
      budgetMs: 2000,
      backOffMs: 10,
      maxAttempts: 2,
      cooldownMs: 0,
      now: Date.now,
      sleep: realSleep,
    }),
    keyring,
  );
  const manager = testSessionManager({
    external,
    idleTimeoutMs: IDLE,
    absoluteTimeoutMs: 8 * 3600_000,
    revalidateAfterMs: 0,
  });
  const waits: Promise<unknown>[] = [];
  return {
    keyring,
    manager,
    load: async (id: string) => {
      const r = await manager.load(id);
      return r.kind === "session" ? r.session : r.kind;
    },
    commit: async (s: Session) => {
      const result = await manager.commit(s, (p) => waits.push(p));
      await Promise.all(waits.splice(0));
      return result;
    },
  };
}

async function keyOf(secret: string, id: string) {
  const ring = await KeyRing.create([secret]);
  return ring.storeKey(ring.current, id);
}

async function createdUnderA(data: Record<string, unknown>) {
  const before = await isolate([SECRET_A]);
  const s = before.manager.create();
  s.record = { ...s.record, csrf: "token" };
  s.record = { ...s.record, data: data };
  expect(await before.commit(s)).toBe("written");
  return { id: s.id, keyA: await keyOf(SECRET_A, s.id), keyB: await keyOf(SECRET_B, s.id) };
}

describe("rotation: the write of a changed session moves it to the newest secret", () => {
  it("new key, new kid, old key gone; readable with the new secret alone, not with neither", async () => {
    const { id, keyA, keyB } = await createdUnderA({ step: 1 });
    const rotated = await isolate([SECRET_B, SECRET_A]);
    const s = (await rotated.load(id)) as Session;
    expect(s.record.data).toEqual({ step: 1 });
    expect(await store.get(keyB)).toBeNull(); // reading moves nothing
    s.record = { ...s.record, data: { step: 2 } };
    expect(await rotated.commit(s)).toBe("written");

    expect(await store.get(keyA)).toBeNull();
    const envelope = (await store.get(keyB))!;
    const ringB = await KeyRing.create([SECRET_B]);
    expect(envelope.split(".")[1]).toBe(ringB.current.kid);
    expect(await open(envelope, keyB, { keyring: ringB, sessionId: id })).toMatchObject({
      ok: true,
      value: { data: { step: 2 } },
    });

    expect(((await (await isolate([SECRET_B])).load(id)) as Session).record.data).toEqual({ step: 2 });
    expect(await (await isolate([SECRET_C, SECRET_A])).load(id)).toBe("none");
    await store.delete([keyB]);
  });

  it("two isolates moving it at once: both written, one copy under the new key, the last write wins", async () => {
    const { id, keyA, keyB } = await createdUnderA({ step: 1 });
    const [x, y] = [await isolate([SECRET_B, SECRET_A]), await isolate([SECRET_B, SECRET_A])];
    const [sx, sy] = [(await x.load(id)) as Session, (await y.load(id)) as Session];
    sx.record = { ...sx.record, data: { by: "x" } };
    sy.record = { ...sy.record, data: { by: "y" } };
    expect(await Promise.all([x.commit(sx), y.commit(sy)])).toEqual(["written", "written"]);
    expect(await store.get(keyA)).toBeNull();
    const final = ((await (await isolate([SECRET_B])).load(id)) as Session).record.data;
    expect([{ by: "x" }, { by: "y" }]).toContainEqual(final);
    await store.delete([keyB]);
  });

  it("a change on an isolate whose copy predates another isolate's move is written, not taken for a logout", async () => {
    // X moves the session to B; Y loaded it before (its copy still says "stored under A")
    // and, within its revalidation window, writes a change: the session exists (under B).
    const { id, keyA, keyB } = await createdUnderA({ step: 1 });
    const [x, y] = [await isolate([SECRET_B, SECRET_A]), await isolate([SECRET_B, SECRET_A])];
    const sy = (await y.load(id)) as Session;
    const sx = (await x.load(id)) as Session;
    sx.record = { ...sx.record, data: { by: "x" } };
    expect(await x.commit(sx)).toBe("written");
    expect(await store.get(keyA)).toBeNull();
    sy.record = { ...sy.record, data: { by: "y" } };
    expect(await y.commit(sy)).toBe("written");
    expect(((await (await isolate([SECRET_B])).load(id)) as Session).record.data).toEqual({ by: "y" });
    await store.delete([keyB]);
  });

  it("a session destroyed while another isolate changes it is not brought back under the new key", async () => {
    const { id, keyA, keyB } = await createdUnderA({ step: 1 });
    const rotated = await isolate([SECRET_B, SECRET_A]);
    const s = (await rotated.load(id)) as Session;
    const other = await isolate([SECRET_B, SECRET_A]);
    await other.load(id);
    expect(await other.manager.destroy(id)).toBe(true);
    s.record = { ...s.record, data: { late: true } };
    expect(await rotated.commit(s)).toBe("gone");
    expect(await store.get(keyA)).toBeNull();
    expect(await store.get(keyB)).toBeNull();
    expect(await rotated.load(id)).toBe("none");
  });
});

describe("rotation: markers and leases are shared by isolates mid-rotation", () => {
  // A deploy of a new secret reaches isolates one by one: some run with [new, old], some
  // still with [old]; after it, some with [new, old] and some with [new] alone.
  const tier = async (secrets: string[]) =>
    new ExternalTier(
      new ResilientStore(store, {
        budgetMs: 2000,
        backOffMs: 10,
        maxAttempts: 2,
        cooldownMs: 0,
        now: Date.now,
        sleep: realSleep,
      }),
      await KeyRing.create(secrets),
    );
  const unique = () => crypto.randomUUID();
  const pairs: [string, string[], string[]][] = [
    ["[B, A] and [A]", [SECRET_B, SECRET_A], [SECRET_A]],
    ["[B, A] and [B]", [SECRET_B, SECRET_A], [SECRET_B]],
  ];

  it.each(pairs)("%s agree on a single-use marker, whichever marks first", async (_name, xs, ys) => {
    const [x, y] = [await tier(xs), await tier(ys)];
    const one = unique();
    expect(await x.markOnce("l", one, 60_000)).toBe(true);
    expect(await y.markOnce("l", one, 60_000)).toBe(false);
    expect(await x.markOnce("l", one, 60_000)).toBe(false);
    const two = unique();
    expect(await y.markOnce("bcl", two, 60_000)).toBe(true);
    expect(await x.markOnce("bcl", two, 60_000)).toBe(false);
    // Forgotten on one isolate, usable again on both (a retry after a failure).
    expect(await y.unmark("bcl", two)).toBe(true);
    expect(await x.markOnce("bcl", two, 60_000)).toBe(true);
    expect(await y.markOnce("bcl", two, 60_000)).toBe(false);
  });

  it.each(pairs)(
    "%s agree on the one refresh lease of a session, whichever takes it first",
    async (_name, xs, ys) => {
      const [x, y] = [await tier(xs), await tier(ys)];
      const session = unique();
      expect(await x.acquireLease(session, "x", 10_000)).toBe(true);
      expect(await y.leaseHeld(session)).toBe(true);
      expect(await y.acquireLease(session, "y", 10_000)).toBe(false);
      await y.releaseLease(session, "y"); // not its lease: nothing happens
      expect(await y.acquireLease(session, "y", 10_000)).toBe(false);
      await x.releaseLease(session, "x");
      expect(await x.leaseHeld(session)).toBe(false);
      expect(await y.acquireLease(session, "y", 10_000)).toBe(true);
      // X's attempt finds the shared key taken; what it took under its other key is handed back.
      expect(await x.acquireLease(session, "x", 10_000)).toBe(false);
      await y.releaseLease(session, "y");
      expect(await x.leaseHeld(session)).toBe(false);
      expect(await x.acquireLease(session, "x", 10_000)).toBe(true);
      await x.releaseLease(session, "x");
    },
  );
});
