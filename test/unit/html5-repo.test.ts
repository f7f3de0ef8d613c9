import { describe, expect, it } from "vitest";
import { loadConfig, redactedSummary } from "../../src/config/index.js";
import type { RouteConfig, RouterConfig } from "../../src/config/types.js";
import { parseVcapServices } from "../../src/config/vcap.js";
import { isDirectRouted, parseAppKey, splitAppPath } from "../../src/html5/app-key.js";
import {
  parseDirectRoutingUriPatterns,
  parseHtml5Repo,
  parseOwnSapCloudService,
} from "../../src/html5/binding.js";
import { createHtml5Router, type AppSelection } from "../../src/html5/index.js";
import { html5RuntimeBinding } from "../support/html5-binding.js";

const SECRET = "s3cret-VALUE-never-shown";
const TOKEN = "token-VALUE-never-logged";
const URI = "https://html5-apps-repo-rt.cfapps.eu10.hana.ondemand.com/applications/content";
const UAA = "https://sub.authentication.eu10.hana.ondemand.com";

const runtimeBinding = (credentials: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) =>
  html5RuntimeBinding({ uri: URI, uaaUrl: UAA, secret: SECRET }, credentials, extra);

describe("parseAppKey: SAP's app key from the first path segment", () => {
  it.each([
    ["books", { appNameWithoutPrefix: "books", appKeyWithoutPrefix: "books" }],
    ["books-1.0.0", { appName: "books", appVersion: "1.0.0", appKeyWithoutPrefix: "books-1.0.0" }],
    [
      "my_app 2-10.20.30",
      { appName: "my_app 2", appVersion: "10.20.30", appKeyWithoutPrefix: "my_app 2-10.20.30" },
    ],
    [
      "comsapbs.books-1.2.3",
      {
        appPrefix: "comsapbs",
        appNameWithoutPrefix: "books",
        appVersion: "1.2.3",
        appKeyWithoutPrefix: "books-1.2.3",
      },
    ],
    ["a.b.c", { appPrefix: "a", appNameWithoutPrefix: "b" }],
    // Not a version: SAP reads the dot as a prefix separator (the router then routes centrally).
    ["books-1.0", { appPrefix: "books-1", appNameWithoutPrefix: "0" }],
  ])("%s", (segment, expected) => {
    expect(parseAppKey(segment)).toMatchObject({ entireKey: segment, ...expected });
  });

  it.each(["", "favicon.ico", "login", "user-api", "books-1", "a.", "b%C3%BCcher", "x?y=1"])(
    "%j is no app key",
    (segment) => {
      expect(parseAppKey(segment)).toBeNull();
    },
  );

  it("OWN_SAP_CLOUD_SERVICE: <appHostId>.<own service>.<app> names the app after the service (SAP's unique URL)", () => {
    expect(parseAppKey("0a1b2c.comsapbooks.books-1.0.0", ["comsapbooks"])).toMatchObject({
      appPrefix: "comsapbooks",
      appNameWithoutPrefix: "books",
      appKeyWithoutPrefix: "books-1.0.0",
    });
    expect(parseAppKey("0a1b2c.comsapbooks.books-1.0.0")).toMatchObject({
      appPrefix: "0a1b2c",
      appNameWithoutPrefix: "comsapbooks",
    });
    expect(parseOwnSapCloudService('["com.sap.books", "other", "..."]')).toEqual({
      ok: true,
      value: ["comsapbooks", "other"],
    });
    expect(parseOwnSapCloudService(undefined)).toEqual({ ok: true, value: [] });
    expect(parseOwnSapCloudService("[]")).toEqual({
      ok: false,
      problems: [{ path: "OWN_SAP_CLOUD_SERVICE", message: "must not be empty" }],
    });
    expect(parseOwnSapCloudService('["a", 3]')).toEqual({
      ok: false,
      problems: [{ path: "OWN_SAP_CLOUD_SERVICE[1]", message: "must be a string" }],
    });
  });

  it("DIRECT_ROUTING_URI_PATTERNS: entries match a first segment as they are or as regular expressions (SAP)", () => {
    const parsed = parseDirectRoutingUriPatterns('["central", "^odata", "v[0-9]$", "a.b"]');
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
    const patterns = parsed.value;
    expect(patterns.map((p) => p.text)).toEqual(["central", "^odata", "v[0-9]$", "a.b"]);
    for (const segment of ["central", "mycentral2", "odata", "odata_v4", "apiv2", "a.b", "axb"])
      expect(isDirectRouted(segment, patterns), segment).toBe(true);
    // Case-sensitive, as SAP builds the expressions; `^` anchors.
    for (const segment of ["Central", "my_odata", "v2x", "books", "ab"])
      expect(isDirectRouted(segment, patterns), segment).toBe(false);
    expect(isDirectRouted("central", [])).toBe(false);
    expect(parseDirectRoutingUriPatterns(undefined)).toEqual({ ok: true, value: [] });
    expect(parseDirectRoutingUriPatterns("")).toEqual({ ok: true, value: [] });
  });

  it.each([
    ["[]", "DIRECT_ROUTING_URI_PATTERNS", "must not be empty"],
    [
      '"central"',
      "DIRECT_ROUTING_URI_PATTERNS",
      "must be an array of first path segments or regular expressions",
    ],
    [
      '["ok", 3]',
      "DIRECT_ROUTING_URI_PATTERNS[1]",
      "must be a string (a first path segment or a regular expression)",
    ],
    ['["ok", ""]', "DIRECT_ROUTING_URI_PATTERNS[1]", "must not be empty"],
    ['["ok", "(unclosed"]', "DIRECT_ROUTING_URI_PATTERNS[1]", "invalid regular expression"],
    ["[central]", "DIRECT_ROUTING_URI_PATTERNS", "must be valid JSON"],
  ])("DIRECT_ROUTING_URI_PATTERNS %s: a start-up problem at %s", (raw, path, message) => {
    const parsed = parseDirectRoutingUriPatterns(raw);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.problems).toEqual([{ path, message: expect.stringContaining(message) }]);
  });

  it("splitAppPath: the path in the app, without the cache buster (second segment only)", () => {
    expect(splitAppPath("/books/~1733~/a/b.js")).toMatchObject({
      path: "/a/b.js",
      cacheBuster: "~1733~",
      key: { entireKey: "books" },
    });
    expect(splitAppPath("/books")).toMatchObject({ path: "/" });
    expect(splitAppPath("/books/")).toMatchObject({ path: "/" });
    expect(splitAppPath("/books/~1~")).toMatchObject({ path: "/", cacheBuster: "~1~" });
    const later = splitAppPath("/books/x/~1~/y");
    expect(later).toMatchObject({ path: "/x/~1~/y" });
    expect(later?.cacheBuster).toBeUndefined();
    expect(splitAppPath("/")).toBeNull();
    expect(splitAppPath("/index.html")?.key.appPrefix).toBe("index");
  });
});

describe("parseHtml5Repo: the app-runtime binding in VCAP_SERVICES", () => {
  const parse = (services: unknown) => parseHtml5Repo(parseVcapServices(JSON.stringify(services)));

  it("none bound, or only an app-host instance: no binding, no problem", () => {
    expect(parse({ xsuaa: [] })).toEqual({ problems: [] });
    expect(
      parse({
        "html5-apps-repo": [
          { label: "html5-apps-repo", plan: "app-host", tags: ["html5-apps-repo-dt"], credentials: {} },
        ],
      }),
    ).toEqual({ problems: [] });
  });

  it("found by label and plan, tag or sap.cloud.service", () => {
    const expected = {
      problems: [],
      binding: {
        name: "html5-rt",
        uri: URI,
        tokenUrl: `${UAA}/oauth/token`,
        clientId: "sb-html5",
        clientSecret: SECRET,
      },
    };
    expect(parse({ "html5-apps-repo": [runtimeBinding()] })).toEqual(expected);
    expect(
      parse({ "user-provided": [runtimeBinding({}, { label: "user-provided", plan: undefined })] }),
    ).toEqual(expected);
    expect(parse({ other: [runtimeBinding({}, { label: "other", plan: undefined, tags: [] })] })).toEqual(
      expected,
    );
  });

  it("every problem by JSON path, never with a value", () => {
    const result = parse({
      "html5-apps-repo": [
        runtimeBinding({
          uri: "http://repo.example/applications/content",
          grant_type: "password",
          uaa: { url: UAA, clientid: "" },
        }),
      ],
    });
    const base = "VCAP_SERVICES.html5-apps-repo[0].credentials";
    expect(result.problems).toEqual([
      { path: `${base}.uri`, message: "must be an absolute https URL (http only on loopback)" },
      { path: `${base}.grant_type`, message: 'must be "client_credentials"' },
      { path: `${base}.uaa.clientid`, message: "must not be empty" },
      { path: `${base}.uaa.clientsecret`, message: "missing required property" },
    ]);
    const x509 = parse({
      "html5-apps-repo": [
        runtimeBinding({ uaa: { url: UAA, clientid: "c", certificate: "-----BEGIN", key: SECRET } }),
      ],
    });
    expect(x509.problems).toEqual([
      { path: `${base}.uaa.clientsecret`, message: expect.stringContaining("X.509") },
    ]);
    expect(JSON.stringify([result, x509])).not.toContain(SECRET);
  });

  it("two runtime bindings: a problem at the second", () => {
    const result = parse({ "html5-apps-repo": [runtimeBinding(), runtimeBinding()] });
    expect(result.problems).toEqual([
      { path: "VCAP_SERVICES.html5-apps-repo[1]", message: expect.stringContaining("more than one") },
    ]);
  });
});

const CENTRAL = {
  routes: [{ source: "^(.*)$", target: "$1", service: "html5-apps-repo-rt", authenticationType: "none" }],
};

function configWith(
  vcap: Record<string, unknown>,
  xsApp: unknown = CENTRAL,
  env: Record<string, string> = {},
) {
  return loadConfig(
    {
      VCAP_SERVICES: JSON.stringify(vcap),
      destinations: JSON.stringify([{ name: "backend", url: "https://backend.example" }]),
      ...env,
    } as never,
    xsApp,
  );
}

describe("html5-apps-repo-rt routes in the configuration", () => {
  it("refused at start-up without the binding, with what to bind", () => {
    const result = configWith({});
    expect(result.ok).toBe(false);
    if (!result.ok)
      expect(result.problems).toEqual([
        {
          path: "xs-app.json.routes[0].service",
          message: expect.stringContaining("html5-apps-repo, plan app-runtime"),
        },
      ]);
  });

  it("accepted with the binding; the start-up summary names the repository's origin only", () => {
    const result = configWith({ "html5-apps-repo": [runtimeBinding()] });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.config.xsApp.routes[0]!.service).toBe("html5-apps-repo-rt");
    const summary = JSON.stringify(redactedSummary(result.config));
    expect(summary).toContain(
      '"html5Repo":{"uri":"https://html5-apps-repo-rt.cfapps.eu10.hana.ondemand.com"}',
    );
    expect(summary).not.toContain(SECRET);
  });

  it("other services stay refused", () => {
    const result = configWith(
      { "html5-apps-repo": [runtimeBinding()] },
      { routes: [{ source: "^/x", service: "com.sap.bs" }] },
    );
    expect(result.ok).toBe(false);
    if (!result.ok)
      expect(result.problems[0]).toEqual({
        path: "xs-app.json.routes[0].service",
        message: "not supported at the edge",
      });
  });
});

/** A repository behind a fake fetch: token endpoint and runtime API, every call recorded. */
function fakeRepo(answers: Record<string, () => Response>) {
  const calls: { url: string; authorization: string | null; method: string }[] = [];
  /** The headers of each call, in the same order. */
  const sent: Headers[] = [];
  const fetchImpl = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = String(input instanceof Request ? input.url : input);
    const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined));
    calls.push({ url, authorization: headers.get("authorization"), method: init?.method ?? "GET" });
    sent.push(headers);
    if (url === `${UAA}/oauth/token`)
      return Response.json({ access_token: TOKEN, token_type: "bearer", expires_in: 3600 });
    const answer = answers[url.slice(URI.length)];
    return answer ? answer() : new Response("nope", { status: 404 });
  }) as typeof fetch;
  return { fetch: fetchImpl, calls, sent };
}

function routerWith(
  answers: Record<string, () => Response>,
  vcap: Record<string, unknown> = {},
  env: Record<string, string> = {},
) {
  const loaded = configWith({ "html5-apps-repo": [runtimeBinding()], ...vcap }, CENTRAL, env);
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
  const config: RouterConfig = loaded.config;
  const repo = fakeRepo(answers);
  const logs: { event: string; fields?: Record<string, unknown> }[] = [];
  const router = createHtml5Router({
    binding: config.html5Repo!,
    config,
    fetch: repo.fetch,
    now: Date.now,
    log: (event, fields) => logs.push({ event, ...(fields && { fields }) }),
  });
  return { router, repo, logs };
}

const xsApp = (body: unknown) => () => Response.json(body);
const request = (path: string, init?: RequestInit) => new Request(`https://router.test${path}`, init);
const noWait = () => {};
const html5Route = (extra: Partial<RouteConfig> = {}): RouteConfig => ({
  source: /^(.*)$/,
  destination: "",
  authenticationType: "none",
  csrfProtection: false,
  service: "html5-apps-repo-rt",
  ...extra,
});

describe("createHtml5Router: choosing the routes and serving files", () => {
  const APP = {
    routes: [{ source: "^(.*)$", target: "$1", service: "html5-apps-repo-rt", authenticationType: "none" }],
  };

  it("one xs-app.json call for concurrent requests (single flight), with the binding's token", async () => {
    const { router, repo } = routerWith({ "/books/xs-app.json": xsApp(APP) });
    const selections = await Promise.all(
      Array.from({ length: 5 }, () => router.select(request("/books/index.html"), noWait)),
    );
    expect(selections.every((s) => s.kind === "app" && s.pathname === "/index.html")).toBe(true);
    expect(repo.calls.filter((c) => c.url.endsWith("/xs-app.json"))).toEqual([
      { url: `${URI}/books/xs-app.json`, authorization: `Bearer ${TOKEN}`, method: "GET" },
    ]);
    expect(router.calls).toEqual({ token: 1, xsApp: 1, file: 0 });
  });

  it("no app key, or a prefixed one (no business service bound): central routing without a call", async () => {
    const { router, repo } = routerWith({});
    for (const path of [
      "/",
      "/index.html",
      "/user-api/currentUser",
      "/comsapbs.books/index.html",
      "/favicon.ico",
      "/a%2Fb/x",
    ]) {
      expect(await router.select(request(path), noWait)).toEqual({ kind: "central" });
    }
    expect(repo.calls).toEqual([]);
  });

  it("an own sap.cloud.service prefix (OWN_SAP_CLOUD_SERVICE) serves the app from the repository; files below the app name", async () => {
    const { router, repo } = routerWith(
      { "/books/xs-app.json": xsApp(APP), "/books/a.js": () => new Response("js") },
      {},
      { OWN_SAP_CLOUD_SERVICE: '["com.sap.books"]' },
    );
    const selection = await router.select(request("/comsapbooks.books/a.js"), noWait);
    expect(selection).toMatchObject({
      kind: "app",
      pathname: "/a.js",
      key: { appPrefix: "comsapbooks", appKeyWithoutPrefix: "books" },
    });
    expect(
      await (await router.serve(request("/comsapbooks.books/a.js"), html5Route(), "/a.js", selection)).text(),
    ).toBe("js");
    expect(repo.calls.map((c) => c.url).filter((u) => u.startsWith(URI))).toEqual([
      `${URI}/books/xs-app.json`,
      `${URI}/books/a.js`,
    ]);
    expect(await router.select(request("/otherservice.books/a.js"), noWait)).toEqual({ kind: "central" });
  });

  it("DIRECT_ROUTING_URI_PATTERNS: matching first segments route centrally without a call; others still reach the repository", async () => {
    const { router, repo } = routerWith(
      { "/books/xs-app.json": xsApp(APP) },
      {},
      { DIRECT_ROUTING_URI_PATTERNS: '["central", "^odata"]' },
    );
    for (const path of ["/central/ping", "/odata_v4/Books", "/odata/~1~/x"])
      expect(await router.select(request(path), noWait), path).toEqual({ kind: "central" });
    expect(repo.calls).toEqual([]);
    expect(await router.select(request("/books/index.html"), noWait)).toMatchObject({ kind: "app" });
    expect(router.calls.xsApp).toBe(1);
  });

  it("DIRECT_ROUTING_URI_PATTERNS that are not valid: the configuration names the entry", () => {
    const loaded = configWith({ "html5-apps-repo": [runtimeBinding()] }, CENTRAL, {
      DIRECT_ROUTING_URI_PATTERNS: '["central", "[a-"]',
    });
    expect(loaded.ok).toBe(false);
    if (!loaded.ok)
      expect(loaded.problems).toEqual([
        { path: "DIRECT_ROUTING_URI_PATTERNS[1]", message: "invalid regular expression" },
      ]);
  });

  it("an app the repository does not have (503): central routing, and html5 routes answer 404 without a file call", async () => {
    const { router, repo } = routerWith({ "/ghost/xs-app.json": () => new Response("no", { status: 503 }) });
    const selection = await router.select(request("/ghost/index.html"), noWait);
    expect(selection).toMatchObject({ kind: "central", missingApp: { entireKey: "ghost" } });
    const res = await router.serve(
      request("/ghost/index.html"),
      html5Route(),
      "/ghost/index.html",
      selection,
    );
    expect(res.status).toBe(404);
    expect(res.headers.get("x-approuter-error")).toBe("HTML5_APP_NOT_FOUND");
    expect(repo.calls.filter((c) => !c.url.endsWith("/oauth/token"))).toHaveLength(1);
  });

  it("a broken app descriptor: 502 HTML5_APP_CONFIG_INVALID, problems logged by path, no secret", async () => {
    const { router, logs } = routerWith({
      "/nojson/xs-app.json": () => new Response("{", { status: 200 }),
      "/missing/xs-app.json": () => new Response("", { status: 404 }),
      "/local/xs-app.json": xsApp({
        routes: [{ source: "^/x", localDir: "web", authenticationType: "none" }],
      }),
      "/ias/xs-app.json": xsApp({
        routes: [{ source: "^/x", destination: "backend", authenticationType: "ias" }],
      }),
      "/unknown/xs-app.json": xsApp({ routes: [{ source: "^/x", destination: "nowhere" }] }),
    });
    for (const app of ["nojson", "missing", "local", "ias", "unknown"]) {
      const selection = await router.select(request(`/${app}/x`), noWait);
      expect(selection.kind).toBe("answer");
      const res = (selection as AppSelection & { kind: "answer" }).response;
      expect(res.status).toBe(502);
      expect(res.headers.get("x-approuter-error")).toBe("HTML5_APP_CONFIG_INVALID");
    }
    const problems = logs.filter((l) => l.event === "html5.app.invalid").map((l) => l.fields!.problems);
    expect(problems).toEqual([
      ["nojson/xs-app.json: is not valid JSON"],
      ["the app in the repository has no xs-app.json"],
      ["local/xs-app.json.routes[0].localDir: not supported in an app of the HTML5 application repository"],
      ['ias/xs-app.json.routes[0].authenticationType: needs a "identity" service binding in VCAP_SERVICES'],
      ['unknown/xs-app.json.routes[0].destination: unknown destination "nowhere"'],
    ]);
    expect(JSON.stringify(logs)).not.toContain(SECRET);
    expect(JSON.stringify(logs)).not.toContain(TOKEN);
  });

  it("serve: GET and HEAD only; the repository's path below the app key; the browser's cookies, Authorization and CSRF header stay behind", async () => {
    const { router, repo } = routerWith({
      "/books/xs-app.json": xsApp(APP),
      "/books/a.js?v=1": () => new Response("js", { headers: { "set-cookie": "x=1", etag: '"e"' } }),
    });
    const selection = await router.select(request("/books/a.js?v=1"), noWait);
    const post = await router.serve(
      request("/books/a.js", { method: "POST", body: "x" }),
      html5Route(),
      "/a.js",
      selection,
    );
    expect(post.status).toBe(405);
    expect(post.headers.get("allow")).toBe("GET, HEAD");
    const res = await router.serve(
      request("/books/a.js?v=1", {
        headers: {
          cookie: "JSESSIONID=s",
          authorization: "Bearer user",
          "if-none-match": '"e"',
          "x-csrf-token": "Fetch",
        },
      }),
      html5Route(),
      "/a.js?v=1",
      selection,
    );
    expect(await res.text()).toBe("js");
    expect(res.headers.get("set-cookie")).toBeNull();
    expect(res.headers.get("etag")).toBe('"e"');
    expect(repo.calls.at(-1)).toEqual({
      url: `${URI}/books/a.js?v=1`,
      authorization: `Bearer ${TOKEN}`,
      method: "GET",
    });
    // The conditional header passes; the router's CSRF header and the browser's cookies do not.
    expect(repo.sent.at(-1)!.get("if-none-match")).toBe('"e"');
    expect(repo.sent.at(-1)!.has("x-csrf-token")).toBe(false);
    expect(repo.sent.at(-1)!.has("cookie")).toBe(false);
  });

  it("serve: the repository refusing (403) is 502 HTML5_REPO_REFUSED; failing (5xx) is 503 HTML5_REPO_UNAVAILABLE; a 404 passes", async () => {
    const { router } = routerWith({
      "/books/xs-app.json": xsApp(APP),
      "/books/forbidden": () => new Response("no", { status: 403 }),
      "/books/broken": () => new Response("no", { status: 500 }),
    });
    const selection = await router.select(request("/books/x"), noWait);
    const cases: [string, number, string | null][] = [
      ["/forbidden", 502, "HTML5_REPO_REFUSED"],
      ["/broken", 503, "HTML5_REPO_UNAVAILABLE"],
      ["/absent", 404, null],
    ];
    for (const [target, status, code] of cases) {
      const res = await router.serve(request(`/books${target}`), html5Route(), target, selection);
      expect(res.status).toBe(status);
      expect(res.headers.get("x-approuter-error")).toBe(code);
    }
  });

  it("welcome file of the app: redirect under the app key; a CSRF token fetch gets it in place", async () => {
    const { router } = routerWith({ "/books/xs-app.json": xsApp({ ...APP, welcomeFile: "start.html" }) });
    const redirect = await router.select(request("/books/~1~/"), noWait);
    expect(redirect.kind).toBe("answer");
    expect((redirect as AppSelection & { kind: "answer" }).response.headers.get("location")).toBe(
      "/books/start.html",
    );
    const fetchToken = await router.select(
      request("/books", { headers: { "x-csrf-token": "Fetch" } }),
      noWait,
    );
    expect(fetchToken).toMatchObject({ kind: "app", pathname: "/start.html" });
  });
});
