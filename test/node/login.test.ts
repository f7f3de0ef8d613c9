import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { sessionCookieOf, type Cluster } from "../support/cluster.js";
import { loginThroughForms, type RouterFetch } from "../support/form-login.js";
import { startIdp, type Idp, identityBinding } from "../support/idp.js";
import { useStoreFixture } from "../support/store-fixture.js";
import { SECRET_A } from "../support/secrets.js";
import { sleep } from "../support/wait.js";
import { getOn } from "../support/login-cluster.js";

/**
 * Login against a real, generic OpenID provider (oidc-provider on 127.0.0.2, so the redirect
 * back is cross-site as in production), bound as SAP binds IAS (label `identity`, routes with
 * `authenticationType: "ias"`), with isolates sharing a real Redis. XSUAA and IAS as SAP runs
 * them: test/node/xsuaa-login.test.ts, ias-login.test.ts.
 */
const ORIGIN = "https://router.test";
let idp: Idp;
const fx = useStoreFixture({ ext: { sessionSecret: SECRET_A, revalidateAfter: 300 } });

const XS_APP = {
  authenticationMethod: "route",
  routes: [
    {
      source: "^/api/(.*)$",
      target: "/$1",
      destination: "backend",
      authenticationType: "ias",
      scope: "app.read",
    },
    {
      source: "^/admin/(.*)$",
      target: "/$1",
      destination: "backend",
      authenticationType: "ias",
      scope: ["app.admin"],
    },
    { source: "^/public/(.*)$", target: "/$1", destination: "backend", authenticationType: "none" },
    {
      source: "^/corp/(.*)$",
      target: "/$1",
      destination: "backend",
      authenticationType: "ias",
      identityProvider: "corporate-idp",
    },
    { source: "^/(.*)$", target: "/$1", destination: "backend", authenticationType: "ias" },
  ],
  logout: { logoutEndpoint: "/logout", logoutPage: "/public/bye" },
};

beforeAll(async () => {
  idp = await startIdp({
    redirectUris: [`${ORIGIN}/login/callback`],
    postLogoutRedirectUris: [`${ORIGIN}/public/bye`],
    accessTokenTtl: 2,
  });
});
afterEach(async () => {
  await idp.reset();
});
afterAll(async () => {
  await idp?.stop();
});

function cluster(
  options: {
    workers?: string[];
    outbound?: (r: Request) => Promise<Response>;
    credentials?: Record<string, unknown>;
  } = {},
): Promise<Cluster> {
  return fx.cluster({
    workers: options.workers ?? ["a", "b"],
    services: [
      identityBinding(idp, "oidc", {
        scope: "openid profile email app.read app.write",
        ...options.credentials,
      }),
    ],
    destination: { forwardAuthToken: true },
    bindings: {
      XS_APP: JSON.stringify(XS_APP),
      PRESERVE_FRAGMENT: "false", // a 302 to start the login (the fragment page: xsuaa-login.test.ts)
    },
    ...(options.outbound ? { outbound: options.outbound } : {}),
  });
}

const pathOf = (url: string) => {
  const u = new URL(url);
  return u.pathname + u.search;
};

/** A router fetch on one isolate, for the form walker. */
const on =
  (c: Cluster, worker: string): RouterFetch =>
  (url, init) =>
    c.fetch(worker, pathOf(url), init);

/** Logs alice in, starting at `path` on `startOn`, the callback answered by `callbackOn`. */
async function login(c: Cluster, path = "/api/hello", startOn = "a", callbackOn = startOn, user = "alice") {
  const start = await c.fetch(startOn, path, { redirect: "manual" });
  expect(start.status).toBe(302);
  expect(start.headers.get("location")).toContain(idp.issuer);
  const callbacks: { url: string; init?: RequestInit }[] = [];
  const callback = await loginThroughForms({
    routerFetch: (url, init) => {
      callbacks.push({ url, ...(init ? { init } : {}) });
      return on(c, callbackOn)(url, init);
    },
    routerOrigin: ORIGIN,
    start,
    startUrl: `${ORIGIN}${path}`,
    login: user,
    password: `${user}-password`,
  });
  const cookie = sessionCookieOf(callback);
  return { start, callback, cookie, callbacks };
}

const get = getOn;

describe("login", () => {
  it("logs in through the provider, regenerates the session and forwards the token", async () => {
    const c = await cluster();
    const anonymous = await c.fetch("a", "/public/x", { headers: { "x-csrf-token": "fetch" } });
    const anonymousCookie = sessionCookieOf(anonymous)!;
    const start = await get(c, "a", "/api/hello?x=1", anonymousCookie);
    const { callback, cookie } = await login(c, "/api/hello?x=1");
    expect(start.status).toBe(302);
    expect(callback.status).toBe(302);
    expect(callback.headers.get("location")).toBe("/api/hello?x=1");
    expect(cookie).toMatch(/^JSESSIONID=[A-Za-z0-9_-]{43}$/);
    expect(cookie).not.toBe(anonymousCookie);
    const res = await get(c, "a", "/api/hello?x=1", cookie);
    expect(res.status).toBe(200);
    const seen = fx.backend.seen.at(-1)!;
    expect(seen.url).toBe("/hello?x=1");
    expect(seen.headers.authorization).toMatch(/^Bearer .+/);
    expect(seen.headers.cookie ?? "").not.toContain("JSESSIONID");
    expect((await idp.counters()).authorizationCodeGrants).toBe(1);
  });

  it("completes the login when the callback lands on another isolate, and the session works everywhere", async () => {
    const c = await cluster();
    const { callback, cookie } = await login(c, "/api/x", "a", "b");
    expect(callback.status).toBe(302);
    expect((await get(c, "a", "/api/x", cookie)).status).toBe(200);
    expect((await get(c, "b", "/api/x", cookie)).status).toBe(200);
  });

  it("asks for a route's identityProvider with idp=, as SAP's router does", async () => {
    const c = await cluster();
    const plain = new URL((await c.fetch("a", "/api/x", { redirect: "manual" })).headers.get("location")!);
    expect(plain.searchParams.get("idp")).toBeNull();
    expect(plain.searchParams.get("scope")).toBe("openid profile email app.read app.write");
    expect(plain.searchParams.get("nonce")).toBeTruthy();
    const corp = new URL((await c.fetch("a", "/corp/x", { redirect: "manual" })).headers.get("location")!);
    expect(corp.searchParams.get("idp")).toBe("corporate-idp");
    expect(corp.searchParams.get("login_hint")).toBeNull();
  });

  it("answers 401 to unauthenticated non-GET and XMLHttpRequest requests", async () => {
    const c = await cluster();
    expect((await c.fetch("a", "/api/x", { method: "POST", body: "{}" })).status).toBe(401);
    expect((await get(c, "a", "/api/x", undefined, { "x-requested-with": "XMLHttpRequest" })).status).toBe(
      401,
    );
  });

  it("checks route scopes: 403 without the scope", async () => {
    const c = await cluster();
    const { cookie } = await login(c);
    expect((await get(c, "a", "/api/x", cookie)).status).toBe(200);
    const denied = await get(c, "a", "/admin/x", cookie);
    expect(denied.status).toBe(403);
    expect(await denied.text()).toContain("INSUFFICIENT_SCOPE");
  });

  it("refuses /%2F%2Fevil.example before any login: encoded slashes are refused (issue 9)", async () => {
    const c = await cluster();
    const res = await c.fetch("a", "/%2F%2Fevil.example", { redirect: "manual" });
    expect(res.status).toBe(400);
    expect(res.headers.get("location")).toBeNull();
  });

  it.each([["//evil.example/x"], ["/\\evil.example/x"]])(
    "never redirects off-site after login (%s)",
    async (path) => {
      const c = await cluster();
      const { callback } = await login(c, path);
      const location = callback.headers.get("location")!;
      expect(location.startsWith("/")).toBe(true);
      expect(location.startsWith("//")).toBe(false);
      expect(location.startsWith("/\\")).toBe(false);
      expect(new URL(location, ORIGIN).origin).toBe(ORIGIN);
    },
  );

  it("rejects a replayed callback", async () => {
    const c = await cluster();
    const { callbacks } = await login(c);
    const first = callbacks.at(-1)!;
    const replay = await c.fetch("b", pathOf(first.url), { ...first.init, redirect: "manual" });
    expect(replay.status).toBe(400);
    expect(await replay.text()).toContain("LOGIN_STATE");
    expect(sessionCookieOf(replay)).toBeUndefined();
  });

  it("rejects a callback without its login-state cookie or with another state", async () => {
    const c = await cluster();
    const start = await c.fetch("a", "/api/x", { redirect: "manual" });
    const state = new URL(start.headers.get("location")!).searchParams.get("state")!;
    const noCookie = await c.fetch("a", `/login/callback?code=abc&state=${state}`, { redirect: "manual" });
    expect(noCookie.status).toBe(400);
    const loginCookie = start.headers.getSetCookie()[0]!.split(";")[0]!;
    const otherState = await c.fetch("a", `/login/callback?code=abc&state=${"A".repeat(43)}`, {
      redirect: "manual",
      headers: { cookie: loginCookie },
    });
    expect(otherState.status).toBe(400);
  });

  it("rejects an ID token that the provider did not sign", async () => {
    // Every fetch of the router goes through here; token responses get a forged ID token.
    const outbound = async (request: Request): Promise<Response> => {
      const response = await fetch(request.url, {
        method: request.method,
        headers: request.headers,
        ...(request.method === "POST" ? { body: await request.text() } : {}),
      });
      if (!new URL(request.url).pathname.endsWith("/token")) return response;
      const body = (await response.json()) as Record<string, unknown>;
      const [, payload] = String(body.id_token).split(".");
      const claims = JSON.parse(Buffer.from(payload!, "base64url").toString());
      body.id_token = await idp.signIdToken(claims, { key: "foreign" });
      return new Response(JSON.stringify(body), {
        status: response.status,
        headers: { "content-type": "application/json" },
      });
    };
    const c = await cluster({ outbound });
    const { callback, cookie } = await login(c);
    expect(callback.status).toBe(401);
    expect(await callback.text()).toContain("LOGIN_FAILED");
    expect(cookie).toBeUndefined();
  });
});

describe("tokens", () => {
  it("refreshes an access token near its expiry, and the backend gets the new one", async () => {
    const c = await cluster();
    const { cookie } = await login(c);
    await get(c, "a", "/api/one", cookie);
    const first = fx.backend.seen.at(-1)!.headers.authorization;
    await sleep(1700); // 2 s tokens: inside the refresh margin now
    const res = await get(c, "b", "/api/two", cookie);
    expect(res.status).toBe(200);
    const second = fx.backend.seen.at(-1)!.headers.authorization;
    expect(second).not.toBe(first);
    expect((await idp.counters()).refreshGrants).toBe(1);
  });

  it("refreshes exactly once under concurrent requests on two isolates, logging nobody out", async () => {
    const c = await cluster();
    const { cookie } = await login(c);
    await get(c, "b", "/api/warm", cookie); // b holds the session too
    await sleep(1700);
    const results = await Promise.all(
      Array.from({ length: 24 }, (_, i) =>
        get(c, i % 2 ? "a" : "b", `/api/race/${i}`, cookie).then(async (r) => ({
          status: r.status,
          cookie: sessionCookieOf(r),
        })),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(Array(24).fill(200));
    expect(results.every((r) => r.cookie === undefined)).toBe(true);
    const counters = await idp.counters();
    expect(counters.refreshGrants).toBe(1);
    expect(counters.failedRefreshGrants).toBe(0);
  });

  it("keeps the session when the provider is down, and refreshes once it is back", async () => {
    const c = await cluster();
    const { cookie } = await login(c);
    await idp.setMode("down-503");
    await sleep(2200); // the access token has expired
    const down = await get(c, "a", "/api/x", cookie);
    expect(down.status).toBe(503);
    expect(await down.text()).not.toMatch(/at .*\.(ts|js):\d+/);
    expect(down.headers.getSetCookie()).toEqual([]);
    await idp.setMode("up");
    const back = await get(c, "a", "/api/x", cookie);
    expect(back.status).toBe(200);
    expect((await idp.counters()).refreshGrants).toBe(1);
  });

  it("ends the session when the provider rejects the refresh token (invalid_grant)", async () => {
    // The provider is real; only the refresh token the router sends is replaced on the way.
    const outbound = async (request: Request): Promise<Response> => {
      let body = request.method === "POST" ? await request.text() : undefined;
      if (body?.includes("grant_type=refresh_token"))
        body = body.replace(/refresh_token=[^&]+/, "refresh_token=revoked");
      const headers = new Headers(request.headers);
      headers.delete("content-length"); // the body changed
      return fetch(request.url, { method: request.method, headers, ...(body !== undefined ? { body } : {}) });
    };
    const c = await cluster({ outbound });
    const { cookie } = await login(c);
    await sleep(1700);
    const res = await get(c, "a", "/api/x", cookie);
    expect(res.status).toBe(302); // a navigation: straight to a new login
    expect(res.headers.get("location")).toContain(idp.issuer);
    expect(res.headers.getSetCookie().join()).toMatch(/JSESSIONID=;/);
    expect((await idp.counters()).failedRefreshGrants).toBe(1);
    const xhr = await get(c, "b", "/api/x", cookie, { "x-requested-with": "XMLHttpRequest" });
    expect(xhr.status).toBe(401); // the session is gone on every isolate
  });
});

describe("logout", () => {
  it("ends the session, then sends the browser to the provider's end_session_endpoint with id_token_hint (a generic provider)", async () => {
    const c = await cluster();
    const { cookie } = await login(c);
    const token = (
      await c.fetch("a", "/api/x", { headers: { cookie: cookie!, "x-csrf-token": "fetch" } })
    ).headers.get("x-csrf-token")!;
    // SAP's default logout method is GET: a navigation, answered with a redirect.
    const res = await c.fetch("b", "/logout", {
      redirect: "manual",
      headers: { cookie: cookie!, "x-csrf-token": token },
    });
    expect(res.status).toBe(302);
    const location = new URL(res.headers.get("location")!);
    expect(location.href.startsWith(idp.issuer)).toBe(true);
    expect(location.pathname).toBe("/session/end");
    expect(location.searchParams.get("id_token_hint")).toBeTruthy();
    expect(location.searchParams.get("client_id")).toBe(idp.clientId);
    expect(location.searchParams.get("post_logout_redirect_uri")).toBe(`${ORIGIN}/public/bye`);
    expect(res.headers.getSetCookie().join()).toMatch(/JSESSIONID=;/);
    await sleep(350);
    expect((await get(c, "a", "/api/x", cookie)).status).toBe(302);
  });

  /** A cluster that remembers the `sid` of every ID token the provider issues to it. */
  async function sidRecordingCluster() {
    const sids: string[] = [];
    const outbound = async (request: Request): Promise<Response> => {
      const body = request.method === "POST" ? await request.text() : undefined;
      const response = await fetch(request.url, {
        method: request.method,
        headers: request.headers,
        ...(body !== undefined ? { body } : {}),
      });
      if (!new URL(request.url).pathname.endsWith("/token")) return response;
      const text = await response.text();
      const idToken = (JSON.parse(text) as { id_token?: string }).id_token;
      if (idToken) sids.push(JSON.parse(Buffer.from(idToken.split(".")[1]!, "base64url").toString()).sid);
      return new Response(text, { status: response.status, headers: { "content-type": "application/json" } });
    };
    return { c: await cluster({ outbound }), sids };
  }

  const backchannel = (c: Cluster, worker: string, logoutToken: string) =>
    c.fetch(worker, "/login/backchannel-logout", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ logout_token: logoutToken }).toString(),
    });

  it("back-channel logout by sid ends that session on every isolate, and only that one", async () => {
    const { c, sids } = await sidRecordingCluster();
    const mine = await login(c);
    const other = await login(c, "/api/x", "b", "b", "bob");
    for (const w of ["a", "b"]) expect((await get(c, w, "/api/x", mine.cookie)).status).toBe(200);
    const keysBefore = (await fx.direct.keys("approuter-edge:s:*")).length;
    const res = await backchannel(c, "b", await idp.signLogoutToken({ sid: sids[0]! }));
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect((await fx.direct.keys("approuter-edge:s:*")).length).toBe(keysBefore - 1);
    await sleep(350); // the revalidation bound of this cluster
    for (const w of ["a", "b"]) expect((await get(c, w, "/api/x", mine.cookie)).status).toBe(302);
    expect((await get(c, "a", "/api/x", other.cookie)).status).toBe(200);
    // The same token again is a replay.
    expect(
      (await backchannel(c, "a", await idp.signLogoutToken({ sid: sids[0]!, jti: "once" }))).status,
    ).toBe(200);
    expect(
      (await backchannel(c, "a", await idp.signLogoutToken({ sid: sids[0]!, jti: "once" }))).status,
    ).toBe(400);
  });

  it("back-channel logout by sub ends every session of the user", async () => {
    const c = await cluster();
    const first = await login(c, "/api/x", "a", "a", "bob");
    const second = await login(c, "/api/y", "b", "b", "bob");
    const res = await backchannel(c, "a", await idp.signLogoutToken({ sub: "user-bob" }));
    expect(res.status).toBe(200);
    await sleep(350);
    for (const cookie of [first.cookie, second.cookie]) {
      for (const w of ["a", "b"]) expect((await get(c, w, "/api/x", cookie)).status).toBe(302);
    }
  });

  it.each([
    ["no events claim", { omitEvents: true }],
    ["a nonce", { nonce: "n" }],
    ["a foreign key", { key: "foreign" as const }],
    ["another audience", { aud: "someone-else" }],
    ["no sid or sub", {}],
    ["events null", { sid: "s", extraClaims: { events: null } }],
    [
      "a null logout event",
      { sid: "s", extraClaims: { events: { "http://schemas.openid.net/event/backchannel-logout": null } } },
    ],
    [
      "an array of events",
      { sid: "s", extraClaims: { events: ["http://schemas.openid.net/event/backchannel-logout"] } },
    ],
  ])("rejects a back-channel logout token with %s", async (_name, options) => {
    const c = await cluster();
    const logoutToken = await idp.signLogoutToken(options as never);
    const res = await c.fetch("a", "/login/backchannel-logout", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ logout_token: logoutToken }).toString(),
    });
    expect(res.status).toBe(400);
  });

  it("scopes the replay marker by issuer: the same jti from two accepted issuers is no replay", async () => {
    // IAS-style binding: every issuer on the bound domain is accepted (here the IdP's own host).
    const c = await cluster({ credentials: { domains: [new URL(idp.issuer).hostname] } });
    const first = await backchannel(c, "a", await idp.signLogoutToken({ sub: "nobody", jti: "same-jti" }));
    expect(first.status).toBe(200);
    const other = await backchannel(
      c,
      "a",
      await idp.signLogoutToken({ sub: "nobody", jti: "same-jti", iss: `${idp.issuer}/` }),
    );
    expect(other.status).toBe(200);
    const replay = await backchannel(c, "b", await idp.signLogoutToken({ sub: "nobody", jti: "same-jti" }));
    expect(replay.status).toBe(400);
  });
});
