// Contract tests of the local Upstash-compatible REST endpoint (scripts/upstash-rest-server.mjs)
// against a real redis-server, through the real @upstash/redis client and raw fetch.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Redis } from "@upstash/redis";
import { Redis as IORedis } from "ioredis";
import { startLocalRedis } from "../../scripts/local-redis.mjs";

type LocalRedis = Awaited<ReturnType<typeof startLocalRedis>>;

let local: LocalRedis;
/** Direct connection to redis-server, to check what really got stored (bytes, TTLs). */
let direct: IORedis;

beforeAll(async () => {
  local = await startLocalRedis();
  direct = new IORedis({
    port: local.redisPort,
    host: "127.0.0.1",
    lazyConnect: true,
    maxRetriesPerRequest: 1,
  });
  direct.on("error", () => {});
  await direct.connect();
}, 30_000);

afterAll(async () => {
  direct?.disconnect();
  await local?.stop();
});

function client(enableAutoPipelining: boolean, token = local.token) {
  return new Redis({
    url: local.restUrl,
    token,
    enableTelemetry: false,
    automaticDeserialization: false,
    enableAutoPipelining,
  });
}

/** Raw POST to the endpoint. */
async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(local.restUrl + path, {
    method: "POST",
    headers: {
      authorization: `Bearer ${local.token}`,
      "content-type": "application/json",
      ...headers,
    },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: JSON.parse(text) as unknown };
}

const b64 = (s: string | Buffer) => Buffer.from(s).toString("base64");
const ENC = { "upstash-encoding": "base64" };

describe.each([
  { auto: true, prefix: "auto" },
  { auto: false, prefix: "plain" },
])("@upstash/redis client, enableAutoPipelining: $auto", ({ auto, prefix }) => {
  let redis: Redis;
  const key = (name: string) => `test:${prefix}:${name}`;

  beforeAll(() => {
    redis = client(auto);
  });

  it("set/get round trip, missing key → null", async () => {
    expect(await redis.set(key("plain"), "value-1")).toBe("OK");
    expect(await redis.get(key("plain"))).toBe("value-1");
    expect(await redis.get(key("never-set"))).toBeNull();
  });

  it("set with ex / px sets a TTL", async () => {
    await redis.set(key("ex"), "v", { ex: 100 });
    await redis.set(key("px"), "v", { px: 5000 });
    const ttlEx = await direct.pttl(key("ex"));
    const ttlPx = await direct.pttl(key("px"));
    expect(ttlEx).toBeGreaterThan(90_000);
    expect(ttlEx).toBeLessThanOrEqual(100_000);
    expect(ttlPx).toBeGreaterThan(0);
    expect(ttlPx).toBeLessThanOrEqual(5000);
  });

  it("set with nx / xx", async () => {
    await redis.del(key("nx"), key("xx"));
    expect(await redis.set(key("nx"), "first", { nx: true })).toBe("OK");
    expect(await redis.set(key("nx"), "second", { nx: true })).toBeNull();
    expect(await redis.get(key("nx"))).toBe("first");

    expect(await redis.set(key("xx"), "a", { xx: true })).toBeNull();
    expect(await redis.exists(key("xx"))).toBe(0);
    await redis.set(key("xx"), "a");
    expect(await redis.set(key("xx"), "b", { xx: true })).toBe("OK");
    expect(await redis.get(key("xx"))).toBe("b");
  });

  it.each([
    ["unicode", "héllo wörld ✓ 🚀 日本語"],
    ["control characters and NUL", "a\u0000b\u0001\u007f\n\r\t\u00ff"],
    ["empty string", ""],
    ["JSON-looking", '{"n":1234,"s":"x"}'],
    ["digits stay a string", "1234"],
    ["the word null", "null"],
    ["literally OK", "OK"],
    ["base64-looking (the client's decoder must not be fooled)", "T0s="],
  ])("binary-ish / unicode string round trip: %s", async (name, value) => {
    const k = key(`str:${name}`);
    await redis.set(k, value);
    expect(await redis.get(k)).toBe(value);
    // Stored as exactly the UTF-8 bytes of the string, not re-encoded.
    expect((await direct.getBuffer(k))?.equals(Buffer.from(value, "utf8"))).toBe(true);
  });

  it("numbers and booleans as arguments become strings", async () => {
    await redis.set(key("num"), 42);
    await redis.set(key("float"), 12.5);
    await redis.set(key("bool"), true);
    expect(await direct.get(key("num"))).toBe("42");
    expect(await direct.get(key("float"))).toBe("12.5");
    expect(await direct.get(key("bool"))).toBe("true");

    await redis.del(key("counter"));
    expect(await redis.incr(key("counter"))).toBe(1);
    expect(await redis.incrby(key("counter"), 41)).toBe(42);
    expect(await redis.decrby(key("counter"), 2)).toBe(40);
    expect(await redis.get(key("counter"))).toBe("40");
  });

  it("del / exists / pexpire / pttl", async () => {
    await redis.set(key("d1"), "1");
    await redis.set(key("d2"), "2");
    expect(await redis.exists(key("d1"), key("d2"), key("missing"))).toBe(2);
    expect(await redis.pttl(key("d1"))).toBe(-1);
    expect(await redis.pttl(key("missing"))).toBe(-2);
    expect(await redis.pexpire(key("d1"), 60_000)).toBe(1);
    const ttl = await redis.pttl(key("d1"));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60_000);
    expect(await redis.pexpire(key("missing"), 1000)).toBe(0);
    expect(await redis.del(key("d1"), key("d2"), key("missing"))).toBe(2);
    expect(await redis.exists(key("d1"), key("d2"))).toBe(0);
  });

  it("mset / mget", async () => {
    expect(await redis.mset({ [key("m1")]: "one", [key("m2")]: "ü2" })).toBe("OK");
    expect(await redis.mget(key("m1"), key("missing"), key("m2"))).toEqual(["one", null, "ü2"]);
  });

  it("hset / hgetall (RESP2 flat array on the wire)", async () => {
    await redis.del(key("h"));
    expect(await redis.hset(key("h"), { f1: "v1", "f2 ✓": "2" })).toBe(2);
    // With automaticDeserialization: false the client skips its object conversion and hands
    // back the wire's flat array (insertion order for a small hash).
    const all: unknown = await redis.hgetall(key("h"));
    expect(all).toEqual(["f1", "v1", "f2 ✓", "2"]);
    expect(await redis.hget(key("h"), "f2 ✓")).toBe("2");
  });

  it("explicit pipeline(): ordered results; not atomic, an error does not stop later commands", async () => {
    await redis.del(key("p"), key("pstr"));
    const p = redis.pipeline();
    p.set(key("p"), "a");
    p.get(key("p"));
    p.incr(key("pc"));
    p.set(key("pstr"), "not a number");
    p.incr(key("pstr")); // fails
    p.set(key("p"), "after-error");
    const results = await p.exec({ keepErrors: true });
    expect(results.map((r) => r.error ?? null)).toEqual([
      null,
      null,
      null,
      null,
      "ERR value is not an integer or out of range",
      null,
    ]);
    expect(results[1]?.result).toBe("a");
    expect(typeof results[2]?.result).toBe("number");
    expect(await redis.get(key("p"))).toBe("after-error");

    const failing = redis.pipeline();
    failing.incr(key("pstr"));
    await expect(failing.exec()).rejects.toThrow(/ERR value is not an integer/);
  });

  it("multi(): exec returns the results of an atomic transaction", async () => {
    await redis.del(key("t"), key("tc"));
    const tx = redis.multi();
    tx.set(key("t"), "x");
    tx.incr(key("tc"));
    tx.incr(key("tc"));
    tx.get(key("t"));
    expect(await tx.exec()).toEqual(["OK", 1, 2, "x"]);

    // A runtime error inside EXEC is per command; the others are applied.
    const tx2 = redis.multi();
    tx2.incr(key("t"));
    tx2.set(key("t"), "y");
    const results = await tx2.exec({ keepErrors: true });
    expect(results[0]?.error).toBe("ERR value is not an integer or out of range");
    expect(results[1]).toMatchObject({ result: "OK" });
    expect(await redis.get(key("t"))).toBe("y");
  });

  it("a Redis error surfaces as a thrown error with Redis's text", async () => {
    await redis.set(key("notnum"), "abc");
    await expect(redis.incr(key("notnum"))).rejects.toThrow("ERR value is not an integer or out of range");
    await expect(redis.exec(["NOSUCHCOMMAND", "x"])).rejects.toThrow(/ERR unknown command 'NOSUCHCOMMAND'/i);
    await expect(redis.hset(key("notnum"), { f: "v" })).rejects.toThrow(/^.*WRONGTYPE/);
  });

  it("EVAL / EVALSHA, NOSCRIPT passes through, script helper falls back to EVAL", async () => {
    const source = `return {KEYS[1], ARGV[1], tonumber(ARGV[2]) + 1}`;
    expect(await redis.eval(source, [key("s")], ["é", "41"])).toEqual([key("s"), "é", 42]);

    await redis.scriptFlush();
    const sha = await redis.scriptLoad(source);
    expect(sha).toMatch(/^[0-9a-f]{40}$/);
    expect(await redis.evalsha(sha, [key("s")], ["b", "1"])).toEqual([key("s"), "b", 2]);

    await expect(redis.evalsha("0".repeat(40), [], [])).rejects.toThrow(/NOSCRIPT/);

    // After a flush EVALSHA fails with NOSCRIPT; the helper must fall back to EVAL,
    // which caches the script again.
    await redis.scriptFlush();
    const script = redis.createScript<unknown>(`return "script:" .. ARGV[1]`);
    expect(await script.exec([], ["one"])).toBe("script:one");
    const [exists] = await redis.scriptExists(await sha1Hex(`return "script:" .. ARGV[1]`));
    expect(exists).toBe(1);
    expect(await script.exec([], ["two"])).toBe("script:two");
  });

  it("a wrong token is rejected with WRONGPASS (401)", async () => {
    const wrong = client(auto, "not-the-token");
    await expect(wrong.get(key("plain"))).rejects.toThrow(/WRONGPASS invalid or missing auth token/);
    const wrongSameLength = client(auto, "x".repeat(local.token.length));
    await expect(wrongSameLength.set(key("plain"), "evil")).rejects.toThrow(/WRONGPASS/);
    expect(await direct.get(key("plain"))).not.toBe("evil");
  });

  it("redis down → error (500) quickly; restarted → works again", async () => {
    await local.stopRedis();
    try {
      const started = Date.now();
      await expect(redis.get(key("plain"))).rejects.toThrow(/redis is unreachable/);
      await expect(redis.set(key("plain"), "x")).rejects.toThrow(/redis is unreachable/);
      const p = redis.pipeline();
      p.get(key("plain"));
      await expect(p.exec()).rejects.toThrow(/redis is unreachable/);
      const raw = await post("", ["GET", key("plain")]);
      expect(raw.status).toBe(500);
      expect(raw.json).toEqual({ error: expect.stringMatching(/^ERR redis is unreachable/) });
      // Hang guard only, not a performance assertion.
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      await local.startRedis();
    }
    expect(await redis.set(key("after-restart"), "back")).toBe("OK");
    expect(await redis.get(key("after-restart"))).toBe("back");
  }, 30_000);
});

describe("wire format (raw fetch)", () => {
  it("base64 encoding of nested results; numbers stay numbers; raw bytes are preserved", async () => {
    await direct.set("wire:bin", Buffer.from([0xff, 0x00, 0xfe, 0x80]));
    const script = `return {1, "x", {2, "é", {redis.call("GET", KEYS[1])}}, ARGV[1]}`;
    const encoded = await post("", ["EVAL", script, 1, "wire:bin", "ü"], ENC);
    expect(encoded.status).toBe(200);
    expect(encoded.json).toEqual({
      result: [
        1,
        b64("x"),
        [2, b64("é"), [Buffer.from([0xff, 0x00, 0xfe, 0x80]).toString("base64")]],
        b64("ü"),
      ],
    });

    const plain = await post("", ["EVAL", `return {1, "x", {2, "é"}, ARGV[1]}`, 0, "ü"]);
    expect(plain.json).toEqual({ result: [1, "x", [2, "é"], "ü"] });
  });

  it("status replies (OK) are base64-encoded with the header, plain without", async () => {
    expect((await post("", ["SET", "wire:ok", "v"], ENC)).json).toEqual({ result: b64("OK") });
    expect((await post("", ["set", "wire:ok", "v"])).json).toEqual({ result: "OK" });
    expect((await post("", ["TYPE", "wire:ok"], ENC)).json).toEqual({ result: b64("string") });
    expect((await post("", ["GET", "wire:none"], ENC)).json).toEqual({ result: null });
  });

  it("RESP2 shapes: HGETALL is a flat array", async () => {
    await post("", ["DEL", "wire:h"]);
    await post("", ["HSET", "wire:h", "a", 1, "b", true]);
    const res = await post("", ["hgetall", "wire:h"]);
    expect(res.json).toEqual({ result: ["a", "1", "b", "true"] });
  });

  it("error texts are never encoded; pipeline answers 200 with per-command results", async () => {
    await post("", ["SET", "wire:str", "abc"]);
    const single = await post("", ["INCR", "wire:str"], ENC);
    expect(single.status).toBe(400);
    expect(single.json).toEqual({ error: "ERR value is not an integer or out of range" });

    const pipe = await post(
      "/pipeline",
      [
        ["SET", "wire:p", 5],
        ["INCR", "wire:str"],
        ["INCRBY", "wire:p", 2],
      ],
      ENC,
    );
    expect(pipe.status).toBe(200);
    expect(pipe.json).toEqual([
      { result: b64("OK") },
      { error: "ERR value is not an integer or out of range" },
      { result: 7 },
    ]);
  });

  it("multi-exec: EXECABORT discards the whole transaction as one error with a non-2xx status", async () => {
    await post("", ["DEL", "wire:tx"]);
    const res = await post("/multi-exec", [["SET", "wire:tx", "1"], ["GET"]]);
    expect(res.status).toBe(400);
    expect(res.json).toEqual({ error: expect.stringMatching(/^EXECABORT/) });
    expect(await direct.exists("wire:tx")).toBe(0);

    const ok = await post(
      "/multi-exec",
      [
        ["SET", "wire:tx", "1"],
        ["INCR", "wire:tx"],
      ],
      ENC,
    );
    expect(ok.status).toBe(200);
    expect(ok.json).toEqual([{ result: b64("OK") }, { result: 2 }]);
  });

  it("upstash-sync-token header is present and increases", async () => {
    const first = await post("", ["PING"]);
    const second = await post("", ["PING"]);
    const a = Number(first.headers.get("upstash-sync-token"));
    const b = Number(second.headers.get("upstash-sync-token"));
    expect(Number.isInteger(a)).toBe(true);
    expect(b).toBeGreaterThan(a);
    // Also on error answers.
    const bad = await post("", "{nope");
    expect(Number(bad.headers.get("upstash-sync-token"))).toBeGreaterThan(b);
  });

  it("405 on GET, 404 on unknown paths", async () => {
    const res = await fetch(local.restUrl, { headers: { authorization: `Bearer ${local.token}` } });
    expect(res.status).toBe(405);
    expect(await res.json()).toEqual({ error: expect.stringMatching(/^ERR /) });
    expect((await post("/nope", ["PING"])).status).toBe(404);
  });

  it("401 without an Authorization header or with another scheme", async () => {
    const none = await fetch(local.restUrl, { method: "POST", body: '["PING"]' });
    expect(none.status).toBe(401);
    expect(await none.json()).toEqual({ error: "WRONGPASS invalid or missing auth token" });
    expect((await post("", ["PING"], { authorization: `Basic ${local.token}` })).status).toBe(401);
  });

  it.each([
    ["", "{not json", /^ERR .*JSON/],
    ["", { cmd: "GET" }, /^ERR /],
    ["", [], /^ERR /],
    ["", ["SET", "k", { nested: 1 }], /^ERR /],
    ["", ["SET", "k", null], /^ERR /],
    ["/pipeline", ["GET", "k"], /^ERR /],
    ["/pipeline", [], /^ERR /],
    ["/multi-exec", [["GET", "k"], "oops"], /^ERR /],
    ["", ["SUBSCRIBE", "ch"], /^ERR .*not supported/],
    ["/pipeline", [["MULTI"]], /^ERR .*not supported/],
  ])("400 on a bad body: POST %s %j", async (path, body, message) => {
    const res = await post(path, body);
    expect(res.status).toBe(400);
    expect(res.json).toEqual({ error: expect.stringMatching(message) });
  });

  it("numbers and booleans in raw commands become strings", async () => {
    await post("", ["SET", "wire:n", 12.5]);
    await post("", ["SET", "wire:b", false]);
    expect(await direct.get("wire:n")).toBe("12.5");
    expect(await direct.get("wire:b")).toBe("false");
  });

  it("413 on a body over 10 MiB", async () => {
    const res = await post("", ["SET", "wire:big", "x".repeat(10 * 1024 * 1024 + 1)]);
    expect(res.status).toBe(413);
    expect(res.json).toEqual({ error: expect.stringMatching(/^ERR /) });
    expect(await direct.exists("wire:big")).toBe(0);
  });
});

async function sha1Hex(text: string) {
  const digest = await crypto.subtle.digest("SHA-1", new TextEncoder().encode(text));
  return Buffer.from(digest).toString("hex");
}

describe("replicated mode: a primary and lagging replicas (real replication, delayed link)", () => {
  const LAG_MS = 2000;
  let replicated: Awaited<ReturnType<typeof startLocalRedis>> & {
    replicaPorts: number[];
    stats: { primary: number; replica: number; handedToPrimary: number };
  };
  let replicaClients: IORedis[] = [];

  beforeAll(async () => {
    replicated = (await startLocalRedis({ replicas: 2, replicaLagMs: LAG_MS })) as typeof replicated;
    replicaClients = replicated.replicaPorts.map((port) => {
      const c = new IORedis({ port, host: "127.0.0.1", maxRetriesPerRequest: 1 });
      c.on("error", () => {});
      return c;
    });
  }, 30_000);
  afterAll(async () => {
    for (const c of replicaClients) c.disconnect();
    await replicated?.stop();
  });

  const upstash = (syncToken?: string) => {
    const redis = new Redis({
      url: replicated.restUrl,
      token: replicated.token,
      enableTelemetry: false,
      automaticDeserialization: false,
    });
    if (syncToken !== undefined) redis.readYourWritesSyncToken = syncToken;
    return redis;
  };
  const readsOn = async (client: IORedis, name: string) =>
    Number(
      /calls=(\d+)/.exec(
        await client
          .info("commandstats")
          .then((i) => i.split("\n").find((l) => l.startsWith(`cmdstat_${name}:`)) ?? ""),
      )?.[1] ?? 0,
    );

  it("a fresh client reads stale; with the writer's sync token it reads the write", async () => {
    const writer = upstash();
    await writer.set("rep:k", "v1");
    const token = writer.readYourWritesSyncToken!;
    expect(token).toMatch(/^\d+$/);
    // A fresh client (its first request carries "") is answered by a replica that has not applied the write yet.
    expect(await upstash().get("rep:k")).toBeNull();
    // Another fresh client given the writer's token reads the write: the replica was waited for.
    const reader = upstash(token);
    expect(await reader.get("rep:k")).toBe("v1");
    // Its answer's token reflects a state at least as new as the write.
    expect(Number(reader.readYourWritesSyncToken)).toBeGreaterThanOrEqual(Number(token));
    // The same client object keeps reading its own writes (the client's own mechanism).
    await writer.set("rep:k", "v2");
    expect(await writer.get("rep:k")).toBe("v2");
  }, 20_000);

  it("a delete is read-your-writes too, and every answer's token is the state it reflects", async () => {
    const writer = upstash();
    await writer.set("rep:d", "there");
    const created = writer.readYourWritesSyncToken!;
    expect(await upstash(created).get("rep:d")).toBe("there");
    await writer.del("rep:d");
    const deleted = writer.readYourWritesSyncToken!;
    expect(Number(deleted)).toBeGreaterThan(Number(created));
    const stale = upstash(created);
    expect(await stale.get("rep:d")).toBe("there"); // the replica is still behind the delete
    // Its token says so: presenting it again cannot skip ahead of what it saw.
    expect(Number(stale.readYourWritesSyncToken)).toBeLessThan(Number(deleted));
    expect(await upstash(deleted).get("rep:d")).toBeNull();
  }, 20_000);

  it("writes go to the primary, reads round-robin over the replicas", async () => {
    const before = await Promise.all(replicaClients.map((c) => readsOn(c, "get")));
    const redis = upstash();
    await redis.set("rep:rr", "x");
    for (let i = 0; i < 6; i++) await redis.get("rep:never-set");
    const after = await Promise.all(replicaClients.map((c) => readsOn(c, "get")));
    expect(after.map((n, i) => n - before[i]!)).toEqual([3, 3]);
    expect(await direct.exists("rep:rr")).toBe(0); // the single-mode redis of the other suites is untouched
    const primary = new IORedis({ port: replicated.redisPort, host: "127.0.0.1", maxRetriesPerRequest: 1 });
    try {
      expect(await primary.get("rep:rr")).toBe("x");
    } finally {
      primary.disconnect();
    }
  });

  it("GETEX (a write in Redis's table, routing undocumented) is answered from a replica by default; its TTL lands on the primary", async () => {
    const writer = upstash();
    await writer.set("rep:gx", "old", { px: 60_000 });
    const created = writer.readYourWritesSyncToken!;
    expect(await upstash(created).get("rep:gx")).toBe("old");
    await writer.set("rep:gx", "new", { px: 60_000 });
    // A fresh client's GETEX reads the replica's (stale) value…
    expect(await upstash(created).getex("rep:gx", { px: 600_000 })).toBe("old");
    // …while the TTL change reached the primary.
    const primary = new IORedis({ port: replicated.redisPort, host: "127.0.0.1", maxRetriesPerRequest: 1 });
    try {
      expect(await primary.pttl("rep:gx")).toBeGreaterThan(60_000);
    } finally {
      primary.disconnect();
    }
  }, 20_000);

  it("a token no replica reaches within the wait bound is answered by the primary", async () => {
    const quick = (await startLocalRedis({
      replicas: 1,
      replicaLagMs: 60_000,
      syncWaitMs: 200,
    })) as typeof replicated;
    try {
      const writer = new Redis({
        url: quick.restUrl,
        token: quick.token,
        enableTelemetry: false,
        automaticDeserialization: false,
      });
      await writer.set("rep:far", "v");
      const token = writer.readYourWritesSyncToken!;
      const fresh = new Redis({
        url: quick.restUrl,
        token: quick.token,
        enableTelemetry: false,
        automaticDeserialization: false,
      });
      expect(await fresh.get("rep:far")).toBeNull(); // the replica is a minute behind
      const withToken = new Redis({
        url: quick.restUrl,
        token: quick.token,
        enableTelemetry: false,
        automaticDeserialization: false,
      });
      withToken.readYourWritesSyncToken = token;
      expect(await withToken.get("rep:far")).toBe("v");
      expect(quick.stats.handedToPrimary).toBe(1);
      // A token the endpoint never issued is ignored like a fresh client's "".
      const forged = await fetch(quick.restUrl, {
        method: "POST",
        headers: { authorization: `Bearer ${quick.token}`, "upstash-sync-token": "not-a-token" },
        body: JSON.stringify(["GET", "rep:far"]),
      });
      expect(await forged.json()).toEqual({ result: null });
      expect(Number(forged.headers.get("upstash-sync-token"))).toBeLessThan(Number(token));
    } finally {
      await quick.stop();
    }
  }, 30_000);

  it("a replica refuses nothing it is sent: writes inside a pipeline or transaction go to the primary", async () => {
    const redis = upstash();
    const p = redis.pipeline();
    p.get("rep:mixed");
    p.set("rep:mixed", "1");
    p.incr("rep:mixed");
    expect(await p.exec()).toEqual([null, "OK", 2]);
    const tx = redis.multi();
    tx.incr("rep:mixed");
    tx.get("rep:mixed");
    expect(await tx.exec()).toEqual([3, "3"]);
  });
});
