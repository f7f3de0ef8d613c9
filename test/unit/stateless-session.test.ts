import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app.js";
import type { Authenticator } from "../../src/auth/types.js";
import { ExternalTier } from "../../src/session/external-tier.js";
import { KeyRing } from "../../src/session/keyring.js";
import { ResilientStore, realSleep } from "../../src/stores/resilient.js";
import { MapByteStore } from "../support/map-byte-store.js";
import { SECRET_A, SECRET_B } from "../support/secrets.js";
import { testSessionManager } from "../support/session-manager.js";
import { configWithXsuaa } from "../support/router-env.js";

/**
 * Anonymous traffic costs nothing: a session that holds nothing but its CSRF token is
 * kept in its cookie (id, creation time, MAC), with no store write and no first-tier
 * entry, and its token is recomputed from the id on any isolate. It is stored once it
 * holds something. (Node-level, with real Redis and two isolates: test/node/two-isolates.test.ts.)
 */
const xsApp = {
  authenticationMethod: "route",
  routes: [
    { source: "^/public/(.*)$", target: "/$1", destination: "backend", authenticationType: "none" },
    { source: "^/api/(.*)$", target: "/api/$1", destination: "backend", authenticationType: "xsuaa" },
  ],
  logout: { logoutEndpoint: "/logout", logoutMethod: "POST" },
};
const IDLE = 15 * 60_000;
const ABSOLUTE = 8 * 3600_000;
const allowEveryone: Authenticator = async () => null;

const configOf = () => configWithXsuaa(xsApp);

/** A backend that sets a session cookie `BACKEND=<v>` on `/set/<v>` and echoes the cookies it gets. */
const backend = (async (input: RequestInfo | URL, init?: RequestInit) => {
  const r = new Request(input, init);
  const set = /\/set\/(\w+)$/.exec(new URL(r.url).pathname);
  const headers = new Headers({ "content-type": "text/plain" });
  if (set) headers.set("set-cookie", `BACKEND=${set[1]}; Path=/`);
  return new Response(`cookie=${r.headers.get("cookie") ?? ""}`, { headers });
}) as typeof fetch;

/** One isolate: its own first tier; with `store`, a second tier shared with other isolates. */
async function isolate(
  options: { store?: MapByteStore; secrets?: string[]; maxEntries?: number; clock?: { t: number } } = {},
) {
  const clock = options.clock ?? { t: Date.now() };
  const now = () => clock.t;
  const external = options.store
    ? new ExternalTier(
        new ResilientStore(options.store, {
          budgetMs: 200,
          backOffMs: 1,
          maxAttempts: 2,
          cooldownMs: 0,
          now,
          sleep: realSleep,
        }),
        await KeyRing.create(options.secrets ?? [SECRET_A]),
      )
    : undefined;
  const manager = testSessionManager({
    maxEntries: options.maxEntries ?? 100,
    ...(external ? { external } : {}),
    idleTimeoutMs: IDLE,
    absoluteTimeoutMs: ABSOLUTE,
    revalidateAfterMs: 5_000,
    now,
  });
  const { memory } = manager;
  const app = createApp({
    config: configOf(),
    manager,
    fetch: backend,
    log: () => {},
    authenticate: allowEveryone,
    now,
  });
  const request = (path: string, init?: RequestInit) => app.request(`https://router.test${path}`, init);
  const fetchToken = async (cookie?: string) => {
    const res = await request("/public/x", {
      headers: { "x-csrf-token": "fetch", ...(cookie ? { cookie } : {}) },
    });
    await res.arrayBuffer();
    return { status: res.status, token: res.headers.get("x-csrf-token"), cookie: cookieOf(res) };
  };
  const post = async (cookie: string | undefined, token: string | undefined, path = "/api/items") => {
    const res = await request(path, {
      method: "POST",
      headers: { ...(cookie ? { cookie } : {}), ...(token ? { "x-csrf-token": token } : {}) },
      body: "{}",
    });
    await res.arrayBuffer();
    return { status: res.status, csrf: res.headers.get("x-csrf-token") };
  };
  return { manager, memory, request, fetchToken, post, clock };
}

const cookieOf = (res: Response) =>
  res.headers
    .getSetCookie()
    .find((c) => c.startsWith("JSESSIONID="))
    ?.split(";")[0];

describe("sessions that hold nothing but their CSRF token", () => {
  it("N cookieless token fetches: no store call, no first-tier entry; each gets a token and a cookie", async () => {
    const store = new MapByteStore();
    const a = await isolate({ store });
    const N = 1000;
    const tokens = new Set<string>();
    for (let i = 0; i < N; i++) {
      const got = await a.fetchToken();
      expect(got.status).toBe(200);
      expect(got.cookie).toMatch(/^JSESSIONID=[A-Za-z0-9_-]{43}\.[0-9a-z]+\.[A-Za-z0-9_-]{22}$/);
      tokens.add(got.token!);
    }
    expect(tokens.size).toBe(N);
    expect(store.calls).toEqual([]);
    expect(a.memory.stats().entries).toBe(0);
    expect(a.manager.metrics).toMatchObject({ statelessIssued: N, writes: 0 });
  });

  it("the token works on a POST on another isolate; a wrong, missing or foreign token gets 403 x-csrf-token: Required", async () => {
    const store = new MapByteStore();
    const [a, b] = [await isolate({ store }), await isolate({ store })];
    const mine = await a.fetchToken();
    const other = await a.fetchToken();
    expect(await b.post(mine.cookie, mine.token!)).toEqual({ status: 200, csrf: null });
    for (const token of [undefined, "wrong", other.token!])
      expect(await b.post(mine.cookie, token)).toEqual({ status: 403, csrf: "Required" });
    expect(await b.post(undefined, mine.token!)).toEqual({ status: 403, csrf: "Required" });
    // Again on B: the same token, no new cookie, still nothing stored.
    expect(await b.fetchToken(mine.cookie)).toEqual({ status: 200, token: mine.token, cookie: undefined });
    expect(store.calls).toEqual([]);
    expect(b.memory.stats().entries).toBe(0);
    // And a POST logout with it (the logout endpoint checks the token too).
    expect((await b.post(mine.cookie, mine.token!, "/logout")).status).toBe(200);
    expect((await b.post(mine.cookie, "wrong", "/logout")).status).toBe(403);
  });

  it("an id the router did not issue is never adopted: forged, altered or expired cookies are no session", async () => {
    const store = new MapByteStore();
    const a = await isolate({ store });
    const { cookie, token } = await a.fetchToken();
    const value = cookie!.slice("JSESSIONID=".length);
    const [id, iat, tag] = value.split(".") as [string, string, string];
    const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === "A" ? "B" : "A") + s.slice(i + 1);
    const forged = [
      `${flip(id, 0)}.${iat}.${tag}`, // another id
      `${id}.${(parseInt(iat, 36) + 1).toString(36)}.${tag}`, // another creation time
      `${id}.${iat}.${flip(tag, 3)}`, // another MAC
      `${id}.${(Date.now() + ABSOLUTE).toString(36)}.${tag}`,
      `${id}..${tag}`,
      `${id}.${iat}`,
    ];
    for (const f of forged) {
      expect((await a.post(`JSESSIONID=${f}`, token!)).status, f).toBe(403);
      const again = await a.fetchToken(`JSESSIONID=${f}`);
      expect(again.token).not.toBe(token);
      expect(again.cookie).toBeDefined(); // a new session, not the forged one
    }
    // Under a secret this isolate does not know: no session.
    const stranger = await isolate({ store, secrets: [SECRET_B] });
    expect((await stranger.post(cookie, token!)).status).toBe(403);
    // Past the absolute lifetime: no session.
    const later = await isolate({ store, clock: { t: Date.now() + ABSOLUTE + 1 } });
    expect((await later.post(cookie, token!)).status).toBe(403);
    expect(store.calls).toEqual([]);
  });

  it("a rotation: cookies made under the previous secret keep working, new ones are made under the newest", async () => {
    const store = new MapByteStore();
    const before = await isolate({ store, secrets: [SECRET_A] });
    const old = await before.fetchToken();
    const rotated = await isolate({ store, secrets: [SECRET_B, SECRET_A] });
    expect((await rotated.post(old.cookie, old.token!)).status).toBe(200);
    const fresh = await rotated.fetchToken();
    expect(
      (await (await isolate({ store, secrets: [SECRET_B] })).post(fresh.cookie, fresh.token!)).status,
    ).toBe(200);
  });

  it("becomes a stored session, under the same id and with the same token, once it holds something", async () => {
    const store = new MapByteStore();
    const [a, b] = [await isolate({ store }), await isolate({ store })];
    const anon = await a.fetchToken();
    const res = await a.request("/public/set/one", { headers: { cookie: anon.cookie! } });
    expect(await res.text()).toBe("cookie=");
    const stored = cookieOf(res)!;
    expect(stored).toMatch(/^JSESSIONID=[A-Za-z0-9_-]{43}$/); // now a stored session: the plain id
    expect(anon.cookie!.startsWith(`${stored}.`)).toBe(true);
    expect(store.calls).toEqual(["set"]);
    expect(a.manager.metrics).toMatchObject({ statelessStored: 1, writes: 1 });
    // On another isolate: recovered, the backend's cookie replayed, the same token.
    expect(await b.fetchToken(stored)).toEqual({ status: 200, token: anon.token, cookie: undefined });
    expect(await (await b.request("/public/echo", { headers: { cookie: stored } })).text()).toBe(
      "cookie=BACKEND=one",
    );
    expect((await b.post(stored, anon.token!)).status).toBe(200);
  });

  it("memory only: anonymous token fetches never evict a session that holds something", async () => {
    const a = await isolate({ maxEntries: 5 });
    const users: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await a.request(`/public/set/user${i}`);
      await res.arrayBuffer();
      users.push(cookieOf(res)!);
    }
    expect(a.memory.stats().entries).toBe(5);
    for (let i = 0; i < 2000; i++) expect((await a.fetchToken()).status).toBe(200);
    expect(a.memory.stats()).toMatchObject({ entries: 5, evictions: 0 });
    for (const [i, cookie] of users.entries()) {
      expect(await (await a.request("/public/echo", { headers: { cookie } })).text()).toBe(
        `cookie=BACKEND=user${i}`,
      );
    }
  });
});
