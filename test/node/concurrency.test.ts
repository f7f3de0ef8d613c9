import { describe, expect, it } from "vitest";
import type { Cluster } from "../support/cluster.js";
import {
  STATELESS_SESSION_COOKIE,
  answer,
  clearsSessionCookie,
  fetchTokenInit,
  newSession,
  sleep,
  tokenFetch,
  type Answer,
} from "../support/router-client.js";
import { SECRET_A } from "../support/secrets.js";
import { plantSession, storeKeyOf } from "../support/session-store.js";
import { useStoreFixture } from "../support/store-fixture.js";

/**
 * Many concurrent requests of one session on two isolates, and a logout among them.
 *
 * The guarantee of the design:
 * - A write of an existing session is `SET key value PX ttl XX`: it only replaces a value
 *   that is still there, so a late write (a request that loaded the session before the
 *   logout and commits after it) can never recreate a destroyed session in Redis; the
 *   writer learns it is gone and drops its first-tier copy (and clears the cookie).
 * - Extending the TTL is `PEXPIRE`, which never creates a key either.
 * - Another isolate's first tier may still serve the destroyed session until its copy is
 *   older than `revalidateAfter`; after that bound the session is gone everywhere.
 * - The CSRF token is an HMAC of the session id, so concurrent first token fetches on any
 *   isolates all hand out (and store) the same token.
 * - Concurrent changes of one session are last-write-wins: each request commits the
 *   record it saw and changed; whichever write lands last is what every isolate sees
 *   after the revalidation bound (there is no merge and no lost-update detection).
 */
const REVALIDATE = 400;

const fx = useStoreFixture({
  ext: { sessionSecret: SECRET_A, revalidateAfter: REVALIDATE, defaultRetryTimeout: 2000 },
});
const cluster = (bindings: Record<string, string> = {}): Promise<Cluster> => fx.cluster({ bindings });

/** `perIsolate` token fetches with `cookie` on each of A and B, all in flight at once, and `middle` started halfway. */
async function burst(c: Cluster, cookie: string, perIsolate: number, middle: () => Promise<Answer>) {
  const requests: Promise<Answer & { worker: string }>[] = [];
  const launch = (n: number) => {
    for (let i = 0; i < n; i++) {
      for (const worker of ["a", "b"])
        requests.push(tokenFetch(c, worker, cookie).then((a) => ({ ...a, worker })));
    }
  };
  launch(perIsolate / 2);
  await sleep(5);
  const logout = middle();
  await sleep(5);
  launch(perIsolate - perIsolate / 2);
  return { answers: await Promise.all(requests), logout: await logout };
}

const logoutOn = (c: Cluster, worker: string, cookie: string, token?: string) => () =>
  c
    .fetch(worker, "/logout", {
      method: "POST",
      headers: { cookie, ...(token ? { "x-csrf-token": token } : {}) },
      redirect: "manual",
    })
    .then(answer);

/** After the logout and the revalidation bound: no key for the id, and the cookie is no session on either isolate. */
async function expectGoneEverywhere(c: Cluster, cookie: string, oldTokens: Set<string>) {
  await sleep(REVALIDATE + 100);
  const key = await storeKeyOf(SECRET_A, cookie);
  expect(await fx.direct.exists(key), "the destroyed session's key").toBe(0);
  for (const worker of ["a", "b"]) {
    const after = await tokenFetch(c, worker, cookie);
    expect(after.status).toBe(200);
    expect(after.newCookie, `a new session on ${worker}`).toMatch(STATELESS_SESSION_COOKIE);
    expect(after.newCookie).not.toBe(cookie);
    expect(oldTokens.has(after.token!)).toBe(false);
  }
  await sleep(200); // anything still running after those responses (TTL extensions)
  expect(await fx.direct.exists(key), "still no key for the old id").toBe(0);
}

describe("one session, two isolates, many requests at once", () => {
  it("50 parallel token fetches on A and on B with a logout on B among them: no 5xx, the session's token until the logout, no resurrection", async () => {
    const c = await cluster();
    const { cookie, token } = await newSession(c, "a");
    expect(await tokenFetch(c, "b", cookie)).toMatchObject({ status: 200, token, setCookies: [] }); // B holds it too

    const { answers, logout } = await burst(c, cookie, 50, logoutOn(c, "b", cookie, token));
    expect(logout.status).toBe(200); // a POST logout is answered with a page (SAP)
    expect(logout.setCookies.some((s) => clearsSessionCookie(s))).toBe(true);

    const newSessions = new Set<string>();
    for (const a of answers) {
      expect(a.status, `${a.worker}: ${a.body.slice(0, 80)}`).toBe(200);
      expect(a.setCookies.filter((s) => clearsSessionCookie(s))).toEqual([]);
      if (a.newCookie === undefined) {
        // The old session: always its own token, whichever isolate and whenever it answered.
        expect(a.token, a.worker).toBe(token);
      } else {
        // After the logout: a new session with a new token, never the old one.
        expect(a.newCookie).not.toBe(cookie);
        expect(a.token).not.toBe(token);
        newSessions.add(a.newCookie);
      }
    }
    // B drops the session at once; A may serve its copy until the revalidation bound (or,
    // past it, find the session gone and start a new one): both are within the guarantee.
    await expectGoneEverywhere(c, cookie, new Set([token]));
  });

  it("first token fetches racing on a session without a token, with a logout among them: the writes never recreate it", async () => {
    // Every request of the burst changes the session (it puts a token in): a burst of
    // SET … XX on A and B with the DEL of the logout somewhere among them. The logout needs
    // no CSRF token here (the session has none yet), so it is configured without.
    const xsApp = {
      authenticationMethod: "none",
      routes: [{ source: "^/(.*)$", target: "/$1", destination: "backend", csrfProtection: true }],
      logout: { logoutEndpoint: "/logout", logoutPage: "/", logoutMethod: "POST", csrfProtection: false },
    };
    const c = await cluster({ XS_APP: JSON.stringify(xsApp) });
    const planted = await plantSession(fx.direct, SECRET_A);
    const { answers, logout } = await burst(c, planted.cookie, 20, logoutOn(c, "b", planted.cookie));
    expect(logout.status).toBe(200);
    const oldTokens = new Set<string>();
    for (const a of answers) {
      expect(a.status).toBe(200);
      if (a.newCookie === undefined || a.newCookie === "") oldTokens.add(a.token!);
    }
    await expectGoneEverywhere(c, planted.cookie, oldTokens);
  });

  it("first token fetches racing on a session without a token, on two isolates: every request is given the same token", async () => {
    const c = await cluster();
    const planted = await plantSession(fx.direct, SECRET_A);
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        c.fetch(i % 2 ? "b" : "a", "/app", fetchTokenInit(planted.cookie)).then(answer),
      ),
    );
    const issued = new Set<string>();
    for (const a of answers) {
      expect(a.status).toBe(200);
      expect(a.setCookies.filter((s) => !s.startsWith("JSESSIONID="))).toEqual([]);
      if (a.newCookie === undefined) issued.add(a.token!);
    }
    expect(issued.size).toBe(1); // the token is derived from the session id: no lost update
    await sleep(REVALIDATE + 100);
    const onA = await tokenFetch(c, "a", planted.cookie);
    const onB = await tokenFetch(c, "b", planted.cookie);
    expect(onA).toMatchObject({ status: 200, setCookies: [] });
    expect(onB).toMatchObject({ status: 200, setCookies: [], token: onA.token });
    expect(issued.has(onA.token!), "the surviving token is one a request was given").toBe(true);
  });
});
