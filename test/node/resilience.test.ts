import { beforeAll, describe, it, type ExpectStatic } from "vitest";
import { startCookieBackend } from "../support/backend.js";
import type { Cluster } from "../support/cluster.js";
import { startLateAnswerProxy, type LateAnswerProxy } from "../support/late-answer-proxy.js";
import { commandCounts } from "../support/redis.js";
import {
  answer,
  clearsSessionCookie,
  eventually,
  newSession,
  sleep,
  startFaultProxy,
  tokenFetch,
  type Answer,
  type FaultMode,
  type FaultProxy,
} from "../support/router-client.js";
import { SECRET_A } from "../support/secrets.js";
import { eventuallyPasses } from "../support/wait.js";
import { sessionKeys, storeKeyOf } from "../support/session-store.js";
import { useStoreFixture } from "../support/store-fixture.js";
import { SHORT_IDLE_ENTRY, bundleWorker } from "../support/worker-bundle.js";

/**
 * Store faults, injected between the router (Miniflare isolates) and a real Redis (behind
 * the local Upstash REST endpoint) by a proxy of the test's own. The router runs with a
 * small `defaultRetryTimeout` (500 ms, also the cooldown after a failure; small, with
 * room for a loaded machine) and a short revalidation window (200 ms), so a held
 * session must go to the store and carry on.
 *
 * What must hold for every fault: sessions in the first tier keep working (same token, no
 * 5xx, no cookie change); a fresh isolate answers without a 5xx and never clears the
 * cookie; nothing in Redis is deleted; and once the store is back, backups resume (a write
 * that failed left the first-tier entry dirty, and the next request on that session
 * writes it) and other isolates recover sessions again. Durations are not asserted here:
 * the added-latency bound is a unit test (test/unit/store-budget.test.ts).
 *
 * Each test has its own proxy and isolates, so the tests run concurrently; none of them
 * deletes anything, so Redis' DEL count must not move while any of them runs.
 */
const RETRY_TIMEOUT = 500;
const REVALIDATE = 200;
const SLOW_MS = 2000;

const fx = useStoreFixture({
  ext: {
    sessionSecret: SECRET_A,
    defaultRetryTimeout: RETRY_TIMEOUT,
    backOffMultiplier: 20,
    revalidateAfter: REVALIDATE,
  },
  disposeAfter: "all",
});
let shortIdleScript: string;
beforeAll(async () => {
  shortIdleScript = await bundleWorker(undefined, SHORT_IDLE_ENTRY);
});

/** A proxy in front of the REST endpoint and a cluster of isolates that reach Redis only through it. */
async function setup(via: "fault" | "late", workers = ["a", "b", "c"]) {
  const proxy: FaultProxy | LateAnswerProxy =
    via === "fault"
      ? await startFaultProxy({ target: fx.redis.restUrl })
      : await startLateAnswerProxy(fx.redis.restUrl);
  fx.onDispose(() => proxy.close());
  const c: Cluster = await fx.cluster({ workers, restUrl: proxy.url });
  return { c, proxy };
}

const same = (token: string): Partial<Answer> => ({ status: 200, token, setCookies: [] });

interface Fault {
  via: "fault" | "late";
  start(proxy: FaultProxy | LateAnswerProxy): Promise<void>;
  stop(proxy: FaultProxy | LateAnswerProxy): Promise<void>;
  /** Whether a command the router gave up on may still have been applied by Redis. */
  applied: boolean;
}

const viaFaultProxy = (mode: FaultMode, applied = false): Fault => ({
  via: "fault",
  start: (p) => (p as FaultProxy).setMode(mode),
  stop: (p) => (p as FaultProxy).setMode({ kind: "pass" }),
  applied,
});

const FAULTS: [string, Fault][] = [
  ["down (connection refused)", viaFaultProxy({ kind: "refuse" })],
  // The fault proxy holds each request back 2 s before passing it on; the router gives up
  // first. Whether the command still reaches Redis depends on the connection being closed.
  ["slow (2 s per call)", viaFaultProxy({ kind: "delay", ms: SLOW_MS }, true)],
  // Applied at once, answered after 2 s: the router gives up, Redis has done it.
  [
    "slow to answer (applied at once, answered after 2 s)",
    {
      via: "late",
      start: async (p) => (p as LateAnswerProxy).setDelay(SLOW_MS),
      stop: async (p) => {
        (p as LateAnswerProxy).setDelay(0);
        await sleep(SLOW_MS + 100); // the answers still held back
      },
      applied: true,
    },
  ],
  ["erroring (HTTP 500)", viaFaultProxy({ kind: "status", status: 500 })],
  ["garbage (a body that is not JSON)", viaFaultProxy({ kind: "garbage" })],
  // The fault proxy passes the command on and replaces the answer: applied, answer unusable.
  ["wrong shapes (an object instead of the pipeline's array)", viaFaultProxy({ kind: "wrong-shape" }, true)],
  // Valid JSON in the pipeline's own form (one entry per command; the router's calls are
  // single-command pipelines), but not what GET, SET or PEXPIRE ever answer.
  [
    "wrong shapes (a pipeline entry without a result)",
    viaFaultProxy({ kind: "status", status: 200, body: JSON.stringify([{}]) }),
  ],
  [
    "wrong shapes (a number where a string or OK is expected)",
    viaFaultProxy({ kind: "status", status: 200, body: JSON.stringify([{ result: 42 }]) }),
  ],
];

async function outage(expect: ExpectStatic, name: string, fault: Fault) {
  const { c, proxy } = await setup(fault.via);
  const held = await newSession(c, "a");
  const heldKey = await storeKeyOf(SECRET_A, held.cookie);
  // Set-up: the held session is in Redis. On a loaded machine its first write may outlast the
  // 500 ms budget (the entry stays dirty); the next request on A writes it.
  await withinRounds(async () => {
    if (!(await fx.direct.exists(heldKey))) await tokenFetch(c, "a", held.cookie);
    expect(await fx.direct.exists(heldKey)).toBe(1);
  });
  const keysBefore = await sessionKeys(fx.direct);
  const delsBefore = (await commandCounts(fx.direct)).del ?? 0;
  const seen: Answer[] = [];
  const see = (a: Answer) => {
    seen.push(a);
    return a;
  };

  await fault.start(proxy);
  await sleep(REVALIDATE + 50); // past the revalidation window: A has to ask the store

  // The held session, on the isolate that holds it: same token, no cookie change, no 5xx.
  for (let i = 0; i < 3; i++)
    expect(see(await tokenFetch(c, "a", held.cookie)), `request ${i} on A`).toMatchObject(same(held.token));

  // A fresh isolate cannot look the session up: it answers, without a 5xx and without clearing the cookie.
  const plain = see(await c.fetch("c", "/app", { headers: { cookie: held.cookie } }).then(answer));
  expect(plain).toMatchObject({ status: 200, setCookies: [] });
  const onC = see(await tokenFetch(c, "c", held.cookie));
  expect(onC.status).toBeLessThan(500);

  // A session created during the outage (past A's cooldown, so its create is really
  // attempted and fails): served from the first tier, its backup pending.
  await sleep(RETRY_TIMEOUT + 50);
  const during = await newSession(c, "a");
  const duringKey = await storeKeyOf(SECRET_A, during.cookie);
  expect(see(await tokenFetch(c, "a", during.cookie))).toMatchObject(same(during.token));

  // Nothing cleared, nothing 5xx, no internals shown, nothing deleted in Redis.
  for (const a of seen) {
    expect(a.status).toBeLessThan(500);
    expect(a.setCookies.filter((s) => clearsSessionCookie(s))).toEqual([]);
    expect(a.body).not.toMatch(/Error:|\bat .*\.(ts|js|mjs):\d+/);
  }
  for (const key of keysBefore)
    expect(await fx.direct.exists(key), "a key present before the outage").toBe(1);
  expect((await commandCounts(fx.direct)).del ?? 0).toBe(delsBefore);

  await fault.stop(proxy);
  // Nothing of a failed create reaches Redis, unless the store applied what it did not answer.
  if (!fault.applied)
    expect(await fx.direct.exists(duringKey), "the failed create never reached Redis").toBe(0);
  await sleep(RETRY_TIMEOUT + 100); // past the cooldown of every isolate

  // Backups resume: the next request on A writes the pending session; B then recovers it.
  await withinRounds(async () => {
    expect(await tokenFetch(c, "a", during.cookie), `retry of the pending write (${name})`).toMatchObject(
      same(during.token),
    );
    expect(await fx.direct.exists(duringKey)).toBe(1);
  });
  await withinRounds(async () =>
    expect(await tokenFetch(c, "b", during.cookie)).toMatchObject(same(during.token)),
  );
  // Recovery works again, on the isolate that could not look it up during the outage too.
  for (const worker of ["c", "b", "a"])
    await withinRounds(async () =>
      expect(await tokenFetch(c, worker, held.cookie)).toMatchObject(same(held.token)),
    );
}

/**
 * A recovery step, given a few rounds each past the cooldown: on this loaded 2-core machine
 * (four outages run at once, three isolates each) one store call can outlast its 500 ms budget
 * and start a new cooldown; with the store healthy the step must still succeed within them.
 */
async function withinRounds(step: () => Promise<void>, rounds = 3): Promise<void> {
  for (let round = 1; ; round++) {
    try {
      await step();
      return;
    } catch (err) {
      if (round >= rounds) throw err;
      await sleep(RETRY_TIMEOUT + 100);
    }
  }
}

describe.concurrent("store faults", () => {
  it.for(FAULTS)(
    "store %s: held sessions keep working, a fresh isolate answers, nothing is cleared or deleted; afterwards backups resume",
    async ([name, fault], { expect }) => {
      await outage(expect, name, fault);
    },
  );

  it("a fresh isolate does not replace the cookie of a session it cannot look up (token fetch while the store is down)", async ({
    expect,
  }) => {
    // The session may well exist (it does: A holds it, Redis has it); answering the token
    // fetch with a new session's cookie logs the user out once the store is back.
    const { c, proxy } = await setup("fault", ["a", "c"]);
    const held = await newSession(c, "a");
    await (proxy as FaultProxy).setMode({ kind: "refuse" });
    const onC = await tokenFetch(c, "c", held.cookie);
    expect(onC.status).toBeLessThan(500);
    expect(onC.setCookies).toEqual([]);
    await (proxy as FaultProxy).setMode({ kind: "pass" });
    await sleep(RETRY_TIMEOUT + 100);
    expect(await tokenFetch(c, "c", held.cookie)).toMatchObject(same(held.token));
  });
});

describe.concurrent("idle copies", () => {
  it("an idle copy on one isolate while the user is active on another: the session lives on, the backends are not told", async ({
    expect,
  }) => {
    // The idle timeout is 20 s (the test entry's TEST_IDLE_TIMEOUT_MS; SESSION_TIMEOUT counts
    // whole minutes). A's first-tier copies go idle past the timeout; meanwhile the user works
    // on B, whose revalidation reads slide the store TTL. A must ask the store before ending
    // anything; a second session, idle everywhere, shows that a real idle timeout still ends
    // the session and tells the backend (logoutPath) exactly once.
    const IDLE_MS = 20_000;
    const backendWithCookies = await startCookieBackend();
    fx.onDispose(() => backendWithCookies.close());
    const c = await fx.cluster({
      script: shortIdleScript,
      ext: { revalidateAfter: 500, defaultRetryTimeout: undefined, backOffMultiplier: undefined },
      backendUrl: backendWithCookies.url,
      bindings: {
        TEST_IDLE_TIMEOUT_MS: String(IDLE_MS),
        XS_APP: JSON.stringify({
          authenticationMethod: "none",
          routes: [{ source: "^/(.*)$", target: "/$1", destination: "backend" }],
          destinations: { backend: { logoutPath: "/session-end" } },
        }),
      },
    });
    const hold = async (worker: string, value: string) => {
      const a = await answer(await c.fetch(worker, `/set/${value}`));
      expect(a.status).toBe(200);
      expect(a.newCookie, "the backend's session cookie made a router session").toMatch(/^JSESSIONID=/);
      return a.newCookie!;
    };
    const active = await hold("a", "active");
    const idle = await hold("a", "idle");
    const activeKey = await storeKeyOf(SECRET_A, active);
    // Set-up, for a loaded machine: both sessions are in Redis (a first write that outlasts its
    // budget leaves the entry dirty; A's next request writes it), and B has recovered the
    // active one (a fresh isolate whose lookup fails answers without the session).
    for (const cookie of [active, idle]) {
      const key = await storeKeyOf(SECRET_A, cookie);
      await eventuallyPasses(
        async () => {
          if (!(await fx.direct.exists(key)))
            await answer(await c.fetch("a", "/set-up", { headers: { cookie } }));
          expect(await fx.direct.exists(key)).toBe(1);
        },
        10_000,
        500,
      );
    }
    const work = async () => {
      const onB = await answer(await c.fetch("b", "/work", { headers: { cookie: active } }));
      expect(onB).toMatchObject({ status: 200, setCookies: [] });
      expect(JSON.parse(onB.body)).toEqual({ cookie: "BACKEND=active" });
    };
    await eventuallyPasses(work, 10_000, 500);
    const started = Date.now();
    while (Date.now() - started < IDLE_MS + 2_000) {
      await sleep(1_000); // a twentieth of the timeout: store calls that fail on a loaded machine do not slide the TTL
      await work();
    }
    const ends = () => backendWithCookies.seen.filter((s) => s.path === "/session-end");
    expect(ends()).toEqual([]);

    // The session idle everywhere has ended: the backend is told, once, with its cookie.
    // (Asked first: a first-tier entry expired here is only reported while it is still
    // there, and any later write on A sweeps expired entries.)
    const idleOnA = await answer(await c.fetch("a", "/again", { headers: { cookie: idle } }));
    expect(JSON.parse(idleOnA.body)).toEqual({ cookie: null });
    expect(await eventually(async () => ends().length > 0, 2_000)).toBe(true); // called after the response
    expect(ends()).toEqual([{ path: "/session-end", cookie: "BACKEND=idle" }]);
    // Back on A, whose copy is idle past the timeout: the same session, its cookie kept.
    const onA = await answer(await c.fetch("a", "/again", { headers: { cookie: active } }));
    expect(onA).toMatchObject({ status: 200, setCookies: [] });
    expect(JSON.parse(onA.body)).toEqual({ cookie: "BACKEND=active" });
    expect(await fx.direct.exists(activeKey)).toBe(1);
    await sleep(300); // a logoutPath call would run after the response
    // And the active one is still alive everywhere.
    const later = await answer(await c.fetch("b", "/later", { headers: { cookie: active } }));
    expect(JSON.parse(later.body)).toEqual({ cookie: "BACKEND=active" });
    expect(ends()).toHaveLength(1);
  });
});
