import { Redis } from "@upstash/redis";
import type { Redis as IORedis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startLocalRedis } from "../../scripts/local-redis.mjs";
import { startCluster, type Cluster } from "../support/cluster.js";
import { backendVersion, CookieJar, startVersionedBackend } from "../support/cookie-jar.js";
import { directClient, routerBindings, type LocalRedis } from "../support/redis.js";
import { SECRET_A, SECRET_B } from "../support/secrets.js";
import { storeKeyOf } from "../support/session-store.js";
import { bundleWorker } from "../support/worker-bundle.js";

/**
 * Sessions on a replicated store: the local Upstash endpoint in replica mode (two real
 * redis replicas whose replication link is LAG_MS late, reads round-robin over them,
 * GETEX answered by a replica: the worst case), several isolates (Miniflare workers). A
 * browser's cookie jar carries the session cookie and its sync-token companion.
 */
const LAG_MS = 1500;
let redis: LocalRedis & { replicaPorts: number[]; stats: { byCommand: Record<string, number> } };
let replicas: IORedis[];
let primary: IORedis;
let backend: Awaited<ReturnType<typeof startVersionedBackend>>;
let script: string;
const clusters: Cluster[] = [];

beforeAll(async () => {
  [redis, backend, script] = await Promise.all([
    startLocalRedis({ replicas: 2, replicaLagMs: LAG_MS }) as Promise<typeof redis>,
    startVersionedBackend(),
    bundleWorker(),
  ]);
  primary = directClient(redis.redisPort);
  replicas = redis.replicaPorts.map(directClient);
}, 60_000);
afterEach(async () => {
  await Promise.all(clusters.splice(0).map((c) => c.dispose()));
});
afterAll(async () => {
  for (const r of replicas ?? []) r.disconnect();
  primary?.disconnect();
  await redis?.stop();
  await backend?.close();
});

async function cluster(ext: Record<string, unknown> = {}, workers = ["a", "b"]): Promise<Cluster> {
  const c = await startCluster({
    script,
    workers,
    bindings: routerBindings(redis, backend.url, {
      sessionSecret: SECRET_A,
      revalidateAfter: 60_000,
      ...ext,
    }),
  });
  clusters.push(c);
  return c;
}

interface Step {
  status: number;
  token: string | null;
  /** The session cookie this answer set, if any. */
  newSession: string | undefined;
  version: string | undefined;
}

/** One request of the browser that owns `jar`, on `worker`; the jar takes the answer's cookies. */
async function browse(
  c: Cluster,
  worker: string,
  jar: CookieJar,
  path = "/app",
  init: RequestInit = {},
): Promise<Step> {
  const headers = new Headers(init.headers);
  if (jar.cookies.size > 0) headers.set("cookie", jar.header());
  if (!headers.has("x-csrf-token") && (init.method ?? "GET") === "GET") headers.set("x-csrf-token", "fetch");
  const res = await c.fetch(worker, path, { ...init, headers, redirect: "manual" });
  const body = await res.text();
  const set = jar.take(res);
  const session = set.find((s) => s.startsWith("JSESSIONID="));
  let version: string | undefined;
  try {
    version = backendVersion(body);
  } catch {
    version = undefined;
  }
  return {
    status: res.status,
    token: res.headers.get("x-csrf-token"),
    newSession: session?.split(";")[0],
    version,
  };
}

/**
 * A session that holds something, and so is stored (one holding only its CSRF token lives
 * in its cookie alone, stateless.ts): the backend sets its session cookie `BACKEND=0`, which
 * the router keeps in the session, on the very request that creates it.
 */
function create(c: Cluster, worker: string, jar: CookieJar): Promise<Step> {
  return browse(c, worker, jar, "/set/0");
}

/** Whether any replica has applied the write that created `key` (the replicas lag LAG_MS). */
async function onAnyReplica(key: string): Promise<boolean> {
  return (await Promise.all(replicas.map((r) => r.exists(key)))).some((n) => n === 1);
}

describe("sessions on a replicated store (replicas 1.5 s behind)", () => {
  it("a session created on A is recovered at once on B: same session, no new cookie", async () => {
    const c = await cluster();
    const jar = new CookieJar();
    const created = await create(c, "a", jar);
    expect(created.status).toBe(200);
    expect(created.newSession).toMatch(/^JSESSIONID=[A-Za-z0-9_-]{43}$/);
    expect(jar.get("JSESSIONID_SYNC")).toMatch(/^[0-9a-z]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    // The replicas have not applied the write yet: a plain read there sees no session.
    const key = await storeKeyOf(SECRET_A, created.newSession!);
    expect(await onAnyReplica(key)).toBe(false);
    const onB = await browse(c, "b", jar);
    expect(onB).toMatchObject({ status: 200, token: created.token, newSession: undefined, version: "0" });
  });

  it("a token-only session's first write, on A or on B, is read at once on the other isolate: same session, no new cookie", async () => {
    const c = await cluster();
    for (const [fetchOn, writeOn, readOn] of [
      ["a", "a", "b"],
      ["a", "b", "a"],
    ] as const) {
      const jar = new CookieJar();
      const before = { ...redis.stats.byCommand };
      const fetched = await browse(c, fetchOn, jar); // a CSRF token fetch: the session lives in its cookie alone
      expect(fetched.newSession).toMatch(/^JSESSIONID=[A-Za-z0-9_-]{43}\.[0-9a-z]+\.[A-Za-z0-9_-]{22}$/);
      expect(jar.get("JSESSIONID_SYNC")).toBeUndefined();
      expect(
        Object.keys(redis.stats.byCommand).reduce(
          (n, k) => n + redis.stats.byCommand[k]! - (before[k] ?? 0),
          0,
        ),
      ).toBe(0);
      const id = fetched.newSession!.slice("JSESSIONID=".length).split(".")[0]!;
      // Its first write (the backend's session cookie kept in it) stores it under the same id.
      const written = await browse(c, writeOn, jar, "/set/1");
      expect(written).toMatchObject({ status: 200, token: fetched.token, newSession: `JSESSIONID=${id}` });
      expect(jar.get("JSESSIONID_SYNC")).toMatch(/^[0-9a-z]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
      expect(await onAnyReplica(await storeKeyOf(SECRET_A, id))).toBe(false);
      expect(await browse(c, readOn, jar)).toMatchObject({
        status: 200,
        token: fetched.token,
        newSession: undefined,
        version: "1",
      });
    }
  });

  it("revalidating a copy that reflects the session's last write is one PEXPIRE on the primary, no replica read", async () => {
    const c = await cluster({ revalidateAfter: 300 });
    const jar = new CookieJar();
    const created = await create(c, "a", jar);
    await new Promise((r) => setTimeout(r, 350));
    const before = { ...redis.stats.byCommand };
    expect(await browse(c, "a", jar)).toMatchObject({
      status: 200,
      token: created.token,
      newSession: undefined,
    });
    const after = redis.stats.byCommand;
    expect(["GET", "PEXPIRE", "SET"].map((name) => (after[name] ?? 0) - (before[name] ?? 0))).toEqual([
      0, 1, 0,
    ]);
  });

  it("without its sync cookie a session is still never replaced by a new one", async () => {
    const c = await cluster();
    const jar = new CookieJar();
    const created = await create(c, "a", jar);
    const bare = new CookieJar([created.newSession!]); // a client that keeps only the session cookie
    expect(await browse(c, "b", bare)).toMatchObject({
      status: 200,
      token: created.token,
      newSession: undefined,
    });
  });

  it("a change made on A is served by B on the next request, although B's copy is inside its revalidation window", async () => {
    const c = await cluster({ revalidateAfter: 60_000 });
    const jar = new CookieJar();
    await browse(c, "a", jar, "/set/1");
    await new Promise((r) => setTimeout(r, LAG_MS + 300)); // version 1 everywhere
    expect((await browse(c, "b", jar)).version).toBe("1"); // B now holds a copy with version 1
    const older = jar.copy();
    await browse(c, "a", jar, "/set/2"); // written on A, its token in the jar
    const primaryCopy = await primary.get(await storeKeyOf(SECRET_A, jar.get("JSESSIONID")!));
    const key = await storeKeyOf(SECRET_A, jar.get("JSESSIONID")!);
    const stale = await Promise.all(replicas.map((r) => r.get(key)));
    const onB = await browse(c, "b", jar);
    expect(onB).toMatchObject({ status: 200, newSession: undefined, version: "2" });
    // A request still carrying the older cookie (sent before the change) does not take B back to version 1.
    expect((await browse(c, "b", older)).version).toBe("2");
    // The replicas still held version 1 when B was asked (the point of the test).
    expect(stale.every((envelope) => envelope !== null && envelope !== primaryCopy)).toBe(true);
  });

  it("a logout on A is honoured on B within the revalidation window, before the replicas have applied it", async () => {
    const REVALIDATE = 400;
    const c = await cluster({ revalidateAfter: REVALIDATE });
    const jar = new CookieJar();
    const created = await create(c, "a", jar);
    expect((await browse(c, "b", jar)).token).toBe(created.token); // B holds it
    const stolen = jar.copy(); // the same cookies, kept by someone else (another tab, an attacker)
    const logout = await browse(c, "a", jar, "/logout", {
      method: "POST",
      headers: { "x-csrf-token": created.token! },
    });
    expect(logout.status).toBe(200);
    expect(jar.get("JSESSIONID")).toBeUndefined();
    expect(jar.get("JSESSIONID_SYNC")).toBeUndefined();
    await new Promise((r) => setTimeout(r, REVALIDATE + 50));
    const key = await storeKeyOf(SECRET_A, created.newSession!);
    const replicaStillHasIt = await onAnyReplica(key);
    const onB = await browse(c, "b", stolen);
    expect(onB.status).toBe(200);
    expect(onB.newSession).toBeDefined(); // a new session, not the ended one
    expect(onB.token).not.toBe(created.token);
    // The point of the test: the replicas could still show the session when B asked.
    expect(replicaStillHasIt).toBe(true);
  });

  it("a sync cookie of another session, a forged one or one from another secret is ignored: no wait, same session", async () => {
    const c = await cluster();
    const one = new CookieJar();
    const other = new CookieJar();
    const first = await create(c, "a", one);
    await create(c, "a", other);
    const mixed = new CookieJar([
      `JSESSIONID=${one.get("JSESSIONID")}`,
      `JSESSIONID_SYNC=${other.get("JSESSIONID_SYNC")}`,
    ]);
    expect(await browse(c, "b", mixed)).toMatchObject({
      status: 200,
      token: first.token,
      newSession: undefined,
    });
    const [at, token] = one.get("JSESSIONID_SYNC")!.split(".");
    const forged = new CookieJar([
      `JSESSIONID=${one.get("JSESSIONID")}`,
      `JSESSIONID_SYNC=${at}.${Buffer.from("99999999999").toString("base64url")}.${token}`,
    ]);
    const c2 = await cluster({}, ["c"]);
    expect(await browse(c2, "c", forged)).toMatchObject({
      status: 200,
      token: first.token,
      newSession: undefined,
    });
    const c3 = await cluster({ sessionSecret: SECRET_B, previousSessionSecrets: [SECRET_A] }, ["d"]);
    // Sealed under SECRET_A, which the isolate still opens as a previous secret.
    expect(await browse(c3, "d", one.copy())).toMatchObject({ status: 200, newSession: undefined });
  });

  it("the sync cookie is host-only, HttpOnly, Secure, SameSite=Lax, and never reaches a backend", async () => {
    const c = await cluster();
    const res = await c.fetch("a", "/set/0", { headers: { "x-csrf-token": "fetch" } });
    await res.arrayBuffer();
    const sync = res.headers.getSetCookie().find((s) => s.startsWith("JSESSIONID_SYNC="))!;
    expect(sync).toMatch(/; Path=\/; HttpOnly; Secure; SameSite=Lax$/);
    expect(sync).not.toMatch(/Domain=/i);
    const jar = new CookieJar();
    jar.take(res);
    const echoed = await c.fetch("b", "/app", { headers: { cookie: `${jar.header()}; other=1` } });
    // The browser's own cookie and the backend's session cookie the router keeps; none of the router's.
    expect(JSON.parse(await echoed.text())).toEqual({ cookie: "other=1; BACKEND=0" });
  });

  it("the endpoint really lags: a fresh @upstash/redis client reads a just-created session as absent", async () => {
    const c = await cluster();
    const jar = new CookieJar();
    const created = await create(c, "a", jar);
    const fresh = new Redis({
      url: redis.restUrl,
      token: redis.token,
      enableTelemetry: false,
      automaticDeserialization: false,
    });
    expect(await fresh.get(await storeKeyOf(SECRET_A, created.newSession!))).toBeNull();
  });
});
