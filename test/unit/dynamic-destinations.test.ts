import { describe, expect, it } from "vitest";
import { formatProblems, loadConfig } from "../../src/config/index.js";
import type { Destination, DestinationServiceBinding } from "../../src/config/types.js";
import type { Env } from "../../src/env.js";
import { parseDestinationHostPattern } from "../../src/config/dynamic-destinations.js";
import { type DynamicRequest, dynamicDestinationName } from "../../src/destinations/dynamic.js";
import { createDestinationResolver, variableDestination } from "../../src/destinations/index.js";
import { allowsDynamicUse } from "../../src/destinations/resolve.js";

const SECRET = "s3cret-VALUE-never-shown";
const TOKEN = "token-VALUE-never-logged";

const request = (pathAndQuery: string, host = "router.example", source = /^\/d\/([^/]+)\/(.*)$/) =>
  ({ source, pathAndQuery, host }) satisfies DynamicRequest;

describe("dynamicDestinationName: the name a dynamic route gives, as SAP's router derives it", () => {
  it('"$1": the capture group; like SAP, what the match did not cover stays', () => {
    expect(dynamicDestinationName("$1", request("/d/books/x"), undefined)).toEqual({
      ok: true,
      name: "books",
    });
    // SAP: url.replace(source, "$1"): the unmatched rest of the URL is part of the name.
    expect(dynamicDestinationName("$1", request("/d/books/x", "h", /^\/d\/([^/]+)\//), undefined)).toEqual({
      ok: true,
      name: "booksx",
    });
    expect(dynamicDestinationName("$2-$1", request("/d/a/b"), undefined)).toEqual({ ok: true, name: "b-a" });
  });

  it("a name that tries path tricks or odd characters is refused before any lookup", () => {
    for (const path of [
      "/d/../x",
      "/d/./x",
      "/d/.../x",
      "/d/a%2Fb/x",
      "/d/a%2e%2e/x",
      "/d/a?b/x",
      "/d/a#b/x",
      "/d/a b/x",
      "/d/a\\b/x",
      "/d/a@evil.example/x",
      `/d/${"a".repeat(201)}/x`,
    ]) {
      expect(dynamicDestinationName("$1", request(path), undefined), path).toEqual({
        ok: false,
        code: "DYNAMIC_DESTINATION_REFUSED",
        reason: "invalid-name",
      });
    }
    // An empty group gives no name.
    expect(dynamicDestinationName("$1", request("/e/x", "h", /^\/e\/([a-z]*)x$/), undefined).ok).toBe(false);
    expect(dynamicDestinationName("$1", request(`/d/${"a".repeat(200)}/x`), undefined).ok).toBe(true);
  });

  it('"*": group 1 of DESTINATION_HOST_PATTERN over the host (with its port, as SAP reads Host)', () => {
    const pattern = /^([a-z0-9-]+)\.router\.example(?::[0-9]+)?$/;
    expect(dynamicDestinationName("*", request("/x", "books.router.example"), pattern)).toEqual({
      ok: true,
      name: "books",
    });
    expect(dynamicDestinationName("*", request("/x", "books.router.example:8443"), pattern)).toEqual({
      ok: true,
      name: "books",
    });
    expect(dynamicDestinationName("*", request("/x", "router.example"), pattern)).toEqual({
      ok: false,
      code: "DESTINATION_HOST_UNMATCHED",
      reason: "host-not-matched",
    });
    expect(dynamicDestinationName("*", request("/x", "books.router.example"), undefined)).toEqual({
      ok: false,
      code: "DESTINATION_HOST_UNMATCHED",
      reason: "no-host-pattern",
    });
  });
});

describe("configuration of dynamic destinations", () => {
  const routes = [
    { source: "^/d/([^/]+)/(.*)$", target: "$2", destination: "$1", authenticationType: "none" },
    { source: "^/h/(.*)$", target: "$1", destination: "*", authenticationType: "none" },
  ];

  it('"$1" and "*" (with DESTINATION_HOST_PATTERN) are accepted without the destination service', () => {
    const result = loadConfig({ DESTINATION_HOST_PATTERN: "^([a-z]+)\\.example$" } as Env, { routes });
    expect(result.ok ? [] : formatProblems(result.problems)).toEqual([]);
    expect(result.ok && result.config.destinationHostPattern?.exec("books.example")?.[1]).toBe("books");
  });

  it("DESTINATION_HOST_PATTERN: a pattern with a group; problems named by the variable", () => {
    expect(parseDestinationHostPattern(undefined)).toEqual({ problems: [] });
    expect(parseDestinationHostPattern("^(a)$").pattern?.source).toBe("^(a)$");
    expect(parseDestinationHostPattern("^(?:a)$").problems).toEqual([
      { path: "DESTINATION_HOST_PATTERN", message: "must have a capturing group (the destination name)" },
    ]);
  });
});

describe("HTML5.DynamicDestination, read as SAP reads it", () => {
  const answer = (config: Record<string, unknown>) => ({ destinationConfiguration: config });
  it.each([
    [{ "HTML5.DynamicDestination": "true" }, true],
    [{ "HTML5.DynamicDestination": "TRUE" }, true],
    [{ "HTML5.DynamicDestination": true }, true],
    [{ dynamicDestination: "true" }, true],
    [{ "HTML5.DynamicDestination": "false" }, false],
    [{ "HTML5.DynamicDestination": "yes" }, false],
    [{}, false],
  ])("%j → %s", (config, expected) => {
    expect(allowsDynamicUse(answer(config))).toBe(expected);
  });
});

describe("createDestinationResolver with dynamic routes", () => {
  const binding: DestinationServiceBinding = {
    uri: "https://dest.example",
    tokenUrl: "https://uaa.example/oauth/token",
    clientId: "c",
    clientSecret: SECRET,
  };
  const destination = (name: string, extra: Record<string, unknown> = {}) => ({
    owner: { SubaccountId: "sub", InstanceId: null },
    destinationConfiguration: {
      Name: name,
      Type: "HTTP",
      ProxyType: "Internet",
      URL: `https://${name}.example`,
      Authentication: "NoAuthentication",
      ...extra,
    },
  });
  const answers: Record<string, unknown> = {
    open: destination("open", { "HTML5.DynamicDestination": "true" }),
    closed: destination("closed"),
    onprem: destination("onprem", { ProxyType: "OnPremise" }),
    "onprem-dynamic": destination("onprem-dynamic", {
      ProxyType: "OnPremise",
      "HTML5.DynamicDestination": "true",
    }),
    "ux-open": {
      ...destination("ux-open", {
        Authentication: "OAuth2UserTokenExchange",
        "HTML5.DynamicDestination": "true",
      }),
      authTokens: [{ type: "Bearer", value: "exchanged", expires_in: "3600" }],
    },
    "ux-closed": {
      ...destination("ux-closed", { Authentication: "OAuth2UserTokenExchange" }),
      authTokens: [{ type: "Bearer", value: "exchanged", expires_in: "3600" }],
    },
  };
  const fixed: Destination = {
    name: "fixed",
    url: "https://fixed.example",
    forwardAuthToken: false,
    timeoutMs: 1000,
    setXForwardedHeaders: true,
  };

  function setup(options: { service?: boolean; hostPattern?: RegExp } = {}) {
    const lines: Record<string, unknown>[] = [];
    const finds: string[] = [];
    const tokens: string[] = [];
    const fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
      const url = new URL(new Request(input, init).url);
      if (url.pathname === "/oauth/token") {
        tokens.push(url.pathname);
        return Response.json({ access_token: TOKEN, token_type: "bearer", expires_in: 3600 });
      }
      const name = decodeURIComponent(url.pathname.split("/").at(-1)!);
      finds.push(name);
      return name in answers
        ? Response.json(answers[name])
        : Response.json({ ErrorMessage: "not found" }, { status: 404 });
    }) as typeof globalThis.fetch;
    const resolve = createDestinationResolver({
      variable: new Map([["fixed", fixed]]),
      ...(options.service !== false && { service: binding }),
      ...(options.hostPattern && { hostPattern: options.hostPattern }),
      fetch,
      now: Date.now,
      log: (event, fields) => lines.push({ event, ...fields }),
    });
    const viaPath = (name: string, template = "$1", user?: string) =>
      resolve(template, {
        userToken: async () => user,
        waitUntil: () => {},
        dynamic: request(`/d/${name}/x`),
      });
    const viaHost = (host: string) =>
      resolve("*", {
        userToken: async () => undefined,
        waitUntil: () => {},
        dynamic: request("/x", host, /^\/x$/),
      });
    return { resolve, viaPath, viaHost, lines, finds, tokens };
  }

  const statusOf = async (found: Awaited<ReturnType<ReturnType<typeof setup>["viaPath"]>>) => {
    if (found.ok) return { ok: true, url: found.destination.url };
    const body = await found.response.text();
    for (const secret of [SECRET, TOKEN]) expect(body).not.toContain(secret);
    return {
      status: found.response.status,
      code: /DYNAMIC_DESTINATION_REFUSED|[A-Z_]{8,}(?=<)/.exec(body)?.[0],
    };
  };

  it("a service destination with HTML5.DynamicDestination true is served", async () => {
    const s = setup();
    expect(await statusOf(await s.viaPath("open"))).toEqual({ ok: true, url: "https://open.example" });
    expect(s.finds).toEqual(["open"]);
  });

  it("a destination of the variable may be reached dynamically without a flag, as in SAP (no lookup)", async () => {
    const s = setup();
    expect(await statusOf(await s.viaPath("fixed"))).toEqual({ ok: true, url: "https://fixed.example" });
    expect(s.finds).toEqual([]);
    const unbound = setup({ service: false });
    expect(await statusOf(await unbound.viaPath("fixed"))).toEqual({
      ok: true,
      url: "https://fixed.example",
    });
  });

  it("without the flag, unknown, or an invalid name: the same 500 as SAP, the log says which", async () => {
    const s = setup();
    const closed = await statusOf(await s.viaPath("closed"));
    const unknown = await statusOf(await s.viaPath("nowhere"));
    const invalid = await statusOf(await s.viaPath(".."));
    // A refused destination whose flag is missing says nothing about why (no oracle for names).
    const onprem = await statusOf(await s.viaPath("onprem"));
    for (const answer of [closed, unknown, invalid, onprem])
      expect(answer).toEqual({ status: 500, code: "DYNAMIC_DESTINATION_REFUSED" });
    expect(s.finds).toEqual(["closed", "nowhere", "onprem"]);
    expect(
      s.lines
        .filter((l) => l.event === "destination.dynamic_refused.warn")
        .map((l) => [l.reason, l.destination]),
    ).toEqual([
      ["not-dynamic", "closed"],
      ["unknown", "nowhere"],
      ["invalid-name", undefined],
      ["not-dynamic", "onprem"],
    ]);
    // Without the service, an unknown dynamic name is refused the same way.
    const unbound = setup({ service: false });
    expect(await statusOf(await unbound.viaPath("nowhere"))).toEqual({
      status: 500,
      code: "DYNAMIC_DESTINATION_REFUSED",
    });
  });

  it("a dynamic destination the router cannot use gets the usual refusal", async () => {
    const s = setup();
    const found = await s.viaPath("onprem-dynamic");
    expect(!found.ok && found.response.status).toBe(502);
  });

  it("the same name on a static route is not restricted by the flag", async () => {
    const s = setup();
    const found = await s.resolve("closed", { userToken: async () => undefined, waitUntil: () => {} });
    expect(found.ok && found.destination.url).toBe("https://closed.example");
  });

  it('"*": the host names the destination; an unmatched host is 404', async () => {
    const s = setup({ hostPattern: /^([a-z-]+)\.router\.example$/ });
    expect(await statusOf(await s.viaHost("open.router.example"))).toEqual({
      ok: true,
      url: "https://open.example",
    });
    expect(await statusOf(await s.viaHost("closed.router.example"))).toEqual({
      status: 500,
      code: "DYNAMIC_DESTINATION_REFUSED",
    });
    const unmatched = await s.viaHost("router.example");
    expect(!unmatched.ok && unmatched.response.status).toBe(404);
    expect(!unmatched.ok && (await unmatched.response.text())).toContain("DESTINATION_HOST_UNMATCHED");
    expect(s.lines.at(-1)).toEqual({ event: "destination.host_unmatched.warn", reason: "host-not-matched" });
  });

  it("user-token destinations: the flag decides with and without a user, also once known to be per user", async () => {
    const s = setup();
    const status = async (name: string, user?: string) => {
      const found = await s.viaPath(name, "$1", user);
      return found.ok ? 200 : found.response.status;
    };
    // Not flagged: refused alike, whether or not a user is there (no hint that it exists).
    expect([await status("ux-closed"), await status("ux-closed", "u1"), await status("ux-closed")]).toEqual([
      500, 500, 500,
    ]);
    // Flagged: it needs a user (502 DESTINATION_NEEDS_USER), and with one it is served.
    expect([await status("ux-open"), await status("ux-open", "u1"), await status("ux-open")]).toEqual([
      502, 200, 502,
    ]);
  });

  it("names from requests are cached apart: a lookup per name, then answers from memory", async () => {
    const s = setup();
    for (let i = 0; i < 3; i++) {
      await s.viaPath("open");
      await s.viaPath("nowhere");
    }
    expect(s.finds).toEqual(["open", "nowhere"]);
    // The same name on a static route is looked up in the other cache, with the same service token.
    await s.resolve("open", { userToken: async () => undefined, waitUntil: () => {} });
    expect(s.finds).toEqual(["open", "nowhere", "open"]);
    expect(s.tokens).toHaveLength(1);
  });
});

describe("variableDestination (the proxy's shortcut past the resolver)", () => {
  const backend: Destination = {
    name: "backend",
    url: "https://b.example",
    forwardAuthToken: false,
    timeoutMs: 30_000,
    setXForwardedHeaders: true,
  };
  // A variable destination literally named like a template must not turn a dynamic route static.
  const variable = new Map([
    ["backend", backend],
    ["$1", { ...backend, name: "$1" }],
    ["*", { ...backend, name: "*" }],
  ]);

  it("answers a name of the destinations variable, as the resolver would", async () => {
    expect(variableDestination(variable, "backend")).toBe(backend);
    const resolved = await createDestinationResolver({ variable, fetch, now: Date.now, log: () => {} })(
      "backend",
      { userToken: async () => undefined, waitUntil: () => {} },
    );
    expect(resolved).toEqual({ ok: true, destination: backend });
  });

  it("leaves unknown names and dynamic templates to the resolver", () => {
    expect(variableDestination(variable, "unknown")).toBeUndefined();
    expect(variableDestination(variable, "$1")).toBeUndefined();
    expect(variableDestination(variable, "*")).toBeUndefined();
  });
});
