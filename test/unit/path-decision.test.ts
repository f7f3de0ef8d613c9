import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { createApp } from "../../src/app.js";
import type { Authenticator } from "../../src/auth/types.js";
import { errorPage } from "../../src/http/pages.js";
import { decideRoute } from "../../src/routing/decide.js";
import { matchRoute } from "../../src/routing/match.js";
import { testSessionManager } from "../support/session-manager.js";
import { configWithXsuaa } from "../support/router-env.js";

/**
 * Issue 9: routes (and so authentication and scope) are decided on the path the backend
 * reads. The admin route needs the scope Admin; the user here is logged in without it.
 */
const xsApp = {
  authenticationMethod: "route",
  routes: [
    {
      source: "^/api/admin/(.*)$",
      target: "/api/admin/$1",
      destination: "backend",
      authenticationType: "xsuaa",
      scope: "Admin",
    },
    { source: "^/api/(.*)$", target: "/api/$1", destination: "backend", authenticationType: "xsuaa" },
    { source: "^/public/(.*)$", target: "/$1", destination: "backend", authenticationType: "none" },
    { source: "^/sap/opu/odata/(.*)$", destination: "backend", authenticationType: "xsuaa" },
  ],
};

/** Logged in without the scope Admin: 403 on a route that names a scope. */
const userWithoutAdmin: Authenticator = async (_c, route) =>
  route.scope ? errorPage(403, "INSUFFICIENT_SCOPE") : null;

function makeApp() {
  const config = configWithXsuaa(xsApp);
  const upstream: Request[] = [];
  const fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    upstream.push(request);
    return new Response("ok");
  }) as typeof globalThis.fetch;
  const idle = config.session.idleTimeoutMs;
  const manager = testSessionManager({ maxEntries: 10, maxBytes: 1e6, idleTimeoutMs: idle });
  const app = createApp({
    config: config,
    manager,
    fetch,
    log: () => {},
    authenticate: userWithoutAdmin,
  });
  return {
    config: config,
    upstream,
    request: (path: string, init?: RequestInit) => app.request(`https://router.test${path}`, init),
  };
}

const upstreamPath = (r: Request) => {
  const url = new URL(r.url);
  return url.pathname + url.search;
};

describe("route decisions on the canonical path (issue 9)", () => {
  it("the plain spelling is refused for a user without Admin", async () => {
    const t = makeApp();
    expect((await t.request("/api/admin/users")).status).toBe(403);
    expect(t.upstream).toHaveLength(0);
  });

  it.each([
    ["/api/%61dmin/users", 403], // decided as /api/admin/users: the admin route
    ["/api/ad%6din/users?x=1", 403],
    ["/api/admin;a=b/users", 400], // Tomcat reads /api/admin/users: the route would depend on the parameter
    ["/api/admin;/users", 400],
    ["/api/admin%2Fusers", 400], // a backend that decodes %2F reads /api/admin/users
    ["/api/admin%2fusers", 400],
    ["/api//admin/users", 403], // merged, as Tomcat and nginx do
    ["/api/%2e/admin/users", 403], // the URL parser resolves it; decided as what it resolves to
    ["/public/..;/admin/users", 400], // Tomcat and Spring resolve ..; as ..
    ["/public/..%3B/api/admin/users", 400],
    ["/public/%2e%2e;/api/admin/users", 400],
    ["/public/.%2e;x/api/admin/users", 400],
    ["/public/x%5C..%5Capi/admin/users", 400],
    ["/public/%C0%AE%C0%AE/api/admin/users", 400], // overlong UTF-8 '.'
    ["/api/admin%00/users", 400],
  ])("%s → %i, nothing reaches the backend", async (path, status) => {
    const t = makeApp();
    const res = await t.request(path);
    expect(res.status).toBe(status);
    expect(t.upstream).toHaveLength(0);
    if (status === 400) expect(await res.text()).toContain("PATH_REFUSED");
  });

  it.each([
    ["/api/%6Frders/1", "/api/orders/1"], // the canonical path is forwarded, not the spelling
    ["/api//orders//1?q=%2F", "/api/orders/1?q=%2F"], // the query is passed on as sent
    ["/api/a%c3%a4b", "/api/a%C3%A4b"],
    ["/public/%7Euser/x", "/~user/x"],
    // SAP Gateway matrix parameters pass when they cannot change the route
    ["/sap/opu/odata/sap/ZSRV;v=2/Items?$top=1", "/sap/opu/odata/sap/ZSRV;v=2/Items?$top=1"],
    ["/api/orders;jsessionid=x/1", "/api/orders;jsessionid=x/1"],
  ])("%s is forwarded as %s", async (path, forwarded) => {
    const t = makeApp();
    const res = await t.request(path);
    expect(res.status).toBe(200);
    expect(t.upstream.map(upstreamPath)).toEqual([forwarded]);
  });

  it("tells the backend the canonical path in X-Forwarded-Path", async () => {
    const t = makeApp();
    await t.request("/api/%6Frders//1");
    expect(t.upstream[0]!.headers.get("x-forwarded-path")).toBe("/api/orders/1");
  });
});

describe("headers a client must not control (issue 9)", () => {
  it("a protected route never forwards the client's Authorization; a public one does (SAP)", async () => {
    const t = makeApp();
    const headers = { authorization: "Bearer client-chosen" };
    expect((await t.request("/api/orders", { headers })).status).toBe(200);
    expect((await t.request("/public/page", { headers })).status).toBe(200);
    expect(t.upstream.map((r) => r.headers.get("authorization"))).toEqual([null, "Bearer client-chosen"]);
  });

  it("the backend gets the platform's client address, not the client's X-Forwarded-For chain or X-Real-IP", async () => {
    const t = makeApp();
    await t.request("/public/page", {
      headers: {
        "cf-connecting-ip": "203.0.113.7",
        "x-forwarded-for": "10.0.0.1",
        "x-real-ip": "10.0.0.1",
        forwarded: "for=10.0.0.1",
      },
    });
    const seen = t.upstream[0]!.headers;
    expect([seen.get("x-forwarded-for"), seen.get("x-real-ip"), seen.get("forwarded")]).toEqual([
      "203.0.113.7",
      null,
      null,
    ]);
  });
});

/**
 * Property: whatever the spelling, either the request is refused, or the route chosen is
 * the one chosen for the canonical form, and the one a backend would be routed to after
 * reading the forwarded path its way: Tomcat (strips `;` parameters, decodes, merges `//`,
 * resolves dot segments) or nginx / Node (decodes, merges `//`).
 */
describe("route decision property (issue 9)", () => {
  const { config } = makeApp();
  const routes = config.xsApp.routes;

  /** Ways to spell one character of a path (index 0: as it is). */
  const hex = (c: string) => c.charCodeAt(0).toString(16);
  const spellingsOf = (c: string): string[] =>
    c === "/"
      ? [
          "/",
          "//",
          "%2F",
          "%2f",
          "%5C",
          "\\",
          "/./",
          "/%2e/",
          "/x/../",
          "/x/%2E%2e/",
          "/x/.%2e/",
          "/x/..;/",
          "/x/..;a/",
          "/..;/",
          "/%2e%2e;/",
          "/.;/",
          ";/",
          ";a=b/",
          "%3B/",
          "/%C0%AE%C0%AE/",
          "%00/",
        ]
      : [c, `%${hex(c)}`, `%${hex(c).toUpperCase()}`];
  /** A path from the routes' own words, each character spelled one way or another. */
  const spelling = fc
    .array(fc.constantFrom("api", "admin", "api", "admin", "public", "users", "sap", "odata"), {
      minLength: 1,
      maxLength: 4,
    })
    .chain((words) => {
      const plain = `/${words.join("/")}/`;
      return fc.tuple(
        fc.constant(plain),
        fc.array(fc.nat(40), { minLength: plain.length, maxLength: plain.length }),
      );
    })
    .map(([plain, choices]) =>
      [...plain]
        .map((c, i) => {
          const options = i === 0 ? [c] : spellingsOf(c); // the leading "/" starts the path
          // Mostly the plain character, so that a few spelled ones stand out.
          const choice = choices[i]! % (options.length * 2);
          return choice < options.length ? options[choice]! : c;
        })
        .join(""),
    );

  /** A backend's reading of a forwarded path: decoded, `//` merged, dot segments resolved, optionally `;` parameters stripped. */
  function backendReading(path: string, stripParams: boolean): string {
    const segments: string[] = [];
    for (let segment of path.split("/")) {
      if (stripParams) segment = segment.split(";", 1)[0]!;
      segment = decodeURIComponent(segment);
      if (segment === "" || segment === ".") continue;
      if (segment === "..") segments.pop();
      else segments.push(segment);
    }
    return `/${segments.join("/")}${path.endsWith("/") && segments.length > 0 ? "/" : ""}`;
  }

  /**
   * The route a backend's reading stands for. The sources here are ASCII literals that a
   * decoded reading matches exactly when its encoded form would.
   */
  function routeOfReading(reading: string): string {
    const match = matchRoute(routes, reading, "GET");
    return match.kind === "route" ? String(match.index) : match.kind;
  }

  it("the route for a spelling is the route for its canonical form and for every backend reading, or the request is refused", () => {
    fc.assert(
      fc.property(spelling, (raw) => {
        const url = new URL(`https://router.test${raw}`);
        const decision = decideRoute(routes, url.pathname, url.search, "GET");
        if (decision.kind === "refused") return;
        const again = decideRoute(routes, decision.path, url.search, "GET");
        expect(again).toEqual(decision);
        if (decision.kind !== "route" || url.search !== "") return;
        for (const strip of [false, true]) {
          // Backends read what is forwarded: the target on the route's destination.
          const readingOfRequest = backendReading(decision.path, strip);
          expect(routeOfReading(readingOfRequest), `${raw} read as ${readingOfRequest}`).toBe(
            String(decision.index),
          );
        }
      }),
      { numRuns: 5000 },
    );
  });
});
