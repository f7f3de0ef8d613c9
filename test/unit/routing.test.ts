import { describe, it, expect } from "vitest";
import type { RouteConfig } from "../../src/config/types.js";
import { matchRoute, isSafeTarget } from "../../src/routing/match.js";

function route(source: string | RegExp, extra: Partial<RouteConfig> = {}): RouteConfig {
  return {
    source: typeof source === "string" ? new RegExp(source) : source,
    destination: "backend",
    authenticationType: "xsuaa",
    csrfProtection: true,
    ...extra,
  };
}

describe("matchRoute: order and methods", () => {
  const routes = [
    route("^/api/admin/(.*)$", { target: "/admin/$1", httpMethods: ["GET"] }),
    route("^/api/(.*)$", { target: "/$1", httpMethods: ["GET", "POST"] }),
    route("^/upload$", { httpMethods: ["PUT"] }),
    route("^/upload$", { httpMethods: ["POST", "PUT"] }),
    route("^/ro$", { httpMethods: ["GET"] }),
    route("^/(.*)$", { destination: "ui" }),
  ];

  it.each([
    // [path+query, method, expected index, expected target]
    ["/api/admin/users", "GET", 0, "/admin/users"],
    ["/api/admin/users", "POST", 1, "/admin/users"], // route 0 excludes POST: falls through
    ["/api/x?y=1", "GET", 1, "/x?y=1"],
    ["/api/x", "post", 1, "/x"], // methods compared upper-case
    ["/upload", "POST", 3, "/upload"],
    ["/upload", "PUT", 2, "/upload"],
    ["/anything/else?q", "DELETE", 5, "/anything/else?q"],
    ["/ro", "POST", 5, "/ro"], // excluded by /ro, taken by the catch-all
  ] as const)("%s %s → route %i, target %s", (pq, method, index, target) => {
    const m = matchRoute(routes, pq, method);
    expect(m).toMatchObject({ kind: "route", index, target });
    if (m.kind === "route") expect(m.route).toBe(routes[index]);
  });

  it("first match wins even when a later route matches too", () => {
    const rs = [route("^/a", { destination: "first" }), route("^/a/b$", { destination: "second" })];
    const m = matchRoute(rs, "/a/b", "GET");
    expect(m.kind === "route" && m.route.destination).toBe("first");
  });

  it.each([
    [[route("^/x$", { httpMethods: ["GET"] })], "POST", ["GET"]],
    [
      [route("^/x$", { httpMethods: ["GET"] }), route("^/x$", { httpMethods: ["PUT", "GET"] })],
      "DELETE",
      ["GET", "PUT"],
    ],
    // no implicit HEAD for GET
    [[route("^/x$", { httpMethods: ["GET"] })], "HEAD", ["GET"]],
    // routes not matching the path do not contribute
    [[route("^/y$", { httpMethods: ["PATCH"] }), route("^/x$", { httpMethods: ["POST"] })], "GET", ["POST"]],
  ] as const)("method-not-allowed with the union of allowed methods (%#)", (rs, method, allow) => {
    expect(matchRoute(rs, "/x", method)).toEqual({ kind: "method-not-allowed", allow });
  });

  it.each([
    [[], "/x"],
    [[route("^/y$")], "/x"],
    [[route("^/y$", { httpMethods: ["GET"] })], "/x"],
  ] as const)("none when no route matches the path (%#)", (rs, pq) => {
    expect(matchRoute(rs, pq, "GET")).toEqual({ kind: "none" });
  });
});

describe("matchRoute: source regex", () => {
  it.each([
    ["^/API/", "/api/x", false], // case-sensitive by default
    [/^\/API\//i, "/api/x", true], // unless the regex says otherwise
    ["^/a\\?b=1$", "/a?b=1", true], // matched against path plus query
    ["^/a$", "/a?b=1", false], // the query is part of the tested string
    ["b=1", "/a?b=1", true], // unanchored
  ] as const)("%s against %s → %s", (source, pq, matches) => {
    expect(matchRoute([route(source)], pq, "GET").kind).toBe(matches ? "route" : "none");
  });

  it("ignores lastIndex of a global or sticky regex (stateless across calls)", () => {
    for (const flags of ["g", "y", "gy"]) {
      const rs = [route(new RegExp("^/a/(.*)$", flags), { target: "/b/$1" })];
      for (let i = 0; i < 3; i++) {
        expect(matchRoute(rs, "/a/x", "GET")).toMatchObject({ kind: "route", target: "/b/x" });
      }
    }
  });
});

describe("matchRoute: target rewriting", () => {
  it.each([
    // source, target, request, upstream
    ["^/api/(.*)$", "/$1", "/api/x/y", "/x/y"],
    ["^/api/(.*)$", "$1", "/api//x", "/x"], // "$1" alone, capture starts with "/"
    ["^/(a)/(b)/(c)/(d)/(e)/(f)/(g)/(h)/(i)$", "/$9$8$7$6$5$4$3$2$1", "/a/b/c/d/e/f/g/h/i", "/ihgfedcba"],
    ["^/a/(x)?(.*)$", "/b/$1-$2", "/a/yz", "/b/-yz"], // non-participating group → ""
    ["^/a/(.*)$", "/b/$2$3", "/a/x", "/b/"], // group that does not exist → ""
    ["^/a/(.*)$", "/b/$10", "/a/x", "/b/x0"], // one digit only
    ["^/a/(.*)$", "/b/$&$$$`$'", "/a/x", "/b/$&$$$`$'"], // other $ forms are literal
    ["^/api/", "/v2/", "/api/x/y", "/v2/x/y"], // only the matched portion is replaced
    ["/old/", "/new/", "/p/old/q", "/p/new/q"], // prefix before the match kept
    ["^/a(.*)$", undefined, "/a/x?y=1", "/a/x?y=1"], // no target: original path and query
  ] as const)("%s → %s: %s ⇒ %s", (source, target, pq, expected) => {
    const extra = target === undefined ? {} : { target };
    expect(matchRoute([route(source, extra)], pq, "GET")).toMatchObject({ kind: "route", target: expected });
  });

  // Rule, as recorded from SAP's router: `pathAndQuery.replace(source, target)` and nothing
  // more. What the match covered is replaced, what it did not is kept, query included.
  it.each([
    ["^/api/(.*)$", "/$1", "/api/x?y=1&z=2", "/x?y=1&z=2"], // query captured by $1
    ["^/api/([^?]*)", "/v2/$1", "/api/x?y=1", "/v2/x?y=1"], // query outside the match, kept by replace
    ["^/api/([^?]*).*$", "/v2/$1", "/api/x?y=1", "/v2/x"], // query consumed and not given back: dropped
    ["^/app/(.*)$", "/index.html", "/app/a/b?lang=de", "/index.html"],
    ["^/a\\?x", "/b", "/a?x&y=1", "/b&y=1"], // match ends inside the query: the rest stays (SAP)
    ["^/a.*$", "/b?fixed=1", "/a?y=1", "/b?fixed=1"], // target with its own query
    ["^/a.*$", "/b?", "/a?y=1", "/b?"], // a bare "?" drops the query on purpose
    ["^/a(.*)$", "/b$1", "/a?", "/b?"], // empty query preserved as is
    ["^/a/(.*)$", "/b/$1", "/a/x", "/b/x"], // no query, nothing appended
    ["y=1", "z=2", "/a?y=1", "/a?z=2"], // match inside the query
  ] as const)("query rule: %s → %s: %s ⇒ %s", (source, target, pq, expected) => {
    expect(matchRoute([route(source, { target })], pq, "GET")).toMatchObject({
      kind: "route",
      target: expected,
    });
  });

  it.each([
    ["^/a/(.*)$", "$1", "/a/x", "/x"], // SAP's common "target": "$1": joined with a "/"
    ["^/a/(.*)$", "https://evil.example/$1", "/a/x", "/https://evil.example/x"], // a path under the destination, not another host
  ] as const)(
    "a target without a leading slash is a path: %s → %s for %s ⇒ %s",
    (source, target, pq, expected) => {
      expect(matchRoute([route(source, { target })], pq, "GET")).toMatchObject({
        kind: "route",
        target: expected,
      });
    },
  );

  it.each([
    ["^/a\\?h=(.*)$", "/x\r\nX-Injected: 1/$1", "/a?h=1"], // CR/LF from the template
    ["^/a\\?to=(.*)$", "/$1", "/a?to=../admin"], // dot segment from the query into the path
    ["^/a\\?to=(.*)$", "/b/$1", "/a?to=%2E%2e/admin"], // encoded dot segment
    ["^/a\\?to=(.*)$", "/b/$1", "/a?to=..\\admin"], // backslash separator
    ["^/a/(.*)$", "/b/./$1", "/a/x"],
    ["^/a/(.*)$", "/b#$1", "/a/x"], // fragment
  ] as const)("invalid-target guard: %s → %s for %s", (source, target, pq) => {
    const rs = [route(source, { target }), route("^/.*$")];
    // the first match decides: no fall-through to the catch-all
    expect(matchRoute(rs, pq, "GET")).toEqual({ kind: "invalid-target", route: rs[0], index: 0 });
  });

  it("refuses percent-encoded control characters in the path, keeps them in the query", () => {
    expect(
      matchRoute([route("^/a/(.*)$", { target: "/b/$1" })], "/a/%0d%0aX-Injected:%201", "GET").kind,
    ).toBe("invalid-target");
    expect(matchRoute([route("^/a/(.*)$", { target: "/b/$1" })], "/a/x%00", "GET").kind).toBe(
      "invalid-target",
    );
    const m = matchRoute([route("^/a/(.*)$", { target: "/b/$1" })], "/a/x?text=l1%0D%0Al2", "GET");
    expect(m).toMatchObject({ kind: "route", target: "/b/x?text=l1%0D%0Al2" });
  });

  it.each([["/a/..%2fadmin"], ["/a/%2e%2e%2Fadmin"], ["/a/..%5cadmin"], ["/a/x/%2E%2E%5C%2e%2e%5cadmin"]])(
    "refuses dot segments with percent-encoded separators: %s",
    (pq) => {
      expect(matchRoute([route("^/a/(.*)$", { target: "/b/$1" })], pq, "GET").kind).toBe("invalid-target");
    },
  );

  it("guards an untouched request path too", () => {
    expect(matchRoute([route("^[\\s\\S]*$")], "/x\n", "GET").kind).toBe("invalid-target");
    expect(matchRoute([route("^.*$")], "/a/%2e%2e/b", "GET").kind).toBe("invalid-target");
  });

  it.each([
    ["/", true],
    ["/a/b?c=../d", true], // dots in the query are fine
    ["/a..b/.c/..d", true],
    ["/a/%2e%2E", false],
    ["/a/.", false],
    ["/a\tb", false],
    ["/a\u007fb", false],
    ["/a b", true],
    ["", false],
  ] as const)("isSafeTarget(%j) = %s", (target, safe) => {
    expect(isSafeTarget(target)).toBe(safe);
  });
});
