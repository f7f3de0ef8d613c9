import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { sessionCookieOf, type Cluster } from "../support/cluster.js";
import { useStoreFixture } from "../support/store-fixture.js";
import { loginThroughSapForm, scriptRedirectOf } from "../support/sap-form-login.js";
import { startIasSim, startXsuaaSim, type IasSim, type XsuaaSim } from "../support/sap-idp.js";
import { SECRET_A } from "../support/secrets.js";
import { sleep, until } from "../support/wait.js";
import { getOn, outboundTo } from "../support/login-cluster.js";

/**
 * Login under store faults (issue 9): a store that cannot be read while a request waits for
 * another isolate's token refresh keeps the session, and a back-channel logout whose
 * session delete failed succeeds when the provider retries it. Faults are injected in the
 * cluster's outbound hook, per Upstash REST command, between the isolates and a real Redis.
 */
const ORIGIN = "https://router.test";
let xsuaa: XsuaaSim;
let ias: IasSim;
// Long revalidation: an isolate's first store call for a held session is the one under test.
const fx = useStoreFixture({
  ext: { sessionSecret: SECRET_A, revalidateAfter: 60_000, defaultRetryTimeout: 500 },
});

beforeAll(async () => {
  [xsuaa, ias] = await Promise.all([
    startXsuaaSim({ uaadomain: "authentication.sap.test", redirectUris: ["https://router.test/**"] }),
    startIasSim({ url: "https://mytenant.accounts.ondemand.test", redirectUris: ["https://router.test/**"] }),
  ]);
});
afterEach(async () => {
  xsuaa.reset();
  ias.reset();
});
afterAll(async () => {
  await Promise.all([xsuaa?.stop(), ias?.stop()]);
});

/** Decides per outgoing request: the answer to give instead, or undefined to pass it on. */
type Interceptor = (request: {
  url: string;
  body: string | undefined;
  isStore: boolean;
}) => Promise<Response | undefined> | Response | undefined;

function cluster(binding: { label: string }, xsApp: unknown, intercept: Interceptor): Promise<Cluster> {
  return fx.cluster({
    services: [binding],
    destination: { forwardAuthToken: true },
    bindings: { XS_APP: JSON.stringify(xsApp) },
    outbound: outboundTo([xsuaa, ias], async ({ url, body }) =>
      intercept({ url, body, isStore: url.startsWith(fx.redis.restUrl) }),
    ),
  });
}

const storeDown = () =>
  new Response(JSON.stringify({ error: "ERR injected failure" }), {
    status: 503,
    headers: { "content-type": "application/json" },
  });
const get = getOn;
async function login(
  c: Cluster,
  idp: XsuaaSim | IasSim,
  user: { username: string; password: string },
  path: string,
) {
  const start = await c.fetch("a", path, { redirect: "manual" });
  expect(scriptRedirectOf(await start.clone().text())).toBeTruthy();
  const callback = await loginThroughSapForm({
    routerFetch: (url, init) => c.fetch("a", url, init),
    routerOrigin: ORIGIN,
    start,
    startUrl: `${ORIGIN}${path}`,
    idpFetch: idp.fetch,
    ...user,
  });
  expect(callback.status).toBe(302);
  return sessionCookieOf(callback)!;
}

describe("login under store faults", () => {
  it("a request waiting for another isolate's refresh keeps the session when the store becomes unreadable", async () => {
    const state = { bStarted: false, down: false, refreshArrived: false };
    let releaseRefresh!: () => void;
    const refreshGate = new Promise<void>((r) => (releaseRefresh = r));
    const c = await cluster(
      xsuaa.binding(),
      { routes: [{ source: "^/(.*)$", target: "/$1", destination: "backend" }] },
      async ({ isStore, body }) => {
        if (isStore) {
          if (state.down) return storeDown();
          // b's lease attempt (SET … NX) passes; from then on the store is down.
          if (state.bStarted && body && /"nx"/i.test(body)) {
            queueMicrotask(() => (state.down = true));
          }
          return undefined;
        }
        if (body?.includes("grant_type=refresh_token") && !state.refreshArrived) {
          state.refreshArrived = true;
          await refreshGate; // a holds the lease while its refresh hangs
        }
        return undefined;
      },
    );
    xsuaa.set({ accessTokenTtl: 20 });
    const cookie = await login(c, xsuaa, { username: "demo", password: "demo" }, "/x");
    expect((await get(c, "b", "/warm", cookie)).status).toBe(200);
    await sleep(15_300); // inside the refresh margin (a quarter of 20 s), the token still valid for a while
    const onA = get(c, "a", "/a", cookie);
    await until(() => state.refreshArrived, "the refresh to arrive");
    state.bStarted = true;
    const onB = await get(c, "b", "/b", cookie, { "x-requested-with": "XMLHttpRequest" });
    expect(state.down).toBe(true);
    expect(onB.status, await onB.clone().text()).toBe(200);
    expect(onB.headers.getSetCookie()).toEqual([]);
    state.down = false;
    releaseRefresh();
    expect((await onA).status).toBe(200);
    expect((await get(c, "b", "/after", cookie, { "x-requested-with": "XMLHttpRequest" })).status).toBe(200);
  });

  it("a back-channel logout retried after a failed session delete succeeds, and the session ends", async () => {
    const state = { failIndexReads: false };
    const xsApp = {
      routes: [{ source: "^/(.*)$", target: "/$1", destination: "backend" }],
      logout: { backChannelLogoutEndpoint: "/bcl" },
    };
    const c = await cluster(ias.binding(), xsApp, ({ isStore, body }) =>
      isStore && state.failIndexReads && body && /smembers/i.test(body) ? storeDown() : undefined,
    );
    ias.endSessions();
    const cookie = await login(c, ias, ias.users[0]!, "/x");
    const sid = ias.sessionIds()[0]!;
    const token = await ias.signLogoutToken({ sid });
    const post = () =>
      c.fetch("b", "/bcl", {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ logout_token: token }).toString(),
      });
    state.failIndexReads = true;
    const failed = await post();
    expect(failed.status).toBe(503);
    await sleep(600); // the store's cooldown after a failure
    state.failIndexReads = false;
    expect((await get(c, "a", "/x", cookie)).status).toBe(200); // not ended yet
    const retried = await post();
    expect(retried.status).toBe(200);
    await sleep(100);
    expect((await get(c, "b", "/x", cookie, { "x-requested-with": "XMLHttpRequest" })).status).toBe(401);
    expect((await post()).status).toBe(400); // now it is a replay
  });
});
