import { describe, it, expect } from "vitest";
import { csrfDecision, isStateChanging, type CsrfInput } from "../../src/security/csrf.js";
import { timingSafeEqual } from "../../src/security/constant-time.js";

const TOKEN = "k2Jd0nWc4v1m8mJ6xkq9Rz7tYh3Ue5pLaSbQfGiHoN0";

describe("isStateChanging", () => {
  it.each([
    ["GET", false],
    ["HEAD", false],
    ["OPTIONS", false],
    ["get", false],
    ["options", false],
    ["POST", true],
    ["PUT", true],
    ["PATCH", true],
    ["patch", true],
    ["DELETE", true],
    ["MERGE", true], // OData
    ["TRACE", true],
  ] as const)("%s → %s", (method, expected) => {
    expect(isStateChanging(method)).toBe(expected);
  });
});

describe("csrfDecision", () => {
  const base: CsrfInput = {
    method: "POST",
    fetchHeader: TOKEN,
    routeRequiresAuth: true,
    csrfProtection: true,
    sessionToken: TOKEN,
  };

  it.each<[string, Partial<CsrfInput>, "fetch" | "ok" | "reject"]>([
    // fetching the token: GET/HEAD with "fetch", any case, any route
    ["GET fetch", { method: "GET", fetchHeader: "fetch" }, "fetch"],
    ["HEAD Fetch", { method: "HEAD", fetchHeader: "Fetch" }, "fetch"],
    ["get FETCH", { method: "get", fetchHeader: "FETCH" }, "fetch"],
    [
      "GET fetch on a public route without session",
      { method: "GET", fetchHeader: "fetch", routeRequiresAuth: false, sessionToken: undefined },
      "fetch",
    ],
    [
      "GET fetch with csrfProtection off",
      { method: "GET", fetchHeader: "fetch", csrfProtection: false },
      "fetch",
    ],
    ["OPTIONS fetch is not a fetch", { method: "OPTIONS", fetchHeader: "fetch" }, "ok"],
    ["POST fetch is not a fetch (and not the token)", { fetchHeader: "fetch" }, "reject"],
    ["GET with a wrong token is fine", { method: "GET", fetchHeader: "nope" }, "ok"],
    ["GET without header", { method: "GET", fetchHeader: null, sessionToken: undefined }, "ok"],
    // state-changing requests
    ["POST with the token", {}, "ok"],
    ["lower-case post with the token", { method: "post" }, "ok"],
    ["DELETE with the token", { method: "DELETE" }, "ok"],
    ["POST without header", { fetchHeader: null }, "reject"],
    ["POST with empty header", { fetchHeader: "" }, "reject"],
    ["POST with wrong token", { fetchHeader: `${TOKEN.slice(0, -1)}X` }, "reject"],
    ["POST with token prefix", { fetchHeader: TOKEN.slice(0, 10) }, "reject"],
    ["POST with token + suffix", { fetchHeader: `${TOKEN}x` }, "reject"],
    ["POST with token in other case", { fetchHeader: TOKEN.toLowerCase() }, "reject"],
    ["POST without session token", { sessionToken: undefined }, "reject"],
    ["POST with empty session token and empty header", { sessionToken: "", fetchHeader: "" }, "reject"],
    ["PATCH without header", { method: "PATCH", fetchHeader: null }, "reject"],
    // not checked
    [
      "POST on a public route",
      { routeRequiresAuth: false, fetchHeader: null, sessionToken: undefined },
      "ok",
    ],
    ["POST with csrfProtection off", { csrfProtection: false, fetchHeader: null }, "ok"],
    ["OPTIONS without header", { method: "OPTIONS", fetchHeader: null }, "ok"],
    ["HEAD without header", { method: "HEAD", fetchHeader: null }, "ok"],
  ])("%s → %s", (_, override, kind) => {
    expect(csrfDecision({ ...base, ...override })).toEqual({ kind });
  });
});

describe("timingSafeEqual", () => {
  it.each([
    ["", "", true],
    ["a", "a", true],
    [TOKEN, TOKEN, true],
    ["é", "é", true],
    ["a", "b", false],
    ["a", "", false],
    ["", "a", false],
    ["abc", "abcd", false],
    ["abcd", "abc", false],
    ["abc\u0000", "abc", false], // zero padding does not make them equal
    ["é", "e\u0301", false], // bytes, no normalisation
    ["\u00e9", "\u00c3\u00a9", false], // same UTF-16 length differs, different bytes
  ] as const)("%j vs %j → %s", (a, b, expected) => {
    expect(timingSafeEqual(a, b)).toBe(expected);
  });
});
