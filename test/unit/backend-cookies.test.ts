import { describe, expect, it } from "vitest";
import {
  JAR_LIMITS,
  cookieHeaderFor,
  mergeJar,
  readJar,
  splitBackendCookies,
  type JarCookie,
  type SplitOptions,
} from "../../src/proxy/backend-cookies.js";

const NOW = Date.UTC(2026, 0, 1);
const FUTURE = new Date(NOW + 86_400_000).toUTCString();
const PAST = new Date(NOW - 86_400_000).toUTCString();

const options = (extra: Partial<SplitOptions> = {}): SplitOptions => ({
  keepSessionCookies: true,
  sessionCookieName: "JSESSIONID",
  requestPath: "/",
  now: NOW,
  ...extra,
});

const del = (name: string, path = "/"): JarCookie => ({ name, value: "", path });

describe("splitBackendCookies", () => {
  it.each([
    // [name, Set-Cookie, options, toBrowser, toJar]
    [
      "session cookie: kept in the jar",
      "sap-usercontext=abc; Path=/; HttpOnly",
      {},
      [],
      [{ name: "sap-usercontext", value: "abc", path: "/" }],
    ],
    ["value and name trimmed", "  a =  1 ; path=/x", {}, [], [{ name: "a", value: "1", path: "/x" }]],
    [
      "no Path: RFC 6265 default path of the request",
      "a=1",
      { requestPath: "/app/x/y?q=1" },
      [],
      [{ name: "a", value: "1", path: "/app/x" }],
    ],
    ["no Path at the top level", "a=1", { requestPath: "/x" }, [], [{ name: "a", value: "1", path: "/" }]],
    [
      "relative Path ignored",
      "a=1; Path=x",
      { requestPath: "/app/y" },
      [],
      [{ name: "a", value: "1", path: "/app" }],
    ],
    [
      "persistent (Max-Age): to the browser, jar copy dropped",
      "a=1; Max-Age=3600",
      {},
      ["a=1; Max-Age=3600"],
      [del("a")],
    ],
    [
      "persistent (Expires): to the browser",
      `a=1; Expires=${FUTURE}`,
      {},
      [`a=1; Expires=${FUTURE}`],
      [del("a")],
    ],
    ["attribute names are case-insensitive", "a=1; max-AGE=60", {}, ["a=1; max-AGE=60"], [del("a")]],
    [
      "deleted (Max-Age=0, no Expires): a session cookie ending, out of the jar only (SAP)",
      "a=; Max-Age=0; Path=/p",
      {},
      [],
      [del("a", "/p")],
    ],
    [
      "deleted (Max-Age=0) with setBackendSessionCookies: to the browser",
      "a=; Max-Age=0; Path=/p",
      { keepSessionCookies: false },
      ["a=; Max-Age=0; Path=/p"],
      [del("a", "/p")],
    ],
    ["deleted (Expires past)", `a=x; Expires=${PAST}`, {}, [`a=x; Expires=${PAST}`], [del("a")]],
    [
      "Max-Age wins over a past Expires",
      `a=1; Max-Age=60; Expires=${PAST}`,
      {},
      [`a=1; Max-Age=60; Expires=${PAST}`],
      [del("a")],
    ],
    ["Max-Age=-1 deletes (out of the jar only)", "a=1; Max-Age=-1", {}, [], [del("a")]],
    [
      "unparsable Expires: a session cookie (RFC 6265 ignores it)",
      "a=1; Expires=someday",
      {},
      [],
      [{ name: "a", value: "1", path: "/" }],
    ],
    ["unparsable Max-Age: ignored", "a=1; Max-Age=1e3", {}, [], [{ name: "a", value: "1", path: "/" }]],
    [
      "setBackendSessionCookies: a session cookie goes to the browser",
      "a=1; Path=/",
      { keepSessionCookies: false },
      ["a=1; Path=/"],
      [del("a")],
    ],
    [
      "router's cookie name (session) never reaches the browser",
      "JSESSIONID=backend; Path=/",
      {},
      [],
      [{ name: "JSESSIONID", value: "backend", path: "/" }],
    ],
    [
      "router's cookie name (persistent) never reaches the browser",
      "JSESSIONID=b; Max-Age=3600",
      {},
      [],
      [{ name: "JSESSIONID", value: "b", path: "/" }],
    ],
    [
      "router's cookie name, even with setBackendSessionCookies",
      "JSESSIONID=b",
      { keepSessionCookies: false },
      [],
      [{ name: "JSESSIONID", value: "b", path: "/" }],
    ],
    [
      "router's cookie name deleted by the backend: out of the jar only",
      "JSESSIONID=; Max-Age=0",
      {},
      [],
      [del("JSESSIONID")],
    ],
    [
      "another router cookie name",
      "__Host-s=1; Max-Age=60; Secure; Path=/",
      { sessionCookieName: "__Host-s" },
      [],
      [{ name: "__Host-s", value: "1", path: "/" }],
    ],
    [
      "cookie names are case-sensitive",
      "jsessionid=1; Max-Age=60",
      {},
      ["jsessionid=1; Max-Age=60"],
      [del("jsessionid")],
    ],
    ["nameless cookie dropped", "justavalue", {}, [], []],
    ["empty name dropped (a browser would send back 'JSESSIONID=x')", "=JSESSIONID=x", {}, [], []],
  ] as const)("%s", (_, header, extra, toBrowser, toJar) => {
    expect(splitBackendCookies([header], options(extra))).toEqual({ toBrowser, toJar });
  });

  it("several headers keep their order", () => {
    const split = splitBackendCookies(["s1=a", "p=1; Max-Age=9", "s2=b; Path=/x"], options());
    expect(split.toBrowser).toEqual(["p=1; Max-Age=9"]);
    expect(split.toJar).toEqual([
      { name: "s1", value: "a", path: "/" },
      del("p"),
      { name: "s2", value: "b", path: "/x" },
    ]);
  });

  it("defaults: path / and the real clock", () => {
    const expired = `b=1; Expires=${new Date(Date.now() - 1000).toUTCString()}`;
    expect(
      splitBackendCookies(["a=1", expired], {
        keepSessionCookies: true,
        sessionCookieName: "S",
      }),
    ).toEqual({
      toBrowser: [expired],
      toJar: [{ name: "a", value: "1", path: "/" }, del("b")],
    });
  });
});

const c = (name: string, value: string, path = "/"): JarCookie => ({ name, value, path });

describe("mergeJar", () => {
  it.each([
    ["adds to an empty jar", [], [c("a", "1")], [c("a", "1")]],
    [
      "replaces the same name and path, newest last",
      [c("a", "1"), c("b", "2")],
      [c("a", "3")],
      [c("b", "2"), c("a", "3")],
    ],
    [
      "same name, other path: both kept",
      [c("a", "1", "/x")],
      [c("a", "2", "/y")],
      [c("a", "1", "/x"), c("a", "2", "/y")],
    ],
    ["empty value deletes", [c("a", "1"), c("b", "2")], [c("a", "")], [c("b", "2")]],
    ["deletes only the same path", [c("a", "1", "/x")], [c("a", "", "/y")], [c("a", "1", "/x")]],
    ["path undefined means /", [c("a", "1")], [{ name: "a", value: "" }], []],
    ["updates apply in order", [], [c("a", "1"), c("a", ""), c("b", "2")], [c("b", "2")]],
    [
      "a cookie that cannot be stored replaces nothing and is not stored",
      [c("a", "1")],
      [c("a", "x".repeat(JAR_LIMITS.maxCookieBytes))],
      [],
    ],
    ["a name with ; is not stored", [], [c("a;b", "1")], []],
    ["a value with a control character is not stored", [], [c("a", "1\u0000")], []],
  ] as const)("%s", (_, jar, updates, expected) => {
    expect(mergeJar(jar, updates)).toEqual(expected);
  });

  it.each([
    ["no updates", [c("a", "1")], []],
    ["deleting what is not there", [c("a", "1")], [c("b", "")]],
    ["the same value again", [c("a", "1")], [c("a", "1")]],
  ] as const)("returns the jar itself when nothing changed: %s", (_, jar, updates) => {
    const before = [...jar] as JarCookie[];
    expect(mergeJar(before, updates)).toBe(before);
  });

  it("keeps at most maxCookies, dropping the oldest", () => {
    const updates = Array.from({ length: JAR_LIMITS.maxCookies + 5 }, (_, i) => c(`c${i}`, "v"));
    const jar = mergeJar([], updates);
    expect(jar).toHaveLength(JAR_LIMITS.maxCookies);
    expect(jar[0]!.name).toBe("c5");
    expect(jar.at(-1)!.name).toBe(`c${JAR_LIMITS.maxCookies + 4}`);
  });

  it("keeps at most maxJarBytes, dropping the oldest", () => {
    const big = "x".repeat(3000);
    const jar = mergeJar([], [c("a", big), c("b", big), c("c", big)]);
    expect(jar.map((x) => x.name)).toEqual(["b", "c"]);
    expect(JSON.stringify(jar).length).toBeLessThan(JAR_LIMITS.maxJarBytes + 200);
  });
});

describe("cookieHeaderFor", () => {
  it.each([
    ["no jar: the browser's cookies", [], "a=1; b=2", "/x", "a=1; b=2"],
    ["nothing at all", [], null, "/x", null],
    ["blank incoming header", [], " ; ", "/x", null],
    ["jar only", [c("s", "1")], null, "/x", "s=1"],
    ["browser's, then the jar's", [c("s", "1")], "a=1", "/x", "a=1; s=1"],
    [
      "the jar wins over a browser cookie of the same name",
      [c("s", "good")],
      "s=planted; a=1",
      "/",
      "a=1; s=good",
    ],
    ["path match: below", [c("s", "1", "/api")], null, "/api/x", "s=1"],
    ["path match: equal", [c("s", "1", "/api")], null, "/api", "s=1"],
    ["path match: trailing slash", [c("s", "1", "/api/")], null, "/api/x", "s=1"],
    ["no match: prefix of a segment", [c("s", "1", "/api")], "a=1", "/apix", "a=1"],
    ["no match: other path (browser's same-named cookie kept)", [c("s", "1", "/api")], "s=2", "/web", "s=2"],
    ["the query is ignored", [c("s", "1", "/api")], null, "/api?x=/", "s=1"],
    [
      "longest path first",
      [c("a", "1", "/"), c("b", "2", "/api/v1"), c("c", "3", "/api")],
      null,
      "/api/v1/x",
      "b=2; c=3; a=1",
    ],
  ] as const)("%s", (_, jar, incoming, path, expected) => {
    expect(cookieHeaderFor(jar, incoming, path)).toBe(expected);
  });
});

describe("readJar: whatever the session holds", () => {
  it.each([
    ["undefined", undefined, []],
    ["an object", { a: "1" }, []],
    ["a string", "a=1", []],
    [
      "good entries kept, bad ones dropped",
      [
        c("a", "1"),
        { name: 1, value: "x" },
        null,
        { name: "b" },
        { name: "c", value: "" },
        { name: "d", value: "4", path: 5 },
        { name: "e", value: "5" },
      ],
      [c("a", "1"), c("e", "5")],
    ],
  ] as const)("%s", (_, value, expected) => {
    expect(readJar(value)).toEqual(expected);
  });

  it("re-applies the limits", () => {
    const stored = Array.from({ length: 50 }, (_, i) => c(`c${i}`, "v"));
    expect(readJar(stored)).toHaveLength(JAR_LIMITS.maxCookies);
  });

  it("round-trips through JSON (the session record)", () => {
    const jar = mergeJar([], splitBackendCookies(["a=1; Path=/x", "b=2"], options()).toJar);
    expect(readJar(JSON.parse(JSON.stringify(jar)))).toEqual(jar);
  });
});
