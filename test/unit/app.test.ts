import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app.js";
import type { Authenticator } from "../../src/auth/types.js";
import { loadConfig } from "../../src/config/index.js";
import { runtimeAbortsRequestSignal } from "../../src/http/request-signal.js";
import type { Env } from "../../src/env.js";
import worker from "../../src/index.js";
import { SECRET_A } from "../support/secrets.js";
import { testSessionManager } from "../support/session-manager.js";
import { configWithXsuaa } from "../support/router-env.js";

const xsApp = {
  authenticationMethod: "route",
  routes: [
    { source: "^/public/(.*)$", target: "/$1", destination: "backend", authenticationType: "none" },
    {
      source: "^/open/(.*)$",
      target: "/$1",
      destination: "backend",
      authenticationType: "none",
      csrfProtection: false,
    },
    { source: "^/api/(.*)$", target: "/api/$1", destination: "backend", authenticationType: "xsuaa" },
    { source: "^/readonly/(.*)$", destination: "backend", authenticationType: "none", httpMethods: ["GET"] },
    { source: "^/bad\\?to=(.*)$", target: "/ok/$1", destination: "backend", authenticationType: "none" },
  ],
  logout: { logoutEndpoint: "/logout", logoutPage: "/bye.html", logoutMethod: "POST" },
};

function makeApp(authenticate?: Authenticator) {
  const config = configWithXsuaa(xsApp, "http://backend.test/base");
  const upstream: Request[] = [];
  const fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    upstream.push(request);
    return new Response(`backend saw ${new URL(request.url).pathname}`, {
      status: 200,
      headers: { "content-type": "text/plain" },
    });
  }) as typeof globalThis.fetch;
  const manager = testSessionManager({
    maxBytes: 1e6,
    idleTimeoutMs: config.session.idleTimeoutMs,
    absoluteTimeoutMs: config.session.absoluteTimeoutMs,
  });
  const app = createApp({ config, manager, fetch, log: () => {}, ...(authenticate ? { authenticate } : {}) });
  const request = (path: string, init?: RequestInit) => app.request(`https://router.test${path}`, init);
  return { app, manager, upstream, request };
}

/** A memory-only session manager for app tests. */
function memoryManager(idleTimeoutMs = 1e6, now: () => number = Date.now) {
  return testSessionManager({ maxEntries: 10, maxBytes: 1e6, idleTimeoutMs, now });
}

/** Validated configuration for `xsApp` with one destination "backend" at http://backend.test. */
function configOf(xsApp: unknown) {
  // Static assets are bound (their presence is checked with the configuration).
  const ASSETS = { fetch: async () => new Response(null, { status: 404 }) };
  const loaded = loadConfig(
    { destinations: JSON.stringify([{ name: "backend", url: "http://backend.test" }]), ASSETS } as Env,
    xsApp,
  );
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
  return loaded.config;
}

const cookieOf = (res: Response) =>
  res.headers
    .getSetCookie()
    .find((c) => c.startsWith("JSESSIONID="))
    ?.split(";")[0];

async function fetchToken(t: ReturnType<typeof makeApp>, cookie?: string) {
  const res = await t.request("/public/x", {
    headers: { "x-csrf-token": "fetch", ...(cookie ? { cookie } : {}) },
  });
  return { res, token: res.headers.get("x-csrf-token")!, cookie: cookieOf(res) };
}

describe("session cookie and CSRF token fetch", () => {
  it("creates a session on a token fetch with a host-only, HttpOnly, Secure, SameSite=Lax cookie", async () => {
    const t = makeApp();
    const { res, token } = await fetchToken(t);
    expect(res.status).toBe(200);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const [setCookie] = res.headers.getSetCookie();
    // A session that holds only its token lives in its cookie: id, creation time, MAC.
    expect(setCookie).toMatch(
      /^JSESSIONID=[A-Za-z0-9_-]{43}\.[0-9a-z]+\.[A-Za-z0-9_-]{22}; Path=\/; HttpOnly; Secure; SameSite=Lax$/,
    );
    expect(res.headers.get("cache-control")).toBe("no-store");
  });

  it("returns the same token for the life of the session, without a new cookie", async () => {
    const t = makeApp();
    const first = await fetchToken(t);
    const again = await fetchToken(t, first.cookie);
    expect(again.token).toBe(first.token);
    expect(again.cookie).toBeUndefined();
  });

  it("creates nothing for a request without a cookie that does not ask for a token", async () => {
    const t = makeApp();
    const res = await t.request("/public/page");
    expect(res.status).toBe(200);
    expect(res.headers.getSetCookie()).toEqual([]);
    expect(t.manager.metrics.created).toBe(0);
    expect(t.manager.memory.stats().entries).toBe(0);
  });

  it("ignores a cookie it did not issue and issues a new id", async () => {
    const t = makeApp();
    const forged = `JSESSIONID=${"A".repeat(43)}`;
    const { token, cookie } = await fetchToken(t, forged);
    expect(token).toBeTruthy();
    expect(cookie).toBeDefined();
    expect(cookie).not.toBe(forged);
  });

  it("never forwards the router's cookie; keeps other cookies; a public route passes the token header on (SAP)", async () => {
    const t = makeApp();
    const { cookie } = await fetchToken(t);
    await t.request("/public/y?q=1", { headers: { cookie: `a=1; ${cookie}; b=2`, "x-csrf-token": "fetch" } });
    const seen = t.upstream.at(-1)!;
    expect(new URL(seen.url).pathname + new URL(seen.url).search).toBe("/base/y?q=1");
    expect(seen.headers.get("cookie")).toBe("a=1; b=2");
    expect(seen.headers.get("x-csrf-token")).toBe("fetch");
    expect(seen.headers.get("x-forwarded-host")).toBe("router.test");
    expect(seen.headers.get("x-forwarded-proto")).toBe("https");
  });

  it("passes the token header through on a route without csrfProtection", async () => {
    const t = makeApp();
    const res = await t.request("/open/z", { headers: { "x-csrf-token": "fetch" } });
    expect(res.headers.get("x-csrf-token")).toBeNull();
    expect(t.upstream.at(-1)!.headers.get("x-csrf-token")).toBe("fetch");
  });
});

describe("CSRF check on routes that require authentication", () => {
  const allowEveryone: Authenticator = async () => null;

  it("answers 401 while no identity provider is configured", async () => {
    const t = makeApp();
    const res = await t.request("/api/items");
    expect(res.status).toBe(401);
    expect(t.upstream).toHaveLength(0);
  });

  it.each([
    ["no token, no session", undefined, false],
    ["a wrong token", "wrong", true],
    ["the token of another session", "other", true],
  ])("rejects a POST with %s with 403 and x-csrf-token: Required", async (_name, sent, withSession) => {
    const t = makeApp(allowEveryone);
    const mine = await fetchToken(t);
    const other = await fetchToken(t);
    const token = sent === "other" ? other.token : sent;
    const res = await t.request("/api/items", {
      method: "POST",
      headers: {
        ...(withSession ? { cookie: mine.cookie! } : {}),
        ...(token ? { "x-csrf-token": token } : {}),
      },
      body: "{}",
    });
    expect(res.status).toBe(403);
    expect(res.headers.get("x-csrf-token")).toBe("Required");
    expect(t.upstream.filter((r) => r.method === "POST")).toHaveLength(0);
  });

  it("lets a POST with the session's token through", async () => {
    const t = makeApp(allowEveryone);
    const { cookie, token } = await fetchToken(t);
    const res = await t.request("/api/items", {
      method: "POST",
      headers: { cookie: cookie!, "x-csrf-token": token },
      body: "{}",
    });
    expect(res.status).toBe(200);
    expect(t.upstream.at(-1)!.method).toBe("POST");
  });

  it("keeps its token header from the backend on a protected route (a POST, a token fetch), the rest unchanged", async () => {
    const t = makeApp(allowEveryone);
    const { cookie, token } = await fetchToken(t);
    const post = await t.request("/api/items?a=1", {
      method: "POST",
      headers: { cookie: `a=1; ${cookie!}`, "x-csrf-token": token, "content-type": "application/json" },
      body: '{"n":1}',
    });
    expect(post.status).toBe(200);
    const posted = t.upstream.at(-1)!;
    expect(posted.headers.has("x-csrf-token")).toBe(false);
    expect(posted.url).toBe("http://backend.test/base/api/items?a=1");
    expect(posted.headers.get("cookie")).toBe("a=1");
    expect(posted.headers.get("content-type")).toBe("application/json");
    expect(await posted.text()).toBe('{"n":1}');

    const fetched = await t.request("/api/items", { headers: { cookie: cookie!, "x-csrf-token": "Fetch" } });
    expect(fetched.headers.get("x-csrf-token")).toBe(token);
    expect(t.upstream.at(-1)!.headers.has("x-csrf-token")).toBe(false);
  });

  it("does not check public routes, as SAP's router does not", async () => {
    const t = makeApp();
    const res = await t.request("/public/form", { method: "POST", body: "x=1" });
    expect(res.status).toBe(200);
  });
});

describe("logout", () => {
  it("accepts only its method", async () => {
    const t = makeApp();
    const res = await t.request("/logout");
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("POST");
  });

  it("needs the session's CSRF token", async () => {
    const t = makeApp();
    const { cookie } = await fetchToken(t);
    const res = await t.request("/logout", { method: "POST", headers: { cookie: cookie! } });
    expect(res.status).toBe(403);
  });

  it("answers a token fetch on the logout endpoint, as SAP does", async () => {
    const t = makeApp();
    const res = await t.request("/logout", { headers: { "x-csrf-token": "fetch" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-csrf-token")).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(cookieOf(res)).toBeDefined();
  });

  it("destroys the session, expires the cookie and answers the POST with a page that moves on to the logout page", async () => {
    const t = makeApp();
    const { cookie, token } = await fetchToken(t);
    const res = await t.request("/logout", {
      method: "POST",
      headers: { cookie: cookie!, "x-csrf-token": token },
    });
    expect(res.status).toBe(200); // SAP answers a POST logout with a page, not a redirect
    expect(await res.text()).toContain('url=/bye.html"');
    expect(res.headers.get("clear-site-data")).toBeNull(); // it would clear every subdomain's cookies
    expect(res.headers.getSetCookie()[0]).toMatch(
      /^JSESSIONID=; Max-Age=0; Path=\/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; Secure; SameSite=Lax$/,
    );
    const after = await fetchToken(t); // the browser's cookie is gone: a new session
    expect(after.token).not.toBe(token);
    expect(after.cookie).toBeDefined();
  });
});

describe("routing answers", () => {
  it.each([
    ["/nowhere", "GET", 404],
    ["/readonly/x", "POST", 405],
    ["/bad?to=../admin", "GET", 400],
  ])(
    "%s %s → %i with the router's own page: what happened, what to try, the code",
    async (path, method, status) => {
      const t = makeApp();
      const res = await t.request(path, { method });
      expect(res.status).toBe(status);
      const body = await res.text();
      expect(body.length).toBeLessThan(4000);
      expect(body).toMatch(/<h1>[^<]+<\/h1><p>[^<]{10,}<\/p>/); // a heading and a sentence, not a bare code
      expect(body).toMatch(/Error code: <code>[A-Z_]+<\/code>/);
      expect(body).not.toMatch(/at .*\.(ts|js):\d+/);
    },
  );

  it("turns an unexpected failure into a generic 500 without detail", async () => {
    const t = makeApp(async () => {
      throw new Error(`boom ${SECRET_A}`);
    });
    const res = await t.request("/api/x");
    expect(res.status).toBe(500);
    const body = await res.text();
    expect(body).not.toContain("boom");
    expect(body).not.toContain(SECRET_A);
  });
});

describe("client signal", () => {
  it("is not watched where the runtime never aborts it (workerd without enable_request_signal)", async () => {
    // This workerd runs without the flag (wrangler.toml): a proxied request does not listen
    // to its signal, so even a signal aborted by hand cancels nothing.
    expect(runtimeAbortsRequestSignal()).toBe(false);
    const config = configWithXsuaa(xsApp, "http://backend.test/base");
    let answer!: (res: Response) => void;
    const upstream: Request[] = [];
    const fetch = ((input: RequestInfo | URL, init?: RequestInit) => {
      upstream.push(new Request(input, init));
      return new Promise<Response>((resolve) => void (answer = resolve));
    }) as typeof globalThis.fetch;
    const app = createApp({ config, manager: memoryManager(), fetch, log: () => {} });
    const client = new AbortController();
    const pending = app.request("https://router.test/public/x", { signal: client.signal });
    await new Promise((resolve) => setTimeout(resolve, 10));
    client.abort();
    answer(new Response("backend"));
    const res = await pending;
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("backend");
    expect(upstream[0]!.signal.aborted).toBe(false);
  });
});

describe("worker entry", () => {
  const ctx = { waitUntil() {}, passThroughOnException() {}, props: {} } as unknown as ExecutionContext;

  it("answers every request with a generic 503 when the configuration is invalid, naming nothing", async () => {
    const env = {
      EXT_SESSION_MGT: JSON.stringify({
        instanceName: "x",
        storageType: "redis",
        sessionSecret: "too-short-" + "s3cr3t",
      }),
    } as Env;
    const logs: string[] = [];
    const original = { log: console.log, error: console.error };
    console.log = console.error = (line: string) => logs.push(line);
    try {
      const res = await worker.fetch(new Request("https://router.test/anything"), env, ctx);
      expect(res.status).toBe(503);
      const body = await res.text();
      expect(body).not.toContain("sessionSecret");
      expect(body).not.toContain("s3cr3t");
    } finally {
      Object.assign(console, original);
    }
    const log = logs.join("\n");
    expect(log).toContain("EXT_SESSION_MGT.sessionSecret: must be at least 64 characters");
    expect(log).not.toContain("s3cr3t");
  });

  it("runs on the embedded defaults with in-memory sessions only", async () => {
    const env = { destinations: JSON.stringify([{ name: "backend", url: "http://backend.invalid" }]) } as Env;
    const res = await worker.fetch(new Request("https://router.test/x"), env, ctx);
    expect(res.status).toBe(502); // nothing listens there: a clean Bad Gateway, not a crash
    // (.invalid never resolves; workerd may log the failed connection itself)
  });
});

describe("status endpoint", () => {
  const ctx = { waitUntil() {}, passThroughOnException() {}, props: {} } as unknown as ExecutionContext;
  const env = (extra: Record<string, string>) =>
    ({ destinations: JSON.stringify([{ name: "backend", url: "http://backend.invalid" }]), ...extra }) as Env;

  it("answers only with the right bearer token, with counters and no secrets", async () => {
    const e = env({ STATUS_TOKEN: "status-token-0123456789" });
    const denied = await worker.fetch(new Request("https://router.test/_approuter/status"), e, ctx);
    expect(denied.status).toBe(401);
    const wrong = await worker.fetch(
      new Request("https://router.test/_approuter/status", { headers: { authorization: "Bearer nope" } }),
      e,
      ctx,
    );
    expect(wrong.status).toBe(401);
    const ok = await worker.fetch(
      new Request("https://router.test/_approuter/status", {
        headers: { authorization: "Bearer status-token-0123456789" },
      }),
      e,
      ctx,
    );
    expect(ok.status).toBe(200);
    const body = (await ok.json()) as {
      sessions: Record<string, number>;
      memory: Record<string, number>;
      store: unknown;
    };
    expect(body.sessions).toMatchObject({ memoryHits: 0, recoveries: 0, writesSkippedUnchanged: 0 });
    expect(body.memory).toMatchObject({ entries: 0, evictions: 0 });
    expect(body.store).toBeNull();
    expect(JSON.stringify(body)).not.toContain("status-token");
  });

  it("does not exist without a token, and a short token is a configuration problem", async () => {
    const none = await worker.fetch(new Request("https://router.test/_approuter/status"), env({}), ctx);
    expect(none.status).not.toBe(200);
    const short = await worker.fetch(
      new Request("https://router.test/x"),
      env({ STATUS_TOKEN: "short" }),
      ctx,
    );
    expect(short.status).toBe(503);
  });
});

describe("errorPage", () => {
  it("replaces the router's own error pages with a file from the static assets, same status", async () => {
    const loaded = {
      config: configOf({
        routes: [
          { source: "^/app/(.*)$", target: "/$1", destination: "backend", authenticationType: "none" },
        ],
        errorPage: [{ status: [404, 405], file: "/errors/not-found.html" }],
      }),
    };
    const manager = memoryManager();
    const asked: string[] = [];
    const ASSETS = {
      fetch: async (r: Request) => {
        asked.push(new URL(r.url).pathname);
        return new Response("<h1>Custom: nothing here</h1>", { headers: { "content-type": "text/html" } });
      },
    };
    const upstream = (async () => new Response("from backend", { status: 404 })) as typeof fetch;
    const app = createApp({ config: loaded.config, manager, fetch: upstream, log: () => {} });
    const missing = await app.request("https://router.test/nowhere", {}, { ASSETS });
    expect(missing.status).toBe(404);
    expect(await missing.text()).toBe("<h1>Custom: nothing here</h1>");
    expect(missing.headers.get("x-approuter-error")).toBeNull();
    expect(asked).toEqual(["/errors/not-found.html"]);
    // A backend's own 404 is the backend's answer, not replaced.
    const backend404 = await app.request("https://router.test/app/x", {}, { ASSETS });
    expect(await backend404.text()).toBe("from backend");
    // Statuses without a page keep the built-in one, and the marker never leaves the router.
    const noPage = await app.request("https://router.test/app/x", { method: "TRACE" }, { ASSETS });
    expect(noPage.headers.get("x-approuter-error")).toBeNull();
  });
});

describe("errorPage with path", () => {
  it("answers the router's own errors with a redirect to the path (SAP: 302), never the page's own request, never a backend's error", async () => {
    const config = configOf({
      routes: [{ source: "^/app/(.*)$", target: "/$1", destination: "backend", authenticationType: "none" }],
      errorPage: [{ status: 404, path: "app/errors/404.html" }],
    });
    const upstream = (async () => new Response("from backend", { status: 404 })) as typeof fetch;
    const app = createApp({ config, manager: memoryManager(), fetch: upstream, log: () => {} });
    const missing = await app.request("https://router.test/nowhere?x=1");
    expect(missing.status).toBe(302);
    expect(missing.headers.get("location")).toBe("/app/errors/404.html");
    expect(missing.headers.get("x-approuter-error")).toBeNull();
    expect(missing.headers.get("x-frame-options")).toBe("SAMEORIGIN"); // still an answer of the router's
    // The backend's own 404 is its answer (the page itself is served by a route like any other).
    const backend404 = await app.request("https://router.test/app/errors/404.html");
    expect(backend404.status).toBe(404);
    expect(await backend404.text()).toBe("from backend");
  });

  it("does not redirect the page's own request to itself when the router fails it", async () => {
    const config = configOf({
      routes: [{ source: "^/app/(.*)$", target: "/$1", destination: "backend", authenticationType: "none" }],
      errorPage: [{ status: 404, path: "/missing.html" }],
    });
    const app = createApp({ config, manager: memoryManager(), fetch, log: () => {} });
    const res = await app.request("https://router.test/missing.html");
    expect(res.status).toBe(404); // the built-in page: no route matches it either
    expect(res.headers.get("location")).toBeNull();
  });
});

describe("response headers", () => {
  it("reach an answer whose headers are immutable (the static assets' own redirect)", async () => {
    const loaded = {
      config: configOf({
        routes: [{ source: "^/web/(.*)$", target: "/$1", localDir: "web", authenticationType: "none" }],
      }),
    };
    // The assets binding answers with headers that cannot be changed, as fetch() does.
    const ASSETS = { fetch: async () => Response.redirect("https://router.test/web/index.html", 307) };
    const app = createApp({ config: loaded.config, manager: memoryManager(), fetch, log: () => {} });
    const res = await app.request("https://router.test/web/index", {}, { ASSETS });
    expect(res.status).toBe(307);
    expect(res.headers.get("location")).toBe("https://router.test/web/index.html");
    expect(res.headers.get("x-frame-options")).toBe("SAMEORIGIN");
  });
});

describe("logout with SAP's defaults", () => {
  it("is a GET without a CSRF check that redirects to the logout page and always expires the cookie", async () => {
    const loaded = {
      config: configOf({
        authenticationMethod: "none",
        routes: [{ source: "^/(.*)$", target: "/$1", destination: "backend" }],
        logout: { logoutEndpoint: "/logout", logoutPage: "/bye.html" },
      }),
    };
    const manager = memoryManager();
    const app = createApp({
      config: loaded.config,
      manager,
      fetch: (async () => new Response("ok")) as typeof fetch,
      log: () => {},
    });
    const res = await app.request("https://router.test/logout");
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe("/bye.html");
    expect(res.headers.getSetCookie()[0]).toMatch(/^JSESSIONID=; Max-Age=0/); // even without a cookie, as SAP
    expect((await app.request("https://router.test/logout", { method: "POST" })).status).toBe(405);
  });
});

describe("session timeout", () => {
  it("tells each destination's logoutPath, with its kept cookies, when a request finds its session timed out", async () => {
    const loaded = {
      config: configOf({
        authenticationMethod: "none",
        routes: [{ source: "^/(.*)$", target: "/$1", destination: "backend" }],
        destinations: { backend: { logoutPath: "/session/end", logoutMethod: "POST" } },
      }),
    };
    let now = 1_000_000;
    const manager = memoryManager(60_000, () => now);
    const seen: { method: string; path: string; cookie: string | null }[] = [];
    const upstream = (async (input: RequestInfo | URL, init?: RequestInit) => {
      const r = new Request(input, init);
      const path = new URL(r.url).pathname;
      seen.push({ method: r.method, path, cookie: r.headers.get("cookie") });
      return path === "/login-backend"
        ? new Response("ok", { headers: { "set-cookie": "BACKEND_SID=b-7; Path=/" } })
        : new Response("ok");
    }) as typeof fetch;
    const app = createApp({ config: loaded.config, manager, fetch: upstream, log: () => {} });
    const first = await app.request("https://router.test/login-backend");
    const cookie = cookieOf(first)!;
    expect(cookie).toBeDefined(); // the backend's session cookie made a router session
    now += 30_000;
    await app.request("https://router.test/x", { headers: { cookie } });
    expect(seen.some((s) => s.path === "/session/end")).toBe(false); // alive: nobody told
    now += 61_000; // idle past the timeout
    await app.request("https://router.test/y", { headers: { cookie } });
    await new Promise((r) => setTimeout(r, 10)); // the call runs after the response
    expect(seen.filter((s) => s.path === "/session/end")).toEqual([
      { method: "POST", path: "/session/end", cookie: "BACKEND_SID=b-7" },
    ]);
    expect(manager.metrics.timedOut).toBe(1);
  });
});
