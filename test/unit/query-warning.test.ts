import { describe, expect, it } from "vitest";
import type { RouteConfig } from "../../src/config/types.js";
import { queryRisk, routeQueryWarnings } from "../../src/routing/query-warning.js";
import { matchRoute } from "../../src/routing/match.js";
import { buildIsolate } from "../../src/isolate.js";
import * as noCustomStore from "../../src/stores/no-custom-store.js";
import { envWithXsuaa } from "../support/router-env.js";

describe("queryRisk: sources that let the query take part in the match", () => {
  it.each([
    // [source, risk, a request the source takes only because of its query (or null)]
    ["^/public/(.*)$", undefined, null],
    ["^/public/", undefined, null],
    ["^/api/(.*)$", undefined, null],
    ["^/(.*)$", undefined, null],
    ["^/public/([^?]*)\\.html(\\?.*)?$", undefined, null], // the recommended fix
    ["^/a/(.*)(\\.html)?$", undefined, null], // optional text after a wildcard is never needed
    ["^/api/[^/?]+/x", undefined, null], // the class stops at the query
    ["^/resources/\\w+\\.js$", undefined, null], // \w cannot match "?"
    ["^/a\\?b=(.*)$", undefined, null], // names the query itself: on purpose
    ["^/search[?]q=", undefined, null],
    ["^/(?:a|b)/x", undefined, null],
    ["(^/a|^/b)/x", undefined, null],
    ["^/api(?=/)/x", undefined, null], // a lookahead consumes nothing
    ["/public/", "unanchored", "/api/admin/users?x=/public/"],
    ["public", "unanchored", "/api/admin/users?public"],
    ["^/b|/public/", "unanchored", "/api/admin/users?x=/public/"], // one alternative unanchored
    ["(?:^/a)?/public/", "unanchored", "/api/admin/users?x=/public/"],
    ["^/(.*)\\.html$", "wildcard-into-query", "/api/admin/users?.html"],
    ["^/(.*)\\.html", "wildcard-into-query", "/api/admin/users?x.html"],
    ["^/.+/public$", "wildcard-into-query", "/api/admin/users?/public"],
    ["^/[^/]+/public/", "wildcard-into-query", "/admin?x/public/"],
    ["^/\\S*static", "wildcard-into-query", "/api/admin?static"],
    ["^/a(/.*\\.css)?$", "wildcard-into-query", "/a/admin?.css"], // inside an optional group
    ["^/(a|.*\\.js)$", "wildcard-into-query", "/api/admin?.js"],
  ] as const)("%s → %s", (source, risk, takenByQuery) => {
    expect(queryRisk(source)).toBe(risk);
    if (takenByQuery !== null) {
      // The claim is real: the source matches the request, and not its path alone.
      const re = new RegExp(source);
      expect(re.test(takenByQuery)).toBe(true);
      expect(re.test(takenByQuery.split("?")[0]!)).toBe(false);
    }
  });

  it.each([["^/a\\1"], ["^/a("], ["^/a["]])("makes no claim about what it cannot read: %s", (source) => {
    expect(queryRisk(source)).toBeUndefined();
  });
});

function route(source: string, extra: Partial<RouteConfig> = {}): RouteConfig {
  return {
    source: new RegExp(source),
    destination: "backend",
    authenticationType: "xsuaa",
    csrfProtection: true,
    ...extra,
  };
}

describe("routeQueryWarnings: only where a stricter route comes later", () => {
  it("names the public route that can take the admin route's paths, with the fix", () => {
    const routes = [
      route("/public/", { authenticationType: "none" }),
      route("^/api/admin/(.*)$", { scope: { default: ["Admin"] } }),
      route("^/api/(.*)$"),
    ];
    // What the warning is about: the query moves an admin path to the public route.
    expect(matchRoute(routes, "/api/admin/users?x=/public/", "GET")).toMatchObject({
      kind: "route",
      index: 0,
    });
    expect(routeQueryWarnings(routes)).toEqual([
      {
        route: 0,
        source: "\\/public\\/",
        stricterRoute: 1,
        kind: "unanchored",
        fix: expect.stringContaining("^"),
      },
    ]);
  });

  it.each([
    // [routes, expected [route, stricterRoute] pairs]
    [[route("^/(.*)\\.html$", { authenticationType: "none" }), route("^/api/(.*)$")], [[0, 1]]],
    [[route("^/(.*)\\.html$"), route("^/admin/(.*)$", { scope: { default: ["Admin"] } })], [[0, 1]]], // a scope it lacks
    [
      [
        route("^/(.*)\\.html$", { scope: { default: ["Admin"] } }),
        route("^/admin/(.*)$", { scope: { default: ["Admin"] } }),
      ],
      [],
    ], // same scope
    [[route("^/api/(.*)$"), route("/public/", { authenticationType: "none" })], []], // the risky route comes last: it takes nothing
    [
      [route("/public/", { authenticationType: "none" }), route("^/other/", { authenticationType: "none" })],
      [],
    ], // nothing stricter
    [[route("^/public/(.*)$", { authenticationType: "none" }), route("^/api/(.*)$")], []], // anchored, no wildcard into the query
    [
      [
        route("^/api/(.*)$"),
        route("^/(.*)\\.html$", { authenticationType: "none" }),
        route("^/admin/", { scope: { default: ["A"] } }),
      ],
      [[1, 2]],
    ],
  ] as const)("%#", (routes, expected) => {
    expect(routeQueryWarnings(routes).map((w) => [w.route, w.stricterRoute])).toEqual(expected);
  });
});

describe("start-up warning", () => {
  it("logs one warning line per risky route when the configuration is loaded, naming it and the fix", async () => {
    const lines: [string, Record<string, unknown> | undefined][] = [];
    const xsApp = {
      authenticationMethod: "route",
      routes: [
        { source: "/public/", destination: "backend", authenticationType: "none" },
        { source: "^/api/admin/(.*)$", destination: "backend", scope: "Admin" },
        { source: "^/api/(.*)$", destination: "backend" },
      ],
    };
    const env = envWithXsuaa();
    const state = await buildIsolate(env, {
      bundledXsApp: xsApp,
      customStore: noCustomStore,
      fetch,
      now: Date.now,
      log: (event, fields) => lines.push([event, fields]),
    });
    expect(state.kind).toBe("ready");
    const warnings = lines.filter(([event]) => event === "config.route.warn");
    expect(warnings).toEqual([
      ["config.route.warn", expect.objectContaining({ route: 0, stricterRoute: 1, kind: "unanchored" })],
    ]);
  });
});
