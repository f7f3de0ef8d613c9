import { describe, expect, it } from "vitest";
import * as v from "valibot";
import type { CorsRule, OriginRule } from "../../src/config/types.js";
import { corsRules } from "../../src/config/http-schemas.js";
import {
  corsHeaders,
  corsPreflight,
  effectiveCorsRules,
  mergeCorsHeaders,
  originAllowed,
} from "../../src/http/cors.js";

/** Rules as the configuration produces them (SAP defaults filled in). */
function rules(...input: Record<string, unknown>[]): CorsRule[] {
  return v.parse(corsRules, input);
}

const ROUTER = "https://router.example";
const APP = "https://app.example.com";

const API = rules({ uriPattern: "^/api/", allowedOrigin: [{ host: "app.example.com", protocol: "https" }] });

function request(path: string, init: { method?: string; headers?: Record<string, string> } = {}): Request {
  return new Request(`${ROUTER}${path}`, init);
}

function preflight(
  path: string,
  origin: string | null,
  method = "PUT",
  extra: Record<string, string> = {},
): Request {
  return request(path, {
    method: "OPTIONS",
    headers: { ...(origin === null ? {} : { origin }), "access-control-request-method": method, ...extra },
  });
}

describe("originAllowed (SAP allow-list semantics)", () => {
  const o = (host: string, extra: Partial<OriginRule> = {}): OriginRule => ({ host, ...extra });
  it.each([
    [[o("app.example.com")], "https://app.example.com", true],
    [[o("app.example.com")], "https://APP.Example.com", true],
    [[o("app.example.com")], "http://app.example.com:8080", true], // no protocol/port: any
    [[o("app.example.com")], "https://x.app.example.com", false],
    [[o("app.example.com")], "https://app.example.com.evil", false],
    [[o("*.example.com")], "https://app.example.com", true],
    [[o("*.example.com")], "https://a.b.example.com", true],
    [[o("*.example.com")], "https://example.com", false], // SAP: "*." needs a subdomain
    [[o("*.example.com")], "https://evilexample.com", false],
    [[o("*")], "https://anything.test:1234", true],
    [[o("app.example.com", { protocol: "https" })], "http://app.example.com", false],
    [[o("app.example.com", { port: 443 })], "https://app.example.com", true], // default port
    [[o("app.example.com", { port: 443 })], "https://app.example.com:8443", false],
    [[o("app.example.com", { port: 8443 })], "https://app.example.com:8443", true],
    [[o("localhost", { port: 80 })], "http://localhost", true],
    [[o("127.0.0.1", { port: 5000 })], "http://127.0.0.1:5000", true],
    [[o("a.test"), o("b.test")], "https://b.test", true],
    [[o("*")], "null", false],
    [[o("*")], "https://app.example.com/path", false],
    [[o("*")], "https://app.example.com%2f@evil", false],
    [[o("*")], "app.example.com", false],
    [[o("*")], "", false],
  ] as const)("%j allows %s: %s", (allowed, origin, expected) => {
    expect(originAllowed(allowed, origin)).toBe(expected);
  });
});

interface PreflightRow {
  name: string;
  rules?: CorsRule[];
  request: Request;
  status: number | null;
  headers?: Record<string, string | null>;
}

const preflightRows: PreflightRow[] = [
  { name: "no Origin: not CORS", request: preflight("/api/x", null), status: null },
  { name: "same origin: not CORS", request: preflight("/api/x", ROUTER), status: null },
  {
    name: "not OPTIONS: not a preflight",
    request: request("/api/x", { headers: { origin: APP, "access-control-request-method": "PUT" } }),
    status: null,
  },
  {
    name: "OPTIONS without Access-Control-Request-Method: not a preflight",
    request: request("/api/x", { method: "OPTIONS", headers: { origin: APP } }),
    status: null,
  },
  {
    name: "no rule for the path: not the router's business",
    request: preflight("/other", APP),
    status: null,
  },
  {
    name: "allowed: 204 with SAP's headers",
    request: preflight("/api/x", APP, "POST", {
      "access-control-request-headers": "content-type, X-Requested-With",
    }),
    status: 204,
    headers: {
      "access-control-allow-origin": APP,
      "access-control-allow-credentials": "true",
      "access-control-allow-methods": "POST",
      "access-control-allow-headers":
        "Origin, Accept, X-Requested-With, Content-Type, Access-Control-Request-Method, Access-Control-Request-Headers",
      "access-control-max-age": "1800",
      vary: "Origin",
    },
  },
  { name: "origin not allowed: 403", request: preflight("/api/x", "https://evil.example"), status: 403 },
  { name: "unusable origin (null): 403", request: preflight("/api/x", "null"), status: 403 },
  { name: "protocol mismatch: 403", request: preflight("/api/x", "http://app.example.com"), status: 403 },
  {
    name: "method not allowed (PUT not in the defaults GET, POST, HEAD, OPTIONS): 403",
    request: preflight("/api/x", APP, "PUT"),
    status: 403,
  },
  {
    name: "a requested header not allowed: 403",
    request: preflight("/api/x", APP, "POST", {
      "access-control-request-headers": "content-type, authorization",
    }),
    status: 403,
  },
  {
    name: "uriPattern sees the query too",
    rules: rules({ uriPattern: "\\?cors=1$", allowedOrigin: [{ host: "*" }] }),
    request: preflight("/x?cors=1", APP, "GET"),
    status: 204,
  },
  {
    name: "any origin without credentials: *, no Vary, no credentials",
    rules: rules({ uriPattern: "^/", allowedOrigin: [{ host: "*" }], allowedCredentials: false }),
    request: preflight("/x", APP, "GET"),
    status: 204,
    headers: { "access-control-allow-origin": "*", vary: null, "access-control-allow-credentials": null },
  },
  {
    name: "any origin with credentials (default): the origin is echoed",
    rules: rules({ uriPattern: "^/", allowedOrigin: [{ host: "*" }] }),
    request: preflight("/x", APP, "GET"),
    status: 204,
    headers: {
      "access-control-allow-origin": APP,
      "access-control-allow-credentials": "true",
      vary: "Origin",
    },
  },
  {
    name: "configured methods, headers and maxAge 0",
    rules: rules({
      uriPattern: "^/",
      allowedOrigin: [{ host: "*" }],
      allowedMethods: ["DELETE"],
      allowedHeaders: ["Authorization"],
      maxAge: 0,
    }),
    request: preflight("/x", APP, "DELETE", { "access-control-request-headers": "authorization" }),
    status: 204,
    headers: {
      "access-control-allow-methods": "DELETE",
      "access-control-allow-headers": "Authorization",
      "access-control-max-age": null,
    },
  },
  {
    name: "hostPattern: host name with the default port matches (SAP README form)",
    rules: rules({ uriPattern: "^/", hostPattern: "^router\\.example:443$", allowedOrigin: [{ host: "*" }] }),
    request: preflight("/x", APP, "GET"),
    status: 204,
  },
  {
    name: "hostPattern: host name alone matches",
    rules: rules({ uriPattern: "^/", hostPattern: "^router\\.example$", allowedOrigin: [{ host: "*" }] }),
    request: preflight("/x", APP, "GET"),
    status: 204,
  },
  {
    name: "hostPattern of another host: no rule",
    rules: rules({ uriPattern: "^/", hostPattern: "^other\\.example$", allowedOrigin: [{ host: "*" }] }),
    request: preflight("/x", APP, "GET"),
    status: null,
  },
  {
    name: "first matching rule wins: xs-app.json before CORS variable (SAP)",
    rules: [
      ...effectiveCorsRules(
        rules({ uriPattern: "^/api/", allowedOrigin: [{ host: "other.example" }] }),
        rules({ uriPattern: "^/api/", allowedOrigin: [{ host: "*" }] }),
      ),
    ],
    request: preflight("/api/x", APP, "GET"),
    status: 403,
  },
  {
    name: "a rule with a g flag is not flaky across requests",
    rules: [{ ...API[0]!, uriPattern: /^\/api\//g }],
    request: preflight("/api/x", APP, "GET"),
    status: 204,
  },
];

describe("corsPreflight", () => {
  it.each(preflightRows)("$name", async (row) => {
    const ruleSet = row.rules ?? API;
    // Twice: a configured RegExp must give the same answer every time.
    for (let i = 0; i < 2; i++) {
      const res = corsPreflight(row.request.clone(), ruleSet);
      if (row.status === null) {
        expect(res).toBeNull();
        continue;
      }
      expect(res?.status).toBe(row.status);
      for (const [name, value] of Object.entries(row.headers ?? {}))
        expect(res!.headers.get(name)).toBe(value);
      if (row.status === 403) expect(res!.headers.get("access-control-allow-origin")).toBeNull();
    }
  });
});

describe("corsHeaders (actual requests)", () => {
  it.each([
    { name: "no Origin", request: request("/api/x"), kind: "none" },
    { name: "same origin", request: request("/api/x", { headers: { origin: ROUTER } }), kind: "none" },
    { name: "no rule", request: request("/other", { headers: { origin: APP } }), kind: "none" },
    { name: "allowed origin", request: request("/api/x", { headers: { origin: APP } }), kind: "allow" },
    {
      name: "origin not allowed: 403 (SAP)",
      request: request("/api/x", { headers: { origin: "https://evil.example" } }),
      kind: "reject",
    },
    {
      name: "method not allowed: 403 (SAP)",
      request: request("/api/x", { method: "DELETE", headers: { origin: APP } }),
      kind: "reject",
    },
    {
      name: "unusable origin: 403",
      request: request("/api/x", { headers: { origin: "null" } }),
      kind: "reject",
    },
  ])("$name → $kind", ({ request: req, kind }) => {
    const decision = corsHeaders(req, API);
    expect(decision.kind).toBe(kind);
    if (decision.kind === "reject") expect(decision.response.status).toBe(403);
  });

  it("allowed: origin, credentials, exposed headers, Vary", () => {
    const ruleSet = rules({
      uriPattern: "^/",
      allowedOrigin: [{ host: "*.example.com" }],
      exposeHeaders: ["X-Csrf-Token", "ETag"],
    });
    const decision = corsHeaders(request("/x", { method: "POST", headers: { origin: APP } }), ruleSet);
    if (decision.kind !== "allow") expect.fail(decision.kind);
    expect(Object.fromEntries(decision.headers)).toEqual({
      "access-control-allow-origin": APP,
      "access-control-allow-credentials": "true",
      "access-control-expose-headers": "X-Csrf-Token, ETag",
      vary: "Origin",
    });
  });
});

describe("mergeCorsHeaders", () => {
  it.each([
    [{}, { "access-control-allow-origin": APP, vary: "Origin" }],
    [{ vary: "Accept-Encoding" }, { "access-control-allow-origin": APP, vary: "Accept-Encoding, Origin" }],
    [{ vary: "origin" }, { "access-control-allow-origin": APP, vary: "origin" }],
    [{ vary: "*" }, { "access-control-allow-origin": APP, vary: "*" }],
    [{ "access-control-allow-origin": "*" }, { "access-control-allow-origin": APP, vary: "Origin" }], // the router's rule wins
  ])("onto %j", (existing, expected) => {
    const target = new Headers(existing);
    mergeCorsHeaders(target, new Headers({ "access-control-allow-origin": APP, vary: "Origin" }));
    expect(Object.fromEntries(target)).toEqual(expected);
  });
});
