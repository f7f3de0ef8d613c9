import { describe, expect, it } from "vitest";
import { formatProblems, loadConfig, redactedSummary } from "../../src/config/index.js";
import type { Destination, DestinationServiceBinding, XsAppConfig } from "../../src/config/types.js";
import type { Env } from "../../src/env.js";
import { RefreshingCache, type Loaded } from "../../src/destinations/cache.js";
import { createDestinationResolver, logoutDestinationLookup } from "../../src/destinations/index.js";
import { callBackendLogouts } from "../../src/handlers/logout-handler.js";
import type { SessionRecord } from "../../src/session/record.js";
import { applyDestinationHeaders, withDestinationQueries } from "../../src/destinations/request.js";
import { resolveAnswer, type Resolution } from "../../src/destinations/resolve.js";
import { parseDestinationService } from "../../src/destinations/service-binding.js";
import { parseVcapServices } from "../../src/config/vcap.js";

const SECRET = "s3cret-VALUE-never-shown";
const TOKEN = "token-VALUE-never-logged";

const answer = (config: Record<string, unknown>, authTokens?: unknown[]) => ({
  owner: { SubaccountId: "sub", InstanceId: null },
  destinationConfiguration: {
    Name: "d",
    Type: "HTTP",
    ProxyType: "Internet",
    URL: "https://backend.example/api/",
    Authentication: "NoAuthentication",
    ...config,
  },
  ...(authTokens && { authTokens }),
});
const bearer = (value: string, expires = "3600") => ({
  type: "Bearer",
  value,
  http_header: { key: "Authorization", value: `Bearer ${value}` },
  expires_in: expires,
});

function ok(resolution: Resolution) {
  if (!resolution.ok) throw new Error(`refused: ${resolution.code} ${resolution.reason}`);
  return resolution;
}

describe("resolveAnswer: a find-destination answer becomes the router's destination", () => {
  it("NoAuthentication: URL without trailing slash, SAP's defaults, no headers", () => {
    const r = ok(resolveAnswer("d", answer({}), false));
    expect(r.destination).toEqual({
      name: "d",
      url: "https://backend.example/api",
      forwardAuthToken: false,
      timeoutMs: 30_000,
      setXForwardedHeaders: true,
    });
    expect(r.userDependent).toBe(false);
    expect(r.expiresInMs).toBeUndefined();
  });

  it("BasicAuthentication: the service's header, or one built from User/Password (UTF-8)", () => {
    const fromService = ok(
      resolveAnswer(
        "d",
        answer({ Authentication: "BasicAuthentication", User: "u", Password: "p" }, [
          { type: "Basic", value: "dTpw", http_header: { key: "Authorization", value: "Basic dTpw" } },
        ]),
        false,
      ),
    );
    expect(fromService.destination.headers).toEqual([{ name: "Authorization", value: "Basic dTpw" }]);
    const built = ok(
      resolveAnswer(
        "d",
        answer({ Authentication: "BasicAuthentication", User: "jörg", Password: "pä:ss" }),
        false,
      ),
    );
    const expected = btoa(String.fromCharCode(...new TextEncoder().encode("jörg:pä:ss")));
    expect(built.destination.headers).toEqual([{ name: "Authorization", value: `Basic ${expected}` }]);
  });

  it("OAuth2ClientCredentials: the service's token and its lifetime", () => {
    const r = ok(
      resolveAnswer("d", answer({ Authentication: "OAuth2ClientCredentials" }, [bearer("t1", "120")]), false),
    );
    expect(r.destination.headers).toEqual([{ name: "Authorization", value: "Bearer t1" }]);
    expect(r.expiresInMs).toBe(120_000);
    expect(r.userDependent).toBe(false);
    // type + value when the service sends no http_header
    const plain = ok(
      resolveAnswer(
        "d",
        answer({ Authentication: "OAuth2ClientCredentials" }, [
          { type: "Bearer", value: "t2", expires_in: 60 },
        ]),
        false,
      ),
    );
    expect(plain.destination.headers).toEqual([{ name: "Authorization", value: "Bearer t2" }]);
  });

  it("user-token kinds are per user and need the user's token", () => {
    for (const kind of ["OAuth2UserTokenExchange", "OAuth2JWTBearer"]) {
      const r = ok(resolveAnswer("d", answer({ Authentication: kind }, [bearer("u1")]), true));
      expect(r.userDependent).toBe(true);
      expect(r.destination.headers).toEqual([{ name: "Authorization", value: "Bearer u1" }]);
      const anonymous = resolveAnswer(
        "d",
        answer({ Authentication: kind }, [{ type: "", value: "", error: "no user", expires_in: "0" }]),
        false,
      );
      expect(anonymous).toMatchObject({ ok: false, code: "DESTINATION_NEEDS_USER", userDependent: true });
    }
  });

  it("sap-client, URL.headers.*, URL.queries.*, HTML5 properties", () => {
    const r = ok(
      resolveAnswer(
        "d",
        answer({
          "sap-client": "100",
          "URL.headers.X-Api-Key": "k",
          "URL.queries.api-version": "2",
          "HTML5.Timeout": "5000",
          "HTML5.SetXForwardedHeaders": "false",
          "HTML5.PreserveHostHeader": "true",
          forwardAuthToken: "true",
        }),
        false,
      ),
    );
    expect(r.destination).toMatchObject({
      timeoutMs: 5000,
      setXForwardedHeaders: false,
      forwardAuthToken: true,
      headers: [{ name: "sap-client", value: "100" }],
      defaultHeaders: [{ name: "X-Api-Key", value: "k" }],
      queries: [{ name: "api-version", value: "2" }],
    });
    expect(r.preserveHostHeader).toBe(true);
  });

  const refusals: [string, ReturnType<typeof answer> | unknown, string][] = [
    [
      "OnPremise",
      answer({ ProxyType: "OnPremise", Password: SECRET }),
      "DESTINATION_ON_PREMISE_NOT_SUPPORTED",
    ],
    ["PrivateLink", answer({ ProxyType: "PrivateLink" }), "DESTINATION_NOT_SUPPORTED"],
    ["RFC", answer({ Type: "RFC" }), "DESTINATION_NOT_SUPPORTED"],
    [
      "client certificates",
      answer({ Authentication: "ClientCertificateAuthentication", KeyStorePassword: SECRET }),
      "DESTINATION_NOT_SUPPORTED",
    ],
    ["PrincipalPropagation", answer({ Authentication: "PrincipalPropagation" }), "DESTINATION_NOT_SUPPORTED"],
    [
      "forwardAuthToken with Basic (SAP refuses it)",
      answer({ Authentication: "BasicAuthentication", User: "u", Password: SECRET, forwardAuthToken: true }),
      "DESTINATION_INVALID",
    ],
    ["a bad timeout", answer({ "HTML5.Timeout": "soon" }), "DESTINATION_INVALID"],
    ["a bad flag", answer({ "HTML5.PreserveHostHeader": "yes" }), "DESTINATION_INVALID"],
    ["a Host header", answer({ "URL.headers.Host": "x" }), "DESTINATION_INVALID"],
    ["a hop-by-hop header", answer({ "URL.headers.Transfer-Encoding": "chunked" }), "DESTINATION_INVALID"],
    [
      "a header value with CRLF",
      answer({ "URL.headers.X-A": `a\r\nX-Injected: ${SECRET}` }),
      "DESTINATION_INVALID",
    ],
    ["a header value fetch cannot send", answer({ "URL.headers.X-A": "naïve ✓" }), "DESTINATION_INVALID"],
    ["a sap-client with a line break", answer({ "sap-client": "100\r\nX: y" }), "DESTINATION_INVALID"],
    [
      "an auth header with a line break",
      answer({ Authentication: "OAuth2ClientCredentials" }, [
        { type: "Bearer", value: "a", http_header: { key: "Authorization", value: "Bearer a\nX: y" } },
      ]),
      "DESTINATION_INVALID",
    ],
    ["a URL with a query", answer({ URL: `https://b.example/x?key=${SECRET}` }), "DESTINATION_INVALID"],
    ["a URL with user info", answer({ URL: `https://u:${SECRET}@b.example/` }), "DESTINATION_INVALID"],
    ["a relative URL", answer({ URL: "/api" }), "DESTINATION_INVALID"],
    ["no URL", answer({ URL: undefined }), "DESTINATION_INVALID"],
    [
      "an auth token error",
      answer({ Authentication: "OAuth2ClientCredentials" }, [
        { type: "", value: "", error: `failed for ${SECRET}` },
      ]),
      "DESTINATION_AUTH_FAILED",
    ],
    ["no auth token", answer({ Authentication: "OAuth2ClientCredentials" }), "DESTINATION_AUTH_FAILED"],
    [
      "Basic without a password",
      answer({ Authentication: "BasicAuthentication", User: "u" }),
      "DESTINATION_INVALID",
    ],
    ["not an answer", [SECRET], "DESTINATION_INVALID"],
    ["null", null, "DESTINATION_INVALID"],
  ];
  it.each(refusals)("refuses %s with a stable code and a reason without values", (_, input, code) => {
    const r = resolveAnswer("d", input, false);
    expect(r).toMatchObject({ ok: false, code });
    if (!r.ok) {
      expect(r.reason).not.toContain(SECRET);
      expect(r.reason.length).toBeGreaterThan(10);
    }
  });

  it("says why OnPremise cannot work at the edge", () => {
    const r = resolveAnswer("d", answer({ ProxyType: "OnPremise" }), false);
    expect(!r.ok && r.reason).toMatch(/Cloud Connector.*connectivity service.*edge/);
  });
});

describe("RefreshingCache", () => {
  /** A load that finishes only when released. */
  function gatedLoad(value: string) {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let calls = 0;
    const load = async (): Promise<Loaded<string>> => {
      calls++;
      await gate;
      return { value, keep: { freshMs: 100, usableMs: 200 } };
    };
    return { load, release: () => release(), calls: () => calls };
  }

  function harness() {
    let now = 1_000;
    const background: Promise<unknown>[] = [];
    const cache = new RefreshingCache<string>({ now: () => now, maxEntries: 3, retryAfterMs: 1_000 });
    let loads = 0;
    const load =
      (value: string, keep = true) =>
      async (): Promise<Loaded<string>> => {
        loads++;
        return keep ? { value, keep: { freshMs: 100, usableMs: 200 } } : { value };
      };
    return {
      cache,
      load,
      loads: () => loads,
      advance: (ms: number) => (now += ms),
      waitUntil: (p: Promise<unknown>) => background.push(p),
      settle: () => Promise.all(background.splice(0)),
      pending: () => background.length,
    };
  }

  it("serves a fresh entry without loading", async () => {
    const h = harness();
    expect(await h.cache.get("k", h.load("a"), h.waitUntil)).toBe("a");
    h.advance(99);
    expect(await h.cache.get("k", h.load("b"), h.waitUntil)).toBe("a");
    expect(h.loads()).toBe(1);
    expect(h.pending()).toBe(0);
  });

  it("serves a stale entry and refreshes it in the background, once", async () => {
    const h = harness();
    await h.cache.get("k", h.load("a"), h.waitUntil);
    h.advance(150);
    const refresh = gatedLoad("b");
    expect(await h.cache.get("k", refresh.load, h.waitUntil)).toBe("a");
    expect(await h.cache.get("k", refresh.load, h.waitUntil)).toBe("a");
    expect(h.pending()).toBe(1);
    refresh.release();
    await h.settle();
    expect(await h.cache.get("k", h.load("c"), h.waitUntil)).toBe("b");
    expect(refresh.calls()).toBe(1);
    expect(h.loads()).toBe(1);
  });

  it("waits for the load once an entry is past usable", async () => {
    const h = harness();
    await h.cache.get("k", h.load("a"), h.waitUntil);
    h.advance(200);
    expect(await h.cache.get("k", h.load("b"), h.waitUntil)).toBe("b");
    expect(h.pending()).toBe(0);
  });

  it("one load for concurrent callers", async () => {
    const h = harness();
    const slow = gatedLoad("x");
    const all = Promise.all([
      h.cache.get("k", slow.load, h.waitUntil),
      h.cache.get("k", slow.load, h.waitUntil),
      h.cache.get("k", slow.load, h.waitUntil),
    ]);
    slow.release();
    expect(await all).toEqual(["x", "x", "x"]);
    expect(slow.calls()).toBe(1);
  });

  it("a failed background refresh keeps the old entry and pauses refreshes", async () => {
    const h = harness();
    await h.cache.get("k", h.load("a"), h.waitUntil);
    h.advance(120);
    expect(await h.cache.get("k", h.load("down", false), h.waitUntil)).toBe("a");
    await h.settle();
    expect(await h.cache.get("k", h.load("down", false), h.waitUntil)).toBe("a");
    expect(h.pending()).toBe(0); // paused for retryAfterMs
    expect(h.loads()).toBe(2);
  });

  it("a result not to keep is returned but not stored", async () => {
    const h = harness();
    expect(await h.cache.get("k", h.load("down", false), h.waitUntil)).toBe("down");
    expect(await h.cache.get("k", h.load("up"), h.waitUntil)).toBe("up");
    expect(h.loads()).toBe(2);
  });

  it("a failure is kept briefly only where there is no usable entry", async () => {
    const h = harness();
    const failed = async (): Promise<Loaded<string>> => ({
      value: "down",
      keepIfNone: { freshMs: 50, usableMs: 50 },
    });
    expect(await h.cache.get("new", failed, h.waitUntil)).toBe("down");
    expect(await h.cache.get("new", h.load("up"), h.waitUntil)).toBe("down");
    h.advance(50);
    expect(await h.cache.get("new", h.load("up"), h.waitUntil)).toBe("up");
    // Over a usable entry (background refresh) the failure is not kept.
    h.advance(150);
    expect(await h.cache.get("new", failed, h.waitUntil)).toBe("up");
    await h.settle();
    expect(await h.cache.get("new", failed, h.waitUntil)).toBe("up");
  });

  it("drops the least recently used entry beyond its bound", async () => {
    const h = harness();
    for (const k of ["a", "b", "c"]) await h.cache.get(k, h.load(k), h.waitUntil);
    await h.cache.get("a", h.load("a2"), h.waitUntil); // a is now the most recent
    await h.cache.get("d", h.load("d"), h.waitUntil);
    expect(h.cache.size).toBe(3);
    expect(await h.cache.get("b", h.load("b2"), h.waitUntil)).toBe("b2");
    expect(await h.cache.get("a", h.load("a3"), h.waitUntil)).toBe("a");
  });
});

describe("parseDestinationService: the binding in VCAP_SERVICES", () => {
  const credentials = {
    uri: "https://destination-configuration.cfapps.eu10.hana.ondemand.com",
    url: "https://sub.authentication.eu10.hana.ondemand.com/",
    clientid: "sb-x",
    clientsecret: SECRET,
    xsappname: "x",
    tenantid: "t",
  };
  const parse = (services: unknown) => parseDestinationService(parseVcapServices(JSON.stringify(services)));

  it("none bound: no binding, no problem", () => {
    expect(parse({ xsuaa: [] })).toEqual({ problems: [] });
  });

  it("reads the credentials (label or tag)", () => {
    const byLabel = parse({ destination: [{ name: "dest", credentials }] });
    expect(byLabel).toEqual({
      problems: [],
      binding: {
        name: "dest",
        uri: credentials.uri,
        tokenUrl: "https://sub.authentication.eu10.hana.ondemand.com/oauth/token",
        clientId: "sb-x",
        clientSecret: SECRET,
        xsappname: "x",
        tenantId: "t",
      },
    });
    expect(parse({ "user-provided": [{ name: "d", tags: ["destination"], credentials }] }).binding?.uri).toBe(
      credentials.uri,
    );
  });

  const bad: [string, unknown, string[]][] = [
    [
      "no client secret",
      { destination: [{ credentials: { ...credentials, clientsecret: undefined } }] },
      ["VCAP_SERVICES.destination[0].credentials.clientsecret: missing required property"],
    ],
    [
      "X.509 credentials",
      {
        destination: [
          {
            credentials: { ...credentials, clientsecret: undefined, certificate: "-----BEGIN", key: SECRET },
          },
        ],
      },
      [
        "VCAP_SERVICES.destination[0].credentials.clientsecret: X.509 credentials (certificate/key) are not supported at the edge: bind the service with credential-type binding-secret",
      ],
    ],
    [
      "plain http off loopback",
      { destination: [{ credentials: { ...credentials, uri: "http://dest.example" } }] },
      ["VCAP_SERVICES.destination[0].credentials.uri: must be an absolute https URL (http only on loopback)"],
    ],
    [
      "no uri",
      { destination: [{ credentials: { ...credentials, uri: undefined } }] },
      ["VCAP_SERVICES.destination[0].credentials.uri: missing required property"],
    ],
    [
      "two bindings",
      { destination: [{ credentials }, { credentials }] },
      ["VCAP_SERVICES.destination[1]: more than one destination service binding (one is supported)"],
    ],
  ];
  it.each(bad)("reports %s by its path, without the secret", (_, services, problems) => {
    const result = parse(services);
    expect(result.binding).toBeUndefined();
    expect(result.problems.map((p) => `${p.path}: ${p.message}`)).toEqual(problems);
    expect(JSON.stringify(result.problems)).not.toContain(SECRET);
  });

  it("with the service bound, routes may name destinations the variable does not have; without it they may not", () => {
    const xsApp = {
      routes: [
        { source: "^/s/(.*)$", target: "/$1", destination: "from-service", authenticationType: "none" },
      ],
    };
    const bound = loadConfig(
      { VCAP_SERVICES: JSON.stringify({ destination: [{ name: "dest", credentials }] }) } as Env,
      xsApp,
    );
    expect(bound.ok ? [] : formatProblems(bound.problems)).toEqual([]);
    expect(bound.ok && bound.config.destinationService?.uri).toBe(credentials.uri);
    // The start-up log says the service is bound, without its credentials.
    const summary = JSON.stringify(bound.ok && redactedSummary(bound.config));
    expect(summary).toContain(
      '"destinationService":{"uri":"https://destination-configuration.cfapps.eu10.hana.ondemand.com"}',
    );
    expect(summary).not.toContain(SECRET);
    const unbound = loadConfig({} as Env, xsApp);
    expect(unbound.ok).toBe(false);
    expect(!unbound.ok && formatProblems(unbound.problems)).toContain(
      'xs-app.json.routes[0].destination: unknown destination "from-service"',
    );
  });
});

describe("destination extras on the upstream request", () => {
  const destination: Destination = {
    name: "d",
    url: "https://b.example",
    forwardAuthToken: false,
    timeoutMs: 1,
    setXForwardedHeaders: true,
    headers: [{ name: "sap-client", value: "100" }],
    defaultHeaders: [
      { name: "X-Api-Key", value: "k" },
      { name: "X-Tenant", value: "t" },
    ],
    queries: [
      { name: "api version", value: "2&3" },
      { name: "mode", value: "d" },
    ],
  };

  it("headers: fixed ones replace the client's, URL.headers.* only where the client sent none (any case)", () => {
    const incoming = new Headers({ "SAP-Client": "999", "x-tenant": "mine" });
    const headers = new Headers(incoming);
    applyDestinationHeaders(headers, incoming, destination);
    expect(Object.fromEntries(headers)).toEqual({
      "sap-client": "100",
      "x-api-key": "k",
      "x-tenant": "mine",
    });
  });

  it("headers: a client header the router drops (its own CSRF token) counts as not sent", () => {
    const incoming = new Headers({ "x-csrf-token": "mine" });
    const headers = new Headers(incoming);
    headers.delete("x-csrf-token");
    const withDefault = { ...destination, defaultHeaders: [{ name: "X-CSRF-Token", value: "backend's" }] };
    applyDestinationHeaders(headers, incoming, withDefault, "x-csrf-token");
    expect(headers.get("x-csrf-token")).toBe("backend's");
    const kept = new Headers(incoming);
    applyDestinationHeaders(kept, incoming, withDefault);
    expect(kept.get("x-csrf-token")).toBe("mine");
  });

  it("queries: appended, encoded, unless the request has the parameter", () => {
    expect(withDestinationQueries("https://b.example/x", destination)).toBe(
      "https://b.example/x?api%20version=2%263&mode=d",
    );
    expect(withDestinationQueries("https://b.example/x?mode=mine&a=1", destination)).toBe(
      "https://b.example/x?mode=mine&a=1&api%20version=2%263",
    );
    expect(
      withDestinationQueries("https://b.example/x?", {
        ...destination,
        queries: [{ name: "a", value: "b" }],
      }),
    ).toBe("https://b.example/x?&a=b");
    expect(withDestinationQueries("https://b.example/x?q=1", { ...destination, queries: undefined })).toBe(
      "https://b.example/x?q=1",
    );
  });
});

describe("createDestinationResolver: logs and pages", () => {
  const binding: DestinationServiceBinding = {
    uri: "https://dest.example",
    tokenUrl: "https://uaa.example/oauth/token",
    clientId: "c",
    clientSecret: SECRET,
  };

  /** A stand-in destination service: token endpoint and find destination, answering `answers[name]`. */
  function service(answers: Record<string, unknown>) {
    const calls: string[] = [];
    const fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
      const request = new Request(input, init);
      const url = new URL(request.url);
      calls.push(url.pathname);
      if (url.pathname === "/oauth/token") {
        return Response.json({ access_token: TOKEN, token_type: "bearer", expires_in: 3600 });
      }
      if (request.headers.get("authorization") !== `Bearer ${TOKEN}`)
        return new Response("{}", { status: 401 });
      const name = decodeURIComponent(url.pathname.split("/").at(-1)!);
      return name in answers
        ? Response.json(answers[name])
        : Response.json({ ErrorMessage: "not found" }, { status: 404 });
    }) as typeof globalThis.fetch;
    return { fetch, calls };
  }

  function resolver(answers: Record<string, unknown>, variable = new Map<string, Destination>()) {
    const lines: string[] = [];
    const { fetch, calls } = service(answers);
    const resolve = createDestinationResolver({
      variable,
      service: binding,
      fetch,
      now: Date.now,
      log: (event, fields) => lines.push(JSON.stringify({ event, ...fields })),
    });
    const context = { userToken: async () => undefined, waitUntil: () => {} };
    return { resolve: (name: string) => resolve(name, context), lines, calls };
  }

  it("OnPremise: a 502 page with the code, one log line that says why, no secret anywhere", async () => {
    const r = resolver({
      erp: answer(
        { ProxyType: "OnPremise", Authentication: "BasicAuthentication", User: "u", Password: SECRET },
        [{ type: "Basic", value: SECRET }],
      ),
    });
    const found = await r.resolve("erp");
    expect(found.ok).toBe(false);
    if (found.ok) return;
    expect(found.response.status).toBe(502);
    const body = await found.response.text();
    expect(body).toContain("DESTINATION_ON_PREMISE_NOT_SUPPORTED");
    expect(r.lines).toHaveLength(1);
    expect(JSON.parse(r.lines[0]!)).toMatchObject({
      event: "destination.refused.error",
      destination: "erp",
      code: "DESTINATION_ON_PREMISE_NOT_SUPPORTED",
    });
    expect(r.lines[0]).toContain("Cloud Connector");
    for (const text of [body, ...r.lines]) {
      expect(text).not.toContain(SECRET);
      expect(text).not.toContain(TOKEN);
    }
    // Refusals are cached: no new lookup, no new log line.
    expect((await r.resolve("erp")).ok).toBe(false);
    expect(r.calls.filter((p) => p.includes("/destinations/"))).toHaveLength(1);
    expect(r.lines).toHaveLength(1);
  });

  it("the variable wins: no call to the service", async () => {
    const fixed: Destination = {
      name: "d",
      url: "https://fixed.example",
      forwardAuthToken: false,
      timeoutMs: 1,
      setXForwardedHeaders: true,
    };
    const r = resolver({ d: answer({}) }, new Map([["d", fixed]]));
    expect(await r.resolve("d")).toEqual({ ok: true, destination: fixed });
    expect(r.calls).toEqual([]);
  });

  it("PreserveHostHeader is served and reported once (a Worker cannot set Host)", async () => {
    const r = resolver({ h: answer({ "HTML5.PreserveHostHeader": "true" }) });
    expect((await r.resolve("h")).ok).toBe(true);
    expect(r.lines.map((l) => JSON.parse(l).event)).toEqual(["destination.preserve_host.warn"]);
    expect(JSON.parse(r.lines[0]!).reason).toContain("the backend gets X-Forwarded-Host");
    // Without X-Forwarded-Host as well, the warning does not claim the backend gets it.
    const none = resolver({
      h: answer({ "HTML5.PreserveHostHeader": "true", "HTML5.SetXForwardedHeaders": "false" }),
    });
    expect((await none.resolve("h")).ok).toBe(true);
    expect(JSON.parse(none.lines[0]!).reason).toContain("does not learn the router's host");
  });

  it("without the service, an unknown name is a 500 (start-up validation prevents it)", async () => {
    const resolve = createDestinationResolver({ variable: new Map(), fetch, now: Date.now, log: () => {} });
    const found = await resolve("x", { userToken: async () => undefined, waitUntil: () => {} });
    expect(!found.ok && found.response.status).toBe(500);
  });

  it("logoutPath of a service destination: looked up and called with its authentication, sap-client and queries", async () => {
    const fixed: Destination = {
      name: "fixed",
      url: "https://f.example",
      forwardAuthToken: false,
      timeoutMs: 1000,
      setXForwardedHeaders: true,
    };
    const stand = service({
      "from-service": answer({
        URL: "https://svc.example/api",
        Authentication: "BasicAuthentication",
        User: "u",
        Password: "p",
        "sap-client": "100",
        "URL.queries.q": "1",
      }),
    });
    const sent: Request[] = [];
    const fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
      const request = new Request(input, init);
      if (/^https:\/\/(svc|f)\.example\//.test(request.url)) {
        sent.push(request);
        return new Response(null, { status: 204 });
      }
      return stand.fetch(input, init);
    }) as typeof globalThis.fetch;
    const variable = new Map([["fixed", fixed]]);
    const lines: unknown[] = [];
    const resolve = createDestinationResolver({
      variable,
      service: binding,
      fetch,
      now: Date.now,
      log: (event) => lines.push(event),
    });
    const xsApp = {
      destinations: new Map([
        ["fixed", { logoutPath: "/logout", logoutMethod: "POST" }],
        ["from-service", { logoutPath: "/bye", logoutMethod: "GET" }],
        ["gone", { logoutPath: "/bye", logoutMethod: "POST" }],
        ["no-path", { logoutMethod: "POST" }],
      ]),
    } as unknown as XsAppConfig;
    const record: SessionRecord = { v: 1, iat: 0, exp: Date.now() + 60_000, data: {} };
    await callBackendLogouts(record, {
      xsApp,
      destinations: variable,
      lookup: logoutDestinationLookup(resolve),
      fetch,
    });
    const seen = sent
      .map((r) => [r.method, r.url, r.headers.get("authorization"), r.headers.get("sap-client")])
      .sort((a, b) => String(a[1]).localeCompare(String(b[1])));
    expect(seen).toEqual([
      ["POST", "https://f.example/logout", null, null],
      ["GET", "https://svc.example/api/bye?q=1", "Basic dTpw", "100"],
    ]);
    // The unknown one is looked up, logged, and not called.
    expect(stand.calls.filter((p) => p.includes("/destinations/"))).toHaveLength(2);
    expect(lines).toEqual(["destination.not_found.warn"]);
  });
});
