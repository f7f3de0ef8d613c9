import { describe, expect, it } from "vitest";
import { sessionCookieOf, type Cluster } from "../support/cluster.js";
import { commandCounts, totalCalls } from "../support/redis.js";
import { sleep } from "../support/router-client.js";
import { SECRET_A } from "../support/secrets.js";
import { useStoreFixture } from "../support/store-fixture.js";

/**
 * Several isolates (Miniflare workers: separate module state, so separate first tiers)
 * sharing one real redis-server behind the local Upstash REST endpoint.
 */
const fx = useStoreFixture({
  ext: { sessionSecret: SECRET_A, revalidateAfter: 1000, defaultRetryTimeout: 500 },
});
const cluster = (
  ext: Record<string, unknown> = {},
  workers = ["a", "b"],
  bindings: Record<string, string> = {},
) => fx.cluster({ ext, workers, bindings });

const fetchToken = (cookie?: string): RequestInit => ({
  headers: { "x-csrf-token": "fetch", ...(cookie ? { cookie } : {}) },
});

/** A stored session: the backend sets a session cookie the router keeps (see test/support/backend.ts). */
async function newSession(c: Cluster, worker: string): Promise<{ cookie: string; token: string }> {
  const res = await c.fetch(worker, "/app", {
    headers: { "x-csrf-token": "fetch", "x-test-backend-session": "s" },
  });
  expect(res.status).toBe(200);
  await res.arrayBuffer();
  return { cookie: sessionCookieOf(res)!, token: res.headers.get("x-csrf-token")! };
}

async function tokenOn(c: Cluster, worker: string, cookie: string) {
  const res = await c.fetch(worker, "/app", fetchToken(cookie));
  await res.arrayBuffer();
  return { status: res.status, token: res.headers.get("x-csrf-token"), newCookie: sessionCookieOf(res) };
}

describe("two isolates, one Redis", () => {
  it("recovers a session created on A on B: same token, no new cookie, one read and one TTL slide", async () => {
    const c = await cluster();
    const { cookie, token } = await newSession(c, "a");
    expect(cookie).toMatch(/^JSESSIONID=[A-Za-z0-9_-]{43}$/);
    const before = await commandCounts(fx.direct);
    const onB = await tokenOn(c, "b", cookie);
    const after = await commandCounts(fx.direct);
    expect(onB).toEqual({ status: 200, token, newCookie: undefined });
    // A read and, in parallel, the TTL slide (PEXPIRE, a write: the primary's word that the
    // session still exists, see src/stores/upstash.ts), and nothing else, not even after the response.
    expect((after.get ?? 0) - (before.get ?? 0)).toBe(1);
    expect((after.pexpire ?? 0) - (before.pexpire ?? 0)).toBe(1);
    expect(totalCalls(after) - totalCalls(before)).toBe(2);
  });

  it("serves an unchanged session from the first tier with no store call inside the revalidation window", async () => {
    const c = await cluster({ revalidateAfter: 60_000 });
    const { cookie, token } = await newSession(c, "a");
    const before = totalCalls(await commandCounts(fx.direct));
    for (let i = 0; i < 20; i++)
      expect(await tokenOn(c, "a", cookie)).toEqual({ status: 200, token, newCookie: undefined });
    expect(totalCalls(await commandCounts(fx.direct)) - before).toBe(0);
  });

  it("honours a logout on B on A within the revalidation bound", async () => {
    const c = await cluster({ revalidateAfter: 500 });
    const { cookie, token } = await newSession(c, "a");
    expect((await tokenOn(c, "b", cookie)).token).toBe(token);
    const logout = await c.fetch("b", "/logout", {
      method: "POST",
      headers: { cookie, "x-csrf-token": token },
      redirect: "manual",
    });
    expect(logout.status).toBe(200); // a POST logout is answered with a page (SAP)
    expect(logout.headers.getSetCookie().join()).toMatch(/JSESSIONID=;.*Max-Age=0/);
    await sleep(600);
    const onA = await tokenOn(c, "a", cookie);
    expect(onA.status).toBe(200);
    expect(onA.token).not.toBe(token);
    expect(onA.newCookie).toBeDefined(); // a fresh session, not the old one
    expect(onA.newCookie).not.toBe(cookie);
  });

  it("keeps the session across a restart of every isolate", async () => {
    const first = await cluster();
    const { cookie, token } = await newSession(first, "a");
    await fx.disposeClusters();
    const second = await cluster();
    expect(await tokenOn(second, "a", cookie)).toEqual({ status: 200, token, newCookie: undefined });
    expect(await tokenOn(second, "b", cookie)).toEqual({ status: 200, token, newCookie: undefined });
  });

  it("stores nothing readable: no session id, no token, no JSON", async () => {
    const c = await cluster();
    const sessions = await Promise.all([newSession(c, "a"), newSession(c, "b"), newSession(c, "a")]);
    const keys = await fx.direct.keys("*");
    expect(keys.length).toBeGreaterThanOrEqual(3);
    for (const key of keys) {
      expect(key).toMatch(/^approuter-edge:s:[A-Za-z0-9_-]{43}$/);
      const value = (await fx.direct.get(key))!;
      expect(value).toMatch(/^e2\.[A-Za-z0-9_-]{8}\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
      expect(await fx.direct.pttl(key)).toBeGreaterThan(0);
      for (const { cookie, token } of sessions) {
        const id = cookie.split("=")[1]!;
        expect(key).not.toContain(id);
        expect(value).not.toContain(id);
        expect(value).not.toContain(token);
      }
      expect(value).not.toMatch(/[{}":]/);
    }
  });

  it("keeps serving held sessions while Redis is down; a fresh isolate answers without a 5xx", async () => {
    const c = await cluster({ revalidateAfter: 200 }, ["a", "b", "c"]);
    const { cookie, token } = await newSession(c, "a");
    await fx.redis.stopRedis();
    try {
      await sleep(250); // past the revalidation window: A must try the store and carry on
      for (let i = 0; i < 3; i++)
        expect(await tokenOn(c, "a", cookie)).toEqual({ status: 200, token, newCookie: undefined });
      const onC = await tokenOn(c, "c", cookie);
      expect(onC.status).toBeLessThan(500);
      const plain = await c.fetch("c", "/app", { headers: { cookie } });
      expect(plain.status).toBe(200);
      expect(plain.headers.getSetCookie()).toEqual([]); // never clears the cookie on a store error
    } finally {
      await fx.redis.startRedis();
    }
    // Backups resume: a session made now is recovered on another isolate.
    await sleep(600); // past the cooldown after the failures
    const fresh = await newSession(c, "a");
    expect(await tokenOn(c, "b", fresh.cookie)).toEqual({
      status: 200,
      token: fresh.token,
      newCookie: undefined,
    });
  });

  it("anonymous token fetches cost nothing: N cookieless fetches, no Redis command; the token works on a POST on another isolate", async () => {
    // authenticationMethod "route": a POST logout checks the CSRF token (SAP).
    const c = await cluster({}, ["a", "b"], {
      XS_APP: JSON.stringify({
        authenticationMethod: "route",
        routes: [{ source: "^/(.*)$", target: "/$1", destination: "backend", authenticationType: "none" }],
        logout: { logoutEndpoint: "/logout", logoutMethod: "POST" },
      }),
    });
    const N = 200;
    const before = await commandCounts(fx.direct);
    const got: { cookie: string; token: string }[] = [];
    for (let i = 0; i < N; i++) {
      const res = await c.fetch(i % 2 ? "a" : "b", "/app", fetchToken());
      expect(res.status).toBe(200);
      await res.arrayBuffer();
      got.push({ cookie: sessionCookieOf(res)!, token: res.headers.get("x-csrf-token")! });
    }
    expect(totalCalls(await commandCounts(fx.direct)) - totalCalls(before)).toBe(0);
    expect(new Set(got.map((g) => g.token)).size).toBe(N);
    // The token of a session made on A passes the CSRF check of a POST on B (logout checks it),
    // and a token fetch on B with that cookie gives the same token, still with no Redis command.
    const { cookie, token } = got[1]!;
    expect(await tokenOn(c, "a", cookie)).toEqual({ status: 200, token, newCookie: undefined });
    const wrong = await c.fetch("b", "/logout", {
      method: "POST",
      headers: { cookie, "x-csrf-token": got[0]!.token },
      redirect: "manual",
    });
    await wrong.arrayBuffer();
    expect(wrong.status).toBe(403);
    expect(wrong.headers.get("x-csrf-token")).toBe("Required");
    const logout = await c.fetch("b", "/logout", {
      method: "POST",
      headers: { cookie, "x-csrf-token": token },
      redirect: "manual",
    });
    await logout.arrayBuffer();
    expect(logout.status).toBe(200);
    expect(totalCalls(await commandCounts(fx.direct)) - totalCalls(before)).toBe(0);
  });

  it("a session that only had its token becomes a stored one when a backend's cookie is kept: same token, recovered on the other isolate", async () => {
    const c = await cluster();
    const anon = await c.fetch("a", "/app", fetchToken());
    await anon.arrayBuffer();
    const anonCookie = sessionCookieOf(anon)!;
    const token = anon.headers.get("x-csrf-token")!;
    const before = await commandCounts(fx.direct);
    const keep = await c.fetch("a", "/app", {
      headers: { cookie: anonCookie, "x-test-backend-session": "kept" },
    });
    await keep.arrayBuffer();
    const stored = sessionCookieOf(keep)!;
    expect(stored).toMatch(/^JSESSIONID=[A-Za-z0-9_-]{43}$/);
    expect(anonCookie.startsWith(`${stored}.`)).toBe(true);
    const after = await commandCounts(fx.direct);
    expect(after.set! - (before.set ?? 0)).toBe(1);
    expect(await tokenOn(c, "b", stored)).toEqual({ status: 200, token, newCookie: undefined });
    const echo = await c.fetch("b", "/echo", { headers: { cookie: stored } });
    expect(((await echo.json()) as { cookie: string | null }).cookie).toBe("BACKEND_SESSION=kept");
  });
});
