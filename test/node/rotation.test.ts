import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCookieBackend } from "../support/backend.js";
import type { Cluster } from "../support/cluster.js";
import { STATELESS_SESSION_COOKIE, newSession, tokenFetch, type Answer } from "../support/router-client.js";
import { SECRET_A, SECRET_B } from "../support/secrets.js";
import { kidInEnvelope, kidOf, plantSession, storeKeyOf } from "../support/session-store.js";
import { useStoreFixture } from "../support/store-fixture.js";

/**
 * Rotating `sessionSecret` (EXT_SESSION_MGT.previousSessionSecrets), isolates against a
 * real Redis. Sessions sealed with the previous secret keep working; their next write
 * moves them to the new secret (new key, new kid, old key gone); once the old secret is
 * dropped from the list, sessions still sealed with it are no longer found.
 *
 * Writes that change an existing session at the router level: a backend's session cookie
 * (Set-Cookie without Expires/Max-Age) that the router keeps in the session's cookie jar;
 * and the first token fetch on a session that has no token yet (planted here, sealed with
 * the old secret exactly as the router seals; the router itself makes such sessions to
 * hold a backend's session cookie). A token fetch on a session that already has its
 * token changes nothing. The manager-level move is in test/unit/rotation.test.ts.
 */
const fx = useStoreFixture({ ext: { revalidateAfter: 1000 } });
/** A backend that sets a session cookie `BACKEND=<v>` on `/set/<v>` and echoes the cookies it got. */
let cookieBackend: Awaited<ReturnType<typeof startCookieBackend>>;
beforeAll(async () => {
  cookieBackend = await startCookieBackend();
});
afterAll(() => cookieBackend?.close());

const cluster = (
  sessionSecret: string,
  previousSessionSecrets: string[] = [],
  workers = ["a", "b"],
  backendUrl?: string,
): Promise<Cluster> =>
  fx.cluster({
    ext: { sessionSecret, previousSessionSecrets },
    workers,
    ...(backendUrl ? { backendUrl } : {}),
  });

const same = (token: string): Partial<Answer> => ({ status: 200, token, setCookies: [] });

describe("secret rotation", () => {
  it("keeps sessions of the previous secret, moves them on their next write, and drops them with the secret", async () => {
    const [kidA, kidB] = await Promise.all([kidOf(SECRET_A), kidOf(SECRET_B)]);

    // Before: sessions sealed with A. One the router made (it has its token), one planted
    // without a token (its first token fetch will change it).
    const before = await cluster(SECRET_A);
    const made = await newSession(before, "a");
    const planted = await plantSession(fx.direct, SECRET_A);
    const madeKeyA = await storeKeyOf(SECRET_A, made.cookie);
    const [madeKeyB, plantedKeyB] = await Promise.all([
      storeKeyOf(SECRET_B, made.cookie),
      storeKeyOf(SECRET_B, planted.cookie),
    ]);
    expect(kidInEnvelope((await fx.direct.get(madeKeyA))!)).toBe(kidA);
    await fx.disposeClusters();

    // Rotated: B seals, A still opens. Fresh isolates recover both sessions.
    const rotated = await cluster(SECRET_B, [SECRET_A]);
    expect(await tokenFetch(rotated, "a", made.cookie)).toMatchObject(same(made.token));
    expect(await tokenFetch(rotated, "b", made.cookie)).toMatchObject(same(made.token));
    // Unchanged (a token fetch on a session that has its token writes nothing): still under A.
    expect(await fx.direct.exists(madeKeyA)).toBe(1);
    expect(await fx.direct.exists(madeKeyB)).toBe(0);

    // The first token fetch on the planted session changes it: the write moves it to B.
    const first = await tokenFetch(rotated, "a", planted.cookie);
    expect(first).toMatchObject({ status: 200, setCookies: [] }); // the same session, not a new one
    expect(first.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const moved = await fx.direct.get(plantedKeyB);
    expect(moved, "re-sealed under the new secret's key").not.toBeNull();
    expect(kidInEnvelope(moved!)).toBe(kidB);
    expect(await fx.direct.exists(planted.storeKey), "the old key is gone").toBe(0);
    expect(await fx.direct.pttl(plantedKeyB)).toBeGreaterThan(0);
    // Every isolate finds it there, with the token of that write.
    expect(await tokenFetch(rotated, "b", planted.cookie)).toMatchObject(same(first.token!));
    expect(await tokenFetch(rotated, "a", planted.cookie)).toMatchObject(same(first.token!));
    await fx.disposeClusters();

    // A dropped: the session still sealed with A is no session (a new one on token fetch)…
    const retired = await cluster(SECRET_B);
    const dropped = await tokenFetch(retired, "a", made.cookie);
    expect(dropped.status).toBe(200);
    expect(dropped.newCookie).toMatch(STATELESS_SESSION_COOKIE); // a new session, holding only its token
    expect(dropped.newCookie).not.toBe(made.cookie);
    expect(dropped.token).not.toBe(made.token);
    const onB = await tokenFetch(retired, "b", made.cookie);
    expect(onB.newCookie).toBeDefined();
    expect(onB.newCookie).not.toBe(made.cookie);
    expect(onB.token).not.toBe(made.token);
    // …while the one moved to B lives on.
    expect(await tokenFetch(retired, "a", planted.cookie)).toMatchObject(same(first.token!));
  });

  it("a backend session cookie kept in the session is the change that moves it to the new secret", async () => {
    const before = await cluster(SECRET_A, [], ["a"], cookieBackend.url);
    const made = await newSession(before, "a", "/set/zero"); // a stored session: it holds BACKEND=zero
    const [keyA, keyB] = await Promise.all([
      storeKeyOf(SECRET_A, made.cookie),
      storeKeyOf(SECRET_B, made.cookie),
    ]);
    await fx.disposeClusters();

    const rotated = await cluster(SECRET_B, [SECRET_A], ["a", "b"], cookieBackend.url);
    const set = await rotated.fetch("a", "/set/one", { headers: { cookie: made.cookie } });
    expect(set.status).toBe(200);
    expect(
      set.headers.getSetCookie().filter((c) => !c.startsWith("JSESSIONID_SYNC=")), // the write's sync token (replicas.test.ts)
      "the backend's session cookie stays in the router session",
    ).toEqual([]);
    await set.arrayBuffer();
    const moved = await fx.direct.get(keyB);
    expect(moved, "re-sealed under the new secret's key").not.toBeNull();
    expect(kidInEnvelope(moved!)).toBe(await kidOf(SECRET_B));
    expect(await fx.direct.exists(keyA), "the old key is gone").toBe(0);
    // Another isolate finds it under the new key: same token, and the cookie replayed.
    expect(await tokenFetch(rotated, "b", made.cookie)).toMatchObject(same(made.token));
    const replay = await rotated.fetch("b", "/echo", { headers: { cookie: made.cookie } });
    expect(((await replay.json()) as { cookie: string | null }).cookie).toBe("BACKEND=one");
  });

  it("a logout during the rotation deletes the session under the old secret's key", async () => {
    const before = await cluster(SECRET_A, [], ["a"]);
    const made = await newSession(before, "a");
    const keyA = await storeKeyOf(SECRET_A, made.cookie);
    await fx.disposeClusters();
    const rotated = await cluster(SECRET_B, [SECRET_A], ["a", "b"]);
    expect(await tokenFetch(rotated, "b", made.cookie)).toMatchObject(same(made.token));
    const logout = await rotated.fetch("a", "/logout", {
      method: "POST",
      headers: { cookie: made.cookie, "x-csrf-token": made.token },
      redirect: "manual",
    });
    await logout.arrayBuffer();
    expect(logout.status).toBe(200); // a POST logout is answered with a page (SAP)
    expect(await fx.direct.exists(keyA)).toBe(0);
    const after = await tokenFetch(rotated, "a", made.cookie);
    expect(after.newCookie).toBeDefined();
    expect(after.token).not.toBe(made.token);
  });
});
