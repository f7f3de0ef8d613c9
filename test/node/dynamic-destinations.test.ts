import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEchoBackend } from "../support/backend.js";
import { sessionCookieOf, startCluster, type Cluster } from "../support/cluster.js";
import { findCalls, startDestinationSim, type DestinationSim } from "../support/destination-sim.js";
import { bundleWorker } from "../support/worker-bundle.js";

/**
 * Dynamic destinations ("$1", "*") and service destinations' logoutPath: the bundled router
 * in workerd (Miniflare) with the destination-service simulator bound, the `destinations`
 * variable, and an echo backend that shows what reached it.
 */
let backend: Awaited<ReturnType<typeof startEchoBackend>>;
let sim: DestinationSim;
let c: Cluster;

const base = { Type: "HTTP", ProxyType: "Internet" };
const XS_APP = {
  authenticationMethod: "none",
  logout: { logoutEndpoint: "/logout", logoutMethod: "GET" },
  destinations: { "svc-logout": { logoutPath: "/session/end", logoutMethod: "PUT" } },
  routes: [
    { source: "^/dyn/([^/]*)/(.*)$", target: "/$2", destination: "$1" },
    { source: "^/svc/(.*)$", target: "/$1", destination: "svc-logout" },
    { source: "^/host/(.*)$", target: "/$1", destination: "*" },
  ],
};

beforeAll(async () => {
  const [started, script] = await Promise.all([startEchoBackend(), bundleWorker()]);
  backend = started;
  sim = await startDestinationSim({
    destinations: [
      {
        Name: "open",
        URL: `${backend.url}/open`,
        Authentication: "NoAuthentication",
        "HTML5.DynamicDestination": "true",
        ...base,
      },
      {
        Name: "open-basic",
        URL: `${backend.url}/basic`,
        Authentication: "BasicAuthentication",
        User: "bob",
        Password: "bob-password",
        "HTML5.DynamicDestination": "TRUE",
        ...base,
      },
      { Name: "closed", URL: `${backend.url}/closed`, Authentication: "NoAuthentication", ...base },
      {
        Name: "flag-false",
        URL: `${backend.url}/closed`,
        Authentication: "NoAuthentication",
        "HTML5.DynamicDestination": "false",
        ...base,
      },
      {
        Name: "svc-logout",
        URL: `${backend.url}/svc`,
        Authentication: "BasicAuthentication",
        User: "carol",
        Password: "carol-password",
        "sap-client": "200",
        ...base,
      },
    ],
  });
  c = await startCluster({
    script,
    workers: ["a"],
    bindings: {
      VCAP_SERVICES: JSON.stringify({ destination: [sim.binding] }),
      destinations: JSON.stringify([{ name: "from-variable", url: `${backend.url}/variable` }]),
      DESTINATION_HOST_PATTERN: "^([a-z-]+)\\.apps\\.router\\.test$",
      XS_APP: JSON.stringify(XS_APP),
    },
  });
});
afterAll(async () => {
  await c?.dispose();
  await Promise.all([sim?.stop(), backend?.close()]);
});

const get = (path: string, headers: Record<string, string> = {}) =>
  c.fetch("a", path, { redirect: "manual", headers });

/** What the backend saw for a 200 answer. */
async function seen(res: Response) {
  expect(res.status).toBe(200);
  const body = (await res.json()) as { url: string };
  return backend.seen.filter((s) => s.url === body.url).at(-1)!;
}

/** A refusal page: status and code, nothing forwarded. */
async function refusal(res: Response) {
  const text = await res.text();
  expect(text).not.toContain("password");
  expect(text).not.toContain(backend.url);
  return {
    status: res.status,
    code: /\b(DYNAMIC_DESTINATION_REFUSED|DESTINATION_HOST_UNMATCHED)\b/.exec(text)?.[1],
  };
}

describe('dynamic destinations: "$1" from the route source', () => {
  it("a service destination with HTML5.DynamicDestination true is reached with its authentication", async () => {
    const open = await seen(await get("/dyn/open/a/b?x=1"));
    expect(open.url).toBe("/open/a/b?x=1");
    const basic = await seen(await get("/dyn/open-basic/c"));
    expect(basic.url).toBe("/basic/c");
    expect(basic.headers.authorization).toBe(`Basic ${Buffer.from("bob:bob-password").toString("base64")}`);
  });

  it("a destination of the destinations variable is reached without a flag (as in SAP), without a lookup", async () => {
    const before = findCalls(sim).length;
    expect((await seen(await get("/dyn/from-variable/v"))).url).toBe("/variable/v");
    expect(findCalls(sim).length).toBe(before);
  });

  it("a service destination without the flag (or with false) gets SAP's 500; so does an unknown name, alike", async () => {
    const count = backend.seen.length;
    for (const name of ["closed", "flag-false", "nowhere"])
      expect(await refusal(await get(`/dyn/${name}/x`)), name).toEqual({
        status: 500,
        code: "DYNAMIC_DESTINATION_REFUSED",
      });
    expect(backend.seen.length).toBe(count);
    // Each name was looked up once; the same name again is answered from memory.
    await get("/dyn/closed/again");
    expect(findCalls(sim, "closed")).toHaveLength(1);
    expect(findCalls(sim, "nowhere")).toHaveLength(1);
  });

  it("a name that tries path tricks is refused before the service is asked", async () => {
    const before = sim.requests.length;
    const count = backend.seen.length;
    for (const path of [
      "/dyn/../x",
      "/dyn/%2e%2e/x",
      "/dyn/..%2Fopen/x",
      "/dyn/open%2F..%2Fclosed/x",
      "/dyn/open%3Fa=b/x",
      "/dyn/a%20b/x",
      "/dyn//x",
      `/dyn/${"a".repeat(201)}/x`,
    ]) {
      const res = await get(path);
      expect([400, 404, 500], path).toContain(res.status);
      await res.body?.cancel();
    }
    expect(sim.requests.slice(before)).toEqual([]);
    expect(backend.seen.length).toBe(count);
    // An encoded unreserved character is the same path (src/routing/canonical-path.ts), so the same name.
    expect((await seen(await get("/dyn/op%65n/x"))).url).toBe("/open/x");
  });
});

describe('dynamic destinations: "*" from the host (DESTINATION_HOST_PATTERN)', () => {
  it("the host's group names the destination; the flag applies as for $1", async () => {
    expect((await seen(await get("https://open.apps.router.test/host/h"))).url).toBe("/open/h");
    expect(await refusal(await get("https://closed.apps.router.test/host/h"))).toEqual({
      status: 500,
      code: "DYNAMIC_DESTINATION_REFUSED",
    });
  });

  it("a host the pattern does not match is 404 DESTINATION_HOST_UNMATCHED, nothing looked up", async () => {
    const before = sim.requests.length;
    expect(await refusal(await get("/host/h"))).toEqual({ status: 404, code: "DESTINATION_HOST_UNMATCHED" });
    expect(await refusal(await get("https://open.elsewhere.test/host/h"))).toEqual({
      status: 404,
      code: "DESTINATION_HOST_UNMATCHED",
    });
    expect(sim.requests.slice(before)).toEqual([]);
  });
});

describe("logoutPath of a destination from the destination service", () => {
  it("is called at logout with the destination's authentication, sap-client and the backend's cookies", async () => {
    const first = await get("/svc/work", { "x-test-backend-session": "svc-session-1" });
    expect(first.status).toBe(200);
    await first.body?.cancel();
    const cookie = sessionCookieOf(first);
    expect(cookie).toBeDefined();
    const logout = await get("/logout", { cookie: cookie! });
    expect(logout.status).toBeLessThan(400);
    await logout.body?.cancel();
    for (let i = 0; i < 100 && !backend.seen.some((s) => s.url === "/svc/session/end"); i++)
      await new Promise((r) => setTimeout(r, 20));
    const call = backend.seen.find((s) => s.url === "/svc/session/end");
    expect(call).toBeDefined();
    expect(call!.method).toBe("PUT");
    expect(call!.headers.authorization).toBe(
      `Basic ${Buffer.from("carol:carol-password").toString("base64")}`,
    );
    expect(call!.headers["sap-client"]).toBe("200");
    expect(call!.headers.cookie).toBe("BACKEND_SESSION=svc-session-1");
  });
});
