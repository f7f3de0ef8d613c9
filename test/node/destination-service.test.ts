import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startEchoBackend } from "../support/backend.js";
import { sessionCookieOf, startCluster, type Cluster } from "../support/cluster.js";
import {
  findCalls,
  sampleDestinations,
  startDestinationSim,
  type DestinationSim,
} from "../support/destination-sim.js";
import { loginThroughForms } from "../support/form-login.js";
import { startIdp, type Idp, identityBinding } from "../support/idp.js";
import { bundleWorker } from "../support/worker-bundle.js";
import { sleep, until } from "../support/wait.js";

/**
 * Destinations from the destination service: the bundled router in workerd (Miniflare)
 * with the destination-service simulator bound in VCAP_SERVICES, a real OpenID provider
 * for the user-token kinds, and an echo backend that shows what reached it.
 */
const ORIGIN = "https://router.test";
let idp: Idp;
let backend: Awaited<ReturnType<typeof startEchoBackend>>;
let script: string;
const clusters: Cluster[] = [];
const sims: DestinationSim[] = [];

const XS_APP = {
  authenticationMethod: "route",
  routes: [
    { source: "^/na/(.*)$", target: "/$1", destination: "no-auth", authenticationType: "none" },
    { source: "^/basic/(.*)$", target: "/$1", destination: "basic", authenticationType: "none" },
    { source: "^/cc/(.*)$", target: "/$1", destination: "client-credentials", authenticationType: "none" },
    { source: "^/ux/(.*)$", target: "/$1", destination: "user-exchange", authenticationType: "ias" },
    { source: "^/jwt/(.*)$", target: "/$1", destination: "jwt-bearer", authenticationType: "ias" },
    { source: "^/ux-public/(.*)$", target: "/$1", destination: "user-exchange", authenticationType: "none" },
    { source: "^/inst/(.*)$", target: "/$1", destination: "instance-only", authenticationType: "none" },
    { source: "^/onprem/(.*)$", target: "/$1", destination: "on-premise", authenticationType: "none" },
    { source: "^/missing/(.*)$", target: "/$1", destination: "nowhere", authenticationType: "none" },
    { source: "^/override/(.*)$", target: "/$1", destination: "override", authenticationType: "none" },
    { source: "^/extras/(.*)$", target: "/$1", destination: "extras", authenticationType: "none" },
    { source: "^/fwd/(.*)$", target: "/$1", destination: "forwarding", authenticationType: "ias" },
  ],
};

/** The sample destinations plus the ones these tests need. */
function destinationsFor(backendUrl: string) {
  return [
    ...sampleDestinations(backendUrl),
    {
      Name: "override",
      URL: `${backendUrl}/from-service`,
      Authentication: "NoAuthentication",
      Type: "HTTP",
      ProxyType: "Internet",
    },
    {
      Name: "extras",
      URL: `${backendUrl}/extras`,
      Authentication: "NoAuthentication",
      Type: "HTTP",
      ProxyType: "Internet",
      "sap-client": "100",
      "URL.headers.X-Api-Key": "key-from-destination",
      "URL.headers.X-Tenant": "tenant-from-destination",
      "URL.queries.api-version": "2",
      "URL.queries.mode": "destination",
      "HTML5.Timeout": "5000",
    },
    {
      Name: "forwarding",
      URL: `${backendUrl}/fwd`,
      Authentication: "NoAuthentication",
      Type: "HTTP",
      ProxyType: "Internet",
      forwardAuthToken: "true",
    },
  ];
}

beforeAll(async () => {
  [idp, backend, script] = await Promise.all([
    startIdp({ redirectUris: [`${ORIGIN}/login/callback`] }),
    startEchoBackend(),
    bundleWorker(),
  ]);
});
afterEach(async () => {
  await Promise.all(clusters.splice(0).map((c) => c.dispose()));
  await Promise.all(sims.splice(0).map((s) => s.stop()));
  backend.seen.length = 0;
});
afterAll(async () => {
  await Promise.all([shared?.c.dispose(), shared?.sim.stop()]);
  await Promise.all([idp?.stop(), backend?.close()]);
});

/** One router for the tests that only read (each new one costs a workerd start). */
let shared: { c: Cluster; sim: DestinationSim } | undefined;
async function sharedSetup(): Promise<{ c: Cluster; sim: DestinationSim }> {
  if (!shared) {
    shared = await setup();
    clusters.splice(clusters.indexOf(shared.c), 1);
    sims.splice(sims.indexOf(shared.sim), 1);
  }
  return shared;
}

async function setup(
  options: { tokenTtl?: number; authTokenTtl?: number } = {},
): Promise<{ c: Cluster; sim: DestinationSim }> {
  const sim = await startDestinationSim({ destinations: destinationsFor(backend.url), ...options });
  sims.push(sim);
  const vcap = {
    destination: [sim.binding],
    identity: [identityBinding(idp)],
  };
  const c = await startCluster({
    script,
    workers: ["a"],
    bindings: {
      VCAP_SERVICES: JSON.stringify(vcap),
      destinations: JSON.stringify([{ name: "override", url: `${backend.url}/from-variable` }]),
      XS_APP: JSON.stringify(XS_APP),
      PRESERVE_FRAGMENT: "false", // a 302 to start the login (the fragment page: xsuaa-login.test.ts)
    },
  });
  clusters.push(c);
  return { c, sim };
}

const pathOf = (url: string) => new URL(url).pathname + new URL(url).search;

async function login(c: Cluster, path: string, user = "alice"): Promise<string> {
  const start = await c.fetch("a", path, { redirect: "manual" });
  expect(start.status).toBe(302);
  const callback = await loginThroughForms({
    routerFetch: (url, init) => c.fetch("a", pathOf(url), init),
    routerOrigin: ORIGIN,
    start,
    startUrl: `${ORIGIN}${path}`,
    login: user,
    password: `${user}-password`,
  });
  return sessionCookieOf(callback)!;
}

const get = (c: Cluster, path: string, cookie?: string, headers: Record<string, string> = {}) =>
  c.fetch("a", path, { redirect: "manual", headers: { ...(cookie ? { cookie } : {}), ...headers } });

/** The one request the backend saw for this response (the echo body names it). */
async function seenFor(res: Response) {
  expect(res.status).toBe(200);
  const body = (await res.json()) as { url: string };
  const seen = backend.seen.filter((s) => s.url === body.url).at(-1);
  expect(seen).toBeDefined();
  return seen!;
}

describe("destination service: each authentication kind reaches the backend with the right headers", () => {
  it("NoAuthentication: no Authorization, the route's path below the destination URL; instance level too", async () => {
    const { c, sim } = await sharedSetup();
    const seen = await seenFor(
      await get(c, "/na/hello?x=1", undefined, { authorization: "Bearer client-sent" }),
    );
    expect(seen.url).toBe("/hello?x=1");
    // A public route passes the client's own Authorization on, as for variable destinations.
    expect(seen.headers.authorization).toBe("Bearer client-sent");
    const inst = await seenFor(await get(c, "/inst/i"));
    expect(inst.url).toBe("/i");
    expect(findCalls(sim, "instance-only")).toHaveLength(1);
    // The service's client-credentials token, never the user's, authorises the lookup.
    expect(
      [...findCalls(sim, "no-auth"), ...findCalls(sim, "instance-only")].every(
        (r) => r.status === 200 && r.userToken === undefined,
      ),
    ).toBe(true);
  });

  it("BasicAuthentication: the service's Basic header replaces the client's", async () => {
    const { c } = await sharedSetup();
    const seen = await seenFor(
      await get(c, "/basic/b", undefined, { authorization: "Basic Y2xpZW50OmNsaWVudA==" }),
    );
    expect(seen.url).toBe("/basic/b");
    expect(seen.headers.authorization).toBe(
      `Basic ${Buffer.from("alice:alice-password").toString("base64")}`,
    );
  });

  it("OAuth2ClientCredentials: the token the service fetched for the destination", async () => {
    const { c, sim } = await sharedSetup();
    const seen = await seenFor(await get(c, "/cc/c"));
    const issued = sim.issued.filter((t) => t.destination === "client-credentials");
    expect(issued).toHaveLength(1);
    expect(seen.headers.authorization).toBe(`Bearer ${issued[0]!.value}`);
  });

  it("OAuth2UserTokenExchange and OAuth2JWTBearer: the user's token goes to the service as X-user-token, the exchanged one to the backend, per user", async () => {
    const { c, sim } = await setup();
    const alice = await login(c, "/ux/start");
    const bob = await login(c, "/ux/start", "bob");

    const aliceUx = await seenFor(await get(c, "/ux/a", alice));
    const bobUx = await seenFor(await get(c, "/ux/b", bob));
    const aliceJwt = await seenFor(await get(c, "/jwt/a", alice));

    const ux = sim.issued.filter((t) => t.destination === "user-exchange");
    expect(ux).toHaveLength(2);
    expect(ux[0]!.userToken).not.toBe(ux[1]!.userToken);
    expect(aliceUx.headers.authorization).toBe(`Bearer ${ux[0]!.value}`);
    expect(bobUx.headers.authorization).toBe(`Bearer ${ux[1]!.value}`);
    const jwt = sim.issued.filter((t) => t.destination === "jwt-bearer");
    expect(jwt).toHaveLength(1);
    expect(aliceJwt.headers.authorization).toBe(`Bearer ${jwt[0]!.value}`);
    // The X-user-token sent was alice's access token (the one the router holds for her): the same for both of her lookups.
    expect(jwt[0]!.userToken).toBe(ux[0]!.userToken);
    expect(findCalls(sim).every((r) => r.userToken !== undefined)).toBe(true);
    // Neither the user's token nor the router's client-credentials token reaches the backend.
    for (const seen of [aliceUx, bobUx, aliceJwt]) {
      expect(seen.headers.authorization).not.toContain(ux[0]!.userToken!);
      expect(seen.headers["x-user-token"]).toBeUndefined();
    }

    // Per user, cached: more requests of each user cause no more lookups.
    for (let i = 0; i < 5; i++) {
      await seenFor(await get(c, `/ux/again${i}`, alice));
      await seenFor(await get(c, `/ux/again${i}`, bob));
    }
    expect(findCalls(sim, "user-exchange")).toHaveLength(2);
  });

  it("a user-token destination on a public route is refused with a clear code, without calling the service again", async () => {
    const { c, sim } = await setup();
    const first = await get(c, "/ux-public/x");
    expect(first.status).toBe(502);
    expect(await first.text()).toContain("DESTINATION_NEEDS_USER");
    const second = await get(c, "/ux-public/x");
    expect(second.status).toBe(502);
    expect(findCalls(sim, "user-exchange")).toHaveLength(1);
  });

  it("forwardAuthToken on a NoAuthentication destination sends the user's token", async () => {
    const { c } = await sharedSetup();
    const cookie = await login(c, "/fwd/start");
    const seen = await seenFor(await get(c, "/fwd/x", cookie));
    expect(seen.url).toBe("/fwd/x");
    expect(seen.headers.authorization).toMatch(/^Bearer .+/);
    expect(seen.headers.authorization).not.toMatch(/^Bearer sim-/);
  });

  it("sap-client, URL.headers.* (unless the client sent them) and URL.queries.* (unless the request has them)", async () => {
    const { c } = await sharedSetup();
    const seen = await seenFor(
      await get(c, "/extras/q?mode=client&z=1", undefined, {
        "sap-client": "999",
        "x-tenant": "client-tenant",
      }),
    );
    expect(seen.headers["sap-client"]).toBe("100");
    expect(seen.headers["x-api-key"]).toBe("key-from-destination");
    expect(seen.headers["x-tenant"]).toBe("client-tenant");
    expect(seen.url).toBe("/extras/q?mode=client&z=1&api-version=2");
  });
});

describe("destination service: caching", () => {
  it("one token and one lookup for N requests within the lifetime", async () => {
    const { c, sim } = await setup();
    const N = 20;
    for (let i = 0; i < N; i++) expect((await get(c, `/na/n${i}`)).status).toBe(200);
    // Concurrent first requests to another destination share one lookup.
    const burst = await Promise.all(Array.from({ length: 10 }, (_, i) => get(c, `/cc/burst${i}`)));
    expect(burst.map((r) => r.status)).toEqual(Array(10).fill(200));
    for (let i = 0; i < N; i++) expect((await get(c, `/cc/n${i}`)).status).toBe(200);
    expect(sim.count("token")).toBe(1);
    expect(findCalls(sim, "no-auth")).toHaveLength(1);
    expect(findCalls(sim, "client-credentials")).toHaveLength(1);
    // Every request used the one token the service issued.
    const value = sim.issued.find((t) => t.destination === "client-credentials")!.value;
    const ccSeen = backend.seen
      .filter((s) => s.url.startsWith("/n") || s.url.startsWith("/burst"))
      .filter((s) => s.headers.authorization);
    expect(ccSeen).toHaveLength(N + 10);
    expect(ccSeen.every((s) => s.headers.authorization === `Bearer ${value}`)).toBe(true);
  });

  it("an expired auth token and an expired service token are fetched again before use", async () => {
    const { c, sim } = await setup({ tokenTtl: 2, authTokenTtl: 2 });
    const first = await seenFor(await get(c, "/cc/one"));
    await sleep(2_200);
    const second = await seenFor(await get(c, "/cc/two"));
    expect(sim.count("token")).toBe(2);
    expect(findCalls(sim, "client-credentials")).toHaveLength(2);
    const [a, b] = sim.issued.filter((t) => t.destination === "client-credentials");
    expect(first.headers.authorization).toBe(`Bearer ${a!.value}`);
    expect(second.headers.authorization).toBe(`Bearer ${b!.value}`);
  });

  it("past half its lifetime a token is still used while a background refresh replaces it", async () => {
    const { c, sim } = await setup({ authTokenTtl: 8 });
    await seenFor(await get(c, "/cc/one"));
    await sleep(4_300); // fresh for 4 s, usable for 7.2 s
    const stale = await seenFor(await get(c, "/cc/two"));
    const [old] = sim.issued.filter((t) => t.destination === "client-credentials");
    expect(stale.headers.authorization).toBe(`Bearer ${old!.value}`);
    await until(
      () =>
        findCalls(sim, "client-credentials").length === 2 &&
        sim.issued.filter((t) => t.destination === "client-credentials").length === 2,
      "the background refresh",
    );
    const renewed = sim.issued.filter((t) => t.destination === "client-credentials")[1]!;
    const fresh = await seenFor(await get(c, "/cc/three"));
    expect(fresh.headers.authorization).toBe(`Bearer ${renewed.value}`);
    expect(findCalls(sim, "client-credentials")).toHaveLength(2);
  });
});

describe("destination service: refusals and failures", () => {
  it("ProxyType OnPremise is refused with a page that names the reason code", async () => {
    const { c } = await sharedSetup();
    const res = await get(c, "/onprem/x");
    expect(res.status).toBe(502);
    const body = await res.text();
    expect(body).toContain("DESTINATION_ON_PREMISE_NOT_SUPPORTED");
    expect(body).not.toContain("erp.internal");
    expect(body).not.toContain("password");
    expect(backend.seen.filter((r) => r.url.startsWith("/x"))).toHaveLength(0);
  });

  it("a destination the service does not have is 404 with a stable code", async () => {
    const { c } = await sharedSetup();
    const res = await get(c, "/missing/x");
    expect(res.status).toBe(404);
    expect(await res.text()).toContain("DESTINATION_NOT_FOUND");
  });

  it("service down: cached destinations keep working, others get 503 without secrets, the outage is remembered briefly", async () => {
    const { c, sim } = await setup();
    expect((await get(c, "/na/warm")).status).toBe(200);
    expect((await get(c, "/cc/warm")).status).toBe(200);
    for (const outage of ["reset", "503"] as const) {
      sim.setOutage(outage);
      const before = findCalls(sim, "basic").length;
      expect((await get(c, "/na/during")).status).toBe(200);
      expect((await get(c, "/cc/during")).status).toBe(200);
      for (let i = 0; i < 3; i++) {
        const down = await get(c, "/basic/during");
        expect(down.status).toBe(503);
        const body = await down.text();
        expect(body).toContain("DESTINATION_SERVICE_UNAVAILABLE");
        expect(body).not.toContain(sim.clientSecret);
        expect(body).not.toContain("alice-password");
      }
      // One call to the failing service for three requests.
      expect(findCalls(sim, "basic").length - before).toBe(1);
      await sleep(2_100);
    }
    // Back up: the destination that failed is looked up again.
    sim.setOutage(null);
    const back = await seenFor(await get(c, "/basic/after"));
    expect(back.headers.authorization).toMatch(/^Basic /);
  });

  it("the destinations variable wins over the service", async () => {
    const { c, sim } = await sharedSetup();
    const seen = await seenFor(await get(c, "/override/x"));
    expect(seen.url).toBe("/from-variable/x");
    expect(findCalls(sim, "override")).toHaveLength(0);
  });

  it("a revoked service token is replaced once and the lookup retried", async () => {
    const { c, sim } = await setup();
    expect((await get(c, "/na/one")).status).toBe(200);
    sim.revokeTokens();
    expect((await get(c, "/basic/one")).status).toBe(200);
    expect(sim.count("token")).toBe(2);
    expect(findCalls(sim, "basic").map((r) => r.status)).toEqual([401, 200]);
  });
});
