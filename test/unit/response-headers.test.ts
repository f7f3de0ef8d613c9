import { describe, expect, it } from "vitest";
import type { HeaderEntry } from "../../src/config/types.js";
import {
  appendMergedCsp,
  applyResponseHeaders,
  configuredCsp,
  planResponseHeaders,
  type ResponseHeaderOptions,
} from "../../src/http/response-headers.js";

const h = (name: string, value: string): HeaderEntry => ({ name, value });

interface Row {
  name: string;
  options?: Partial<ResponseHeaderOptions>;
  /** Headers the response already has (from the backend or the assets). */
  existing?: Record<string, string>;
  expected: Record<string, string>;
}

const CSP = "default-src 'self'";

const rows: Row[] = [
  { name: "default: X-Frame-Options SAMEORIGIN", expected: { "x-frame-options": "SAMEORIGIN" } },
  { name: "SEND_XFRAMEOPTIONS false: none", options: { sendXFrameOptions: false }, expected: {} },
  {
    name: "a backend's X-Frame-Options is kept",
    existing: { "X-Frame-Options": "DENY" },
    expected: { "x-frame-options": "DENY" },
  },
  {
    name: "httpHeaders X-Frame-Options replaces the default (SAP)",
    options: { httpHeaders: [h("x-frame-options", "DENY")] },
    expected: { "x-frame-options": "DENY" },
  },
  {
    name: "responseHeaders X-Frame-Options replaces the default, even with SEND_XFRAMEOPTIONS false",
    options: { sendXFrameOptions: false, responseHeaders: [h("X-Frame-Options", "DENY")] },
    expected: { "x-frame-options": "DENY" },
  },
  {
    name: "httpHeaders then responseHeaders, in order",
    options: { httpHeaders: [h("Content-Security-Policy", CSP)], responseHeaders: [h("X-Custom", "1")] },
    expected: { "x-frame-options": "SAMEORIGIN", "content-security-policy": CSP, "x-custom": "1" },
  },
  {
    name: "a responseHeaders entry replaces httpHeaders of the same name (case-insensitive)",
    options: {
      httpHeaders: [h("content-security-policy", "a"), h("X-Other", "o"), h("Content-Security-Policy", "b")],
      responseHeaders: [h("Content-Security-Policy", CSP)],
    },
    expected: { "x-frame-options": "SAMEORIGIN", "x-other": "o", "content-security-policy": CSP },
  },
  {
    name: "several configured entries of one name are all sent",
    options: { httpHeaders: [h("X-Multi", "a"), h("X-Multi", "b")] },
    expected: { "x-frame-options": "SAMEORIGIN", "x-multi": "a, b" },
  },
  {
    name: "a header the backend sent wins over the configured one (SAP)",
    options: { httpHeaders: [h("Content-Security-Policy", CSP), h("X-Multi", "a"), h("X-Multi", "b")] },
    existing: { "content-security-policy": "frame-ancestors 'none'", "x-multi": "backend" },
    expected: {
      "x-frame-options": "SAMEORIGIN",
      "content-security-policy": "frame-ancestors 'none'",
      "x-multi": "backend",
    },
  },
  {
    name: "unrelated response headers are untouched",
    existing: { "content-type": "text/html", "set-cookie": "a=1" },
    expected: { "content-type": "text/html", "set-cookie": "a=1", "x-frame-options": "SAMEORIGIN" },
  },
];

describe("applyResponseHeaders", () => {
  it.each(rows)("$name", (row) => {
    const plan = planResponseHeaders({
      sendXFrameOptions: true,
      httpHeaders: [],
      responseHeaders: [],
      ...row.options,
    });
    const headers = new Headers(row.existing);
    applyResponseHeaders(headers, plan);
    expect(Object.fromEntries(headers)).toEqual(row.expected);
  });

  it("the plan is computed once and reused", () => {
    const plan = planResponseHeaders({
      sendXFrameOptions: true,
      httpHeaders: [h("X-A", "1")],
      responseHeaders: [],
    });
    for (let i = 0; i < 3; i++) {
      const headers = new Headers();
      applyResponseHeaders(headers, plan);
      expect(headers.get("x-a")).toBe("1");
    }
    expect(Object.isFrozen(plan.entries[0])).toBe(true);
  });
});

describe("MERGE_CSP_HEADERS", () => {
  it("configuredCsp: the policy responseHeaders names, else httpHeaders' (all entries), else none", () => {
    const plan = (httpHeaders: HeaderEntry[], responseHeaders: HeaderEntry[] = []) =>
      planResponseHeaders({ sendXFrameOptions: true, httpHeaders, responseHeaders });
    expect(
      configuredCsp(plan([h("Content-Security-Policy", "a"), h("content-security-policy", "b")])),
    ).toEqual(["a", "b"]);
    expect(
      configuredCsp(plan([h("Content-Security-Policy", "a")], [h("Content-Security-Policy", CSP)])),
    ).toEqual([CSP]);
    expect(configuredCsp(plan([h("X-Other", "o")]))).toEqual([]);
  });

  it("appendMergedCsp: a backend's policy goes out with the configured one; without one, nothing is added here", () => {
    const withPolicy = new Headers({
      "content-security-policy": "frame-ancestors 'none'",
      "x-multi": "backend",
    });
    appendMergedCsp(withPolicy, [CSP]);
    expect(Object.fromEntries(withPolicy)).toEqual({
      "content-security-policy": `frame-ancestors 'none', ${CSP}`,
      "x-multi": "backend",
    });
    const without = new Headers({ "content-type": "text/plain" });
    appendMergedCsp(without, [CSP]);
    expect(without.has("content-security-policy")).toBe(false);
  });
});

describe("planResponseHeaders: configuration the schemas reject is a bug", () => {
  it.each([
    ["Set-Cookie", "a=1"],
    ["cookie", "a=1"],
    ["Transfer-Encoding", "chunked"],
    ["Connection", "close"],
    ["Upgrade", "websocket"],
    ["Content-Length", "1"],
    ["bad name", "x"],
    ["X-Line", "a\r\nb"],
  ])("throws for %s: %j", (name, value) => {
    expect(() =>
      planResponseHeaders({ sendXFrameOptions: true, httpHeaders: [h(name, value)], responseHeaders: [] }),
    ).toThrow(TypeError);
    expect(() =>
      planResponseHeaders({ sendXFrameOptions: true, httpHeaders: [], responseHeaders: [h(name, value)] }),
    ).toThrow(TypeError);
  });
});
