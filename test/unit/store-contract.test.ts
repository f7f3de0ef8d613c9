import { env } from "cloudflare:workers";
import { afterAll, describe, expect, it } from "vitest";
import { KvSessionStore } from "../../examples/kv-session-store/index.js";
import { adaptCustomStore } from "../../src/stores/custom.js";
import type { ByteStore } from "../../src/stores/types.js";
import { createUpstashStore } from "../../src/stores/upstash.js";
import { MapByteStore } from "../support/map-byte-store.js";
import { SyncCustomStore } from "../support/sync-custom-store.js";

/**
 * One contract, every store: what the session manager relies on. Upstash runs against
 * a real redis-server behind the local REST endpoint; the KV driver against a KV
 * namespace in workerd; the sync driver shows synchronous custom stores work.
 */
const testEnv = env as unknown as {
  TEST_UPSTASH_URL: string;
  TEST_UPSTASH_TOKEN: string;
  TEST_SESSIONS_KV: KVNamespace;
};

const stores: [string, () => ByteStore][] = [
  [
    "upstash (real Redis)",
    () =>
      createUpstashStore({
        url: testEnv.TEST_UPSTASH_URL,
        token: testEnv.TEST_UPSTASH_TOKEN,
        requestTimeoutMs: 2000,
      }),
  ],
  ["custom: KV example driver", () => adaptCustomStore(new KvSessionStore(testEnv.TEST_SESSIONS_KV))],
  ["custom: synchronous driver", () => adaptCustomStore(new SyncCustomStore())],
  ["test double: MapByteStore", () => new MapByteStore()],
];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let n = 0;
const key = () => `approuter-edge:s:contract-${crypto.randomUUID()}-${n++}`;

describe.each(stores)("byte store contract: %s", (_name, make) => {
  const store = make();
  const created: string[] = [];
  const fresh = () => {
    const k = key();
    created.push(k);
    return k;
  };
  afterAll(() => store.delete(created));

  it("returns null for a missing key", async () => {
    expect(await store.get(fresh())).toBeNull();
  });

  it("creates only when absent", async () => {
    const k = fresh();
    expect(await store.set(k, "one", 60_000, "create")).toBe(true);
    expect(await store.set(k, "two", 60_000, "create")).toBe(false);
    expect(await store.get(k)).toBe("one");
  });

  it("updates only when present, so a deleted key stays deleted", async () => {
    const k = fresh();
    expect(await store.set(k, "ghost", 60_000, "update")).toBe(false);
    expect(await store.get(k)).toBeNull();
    await store.set(k, "one", 60_000, "create");
    expect(await store.set(k, "two", 60_000, "update")).toBe(true);
    expect(await store.get(k)).toBe("two");
    await store.delete([k]);
    expect(await store.set(k, "late write", 60_000, "update")).toBe(false);
    expect(await store.get(k)).toBeNull();
  });

  it("touches only existing keys", async () => {
    const k = fresh();
    expect(await store.touch(k, 60_000)).toBe(false);
    await store.set(k, "v", 60_000, "create");
    expect(await store.touch(k, 60_000)).toBe(true);
    expect(await store.get(k)).toBe("v");
  });

  it("deletes several keys at once, missing ones included", async () => {
    const [a, b, c] = [fresh(), fresh(), fresh()];
    await store.set(a, "a", 60_000, "create");
    await store.set(b, "b", 60_000, "create");
    await store.delete([a, b, c]);
    expect(await store.get(a)).toBeNull();
    expect(await store.get(b)).toBeNull();
    await store.delete([]);
  });

  it("expires a key after its TTL, and a touch extends it", async () => {
    const [short, touched] = [fresh(), fresh()];
    await store.set(short, "v", 300, "create");
    await store.set(touched, "v", 300, "create");
    await sleep(150);
    expect(await store.touch(touched, 5_000)).toBe(true);
    await sleep(400);
    expect(await store.get(short)).toBeNull();
    expect(await store.touch(short, 5_000)).toBe(false);
    expect(await store.get(touched)).toBe("v");
  });

  it("reads and slides the TTL in one call", async () => {
    const [k, missing] = [fresh(), fresh()];
    await store.set(k, "v", 300, "create");
    await sleep(150);
    expect(await store.get(k, 5_000)).toBe("v");
    await sleep(300); // past the first TTL
    expect(await store.get(k)).toBe("v");
    expect(await store.get(missing, 5_000)).toBeNull();
  });

  it("keeps long envelopes byte for byte", async () => {
    const k = fresh();
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.";
    const value = Array.from({ length: 100_000 }, (_, i) => alphabet[(i * 7) % alphabet.length]).join("");
    await store.set(k, value, 60_000, "create");
    expect(await store.get(k)).toBe(value);
  });

  it("keeps sets of members with a TTL", async () => {
    const k = fresh();
    expect(await store.setMembers(k)).toEqual([]);
    await store.addToSet(k, ["a", "b"], 60_000);
    await store.addToSet(k, ["b", "c"], 60_000);
    expect((await store.setMembers(k)).sort()).toEqual(["a", "b", "c"]);
    const short = fresh();
    await store.addToSet(short, ["x"], 200);
    await sleep(400);
    expect(await store.setMembers(short)).toEqual([]);
    await store.delete([k]);
    expect(await store.setMembers(k)).toEqual([]);
  });

  it("keeps values that look like numbers or JSON as strings", async () => {
    const k = fresh();
    await store.set(k, "1234", 60_000, "create");
    expect(await store.get(k)).toBe("1234");
    await store.set(k, "null", 60_000, "update");
    expect(await store.get(k)).toBe("null");
  });
});
