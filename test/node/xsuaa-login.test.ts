import { generateKeyPair, decodeJwt, SignJWT } from "jose";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { sessionCookieOf, type Cluster } from "../support/cluster.js";
import { CookieJar } from "../support/form-login.js";
import { useStoreFixture } from "../support/store-fixture.js";
import { loginThroughSapForm, logoutThroughSap, scriptRedirectOf } from "../support/sap-form-login.js";
import { startXsuaaSim, type XsuaaSim } from "../support/sap-idp.js";
import { SECRET_A } from "../support/secrets.js";
import { sleep } from "../support/wait.js";
import { getOn, outboundTo, xhr } from "../support/login-cluster.js";

/**
 * Login with an unmodified SAP-style `xsuaa` binding against the XSUAA simulator (realistic
 * https hosts under `authentication.sap.test`, routed to the loopback simulator by the
 * cluster's outbound hook), isolates sharing a real Redis.
 */
const ORIGIN = "https://router.test";
const UAADOMAIN = "authentication.sap.test";
let sim: XsuaaSim;
const fx = useStoreFixture({ ext: { sessionSecret: SECRET_A, revalidateAfter: 300 } });

const XS_APP = {
  authenticationMethod: "route",
  routes: [
    {
      source: "^/api/(.*)$",
      target: "/$1",
      destination: "backend",
      authenticationType: "xsuaa",
      scope: "$XSAPPNAME.Display",
    },
    {
      source: "^/admin/(.*)$",
      target: "/$1",
      destination: "backend",
      scope: { GET: ["$XSAPPNAME.Admin"], default: "$XSAPPNAME.Admin" },
    },
    { source: "^/public/(.*)$", target: "/$1", destination: "backend", authenticationType: "none" },
    { source: "^/corp/(.*)$", target: "/$1", destination: "backend", identityProvider: "corporate-idp" },
    { source: "^/(.*)$", target: "/$1", destination: "backend" },
  ],
  logout: { logoutEndpoint: "/logout", logoutPage: "/public/bye" },
};

beforeAll(async () => {
  sim = await startXsuaaSim({
    uaadomain: UAADOMAIN,
    tenants: ["t1", "t2"],
    redirectUris: ["https://router.test/**", "https://*.router.test/**"],
  });
});
afterEach(async () => {
  if (!sim.running) await sim.start();
  sim.reset();
});
afterAll(async () => {
  await sim?.stop();
});

interface ClusterOptions {
  workers?: string[];
  binding?: { label: string };
  env?: Record<string, string>;
  outbound?: (r: Request) => Promise<Response>;
  serviceBindings?: Record<string, (r: Request) => Promise<Response>>;
  bindings?: Array<{ label: string }>;
}

function cluster(o: ClusterOptions = {}): Promise<Cluster> {
  return fx.cluster({
    workers: o.workers ?? ["a", "b"],
    services: (o.bindings ?? [o.binding ?? sim.binding()]) as Array<
      { label: string } & Record<string, unknown>
    >,
    destination: { forwardAuthToken: true },
    bindings: { XS_APP: JSON.stringify(XS_APP), ...o.env },
    outbound: o.outbound ?? toSim,
    ...(o.serviceBindings ? { serviceBindings: o.serviceBindings } : {}),
  });
}

/** The router's outgoing fetches: the simulator's hosts to the simulator, the rest to the network. */
const toSim = (request: Request) => outboundTo([sim])(request);

const pathOf = (url: string) => {
  const u = new URL(url);
  return u.pathname + u.search;
};

/** The authorize URL the router's answer leads to (a 302, or the PRESERVE_FRAGMENT page). */
async function authorizeUrlOf(response: Response): Promise<URL> {
  if (response.status === 302) return new URL(response.headers.get("location")!);
  expect(response.status).toBe(200);
  return new URL(scriptRedirectOf(await response.clone().text())!);
}

/** Logs a user in: starts at `path` on `startOn`, the callback answered by `callbackOn`. */
async function login(
  c: Cluster,
  o: { path?: string; startOn?: string; callbackOn?: string; user?: string; origin?: string } = {},
) {
  const origin = o.origin ?? ORIGIN;
  const path = o.path ?? "/api/hello";
  const start = await c.fetch(o.startOn ?? "a", `${origin}${path}`, { redirect: "manual" });
  const authorize = await authorizeUrlOf(start);
  const user = o.user ?? "demo";
  const callback = await loginThroughSapForm({
    routerFetch: (url, init) =>
      c.fetch(
        o.callbackOn ?? o.startOn ?? "a",
        url.startsWith("http") ? url : `${origin}${pathOf(url)}`,
        init,
      ),
    routerOrigin: origin,
    start,
    startUrl: `${origin}${path}`,
    idpFetch: sim.fetch,
    username: user,
    password: user,
  });
  return { start, authorize, callback, cookie: sessionCookieOf(callback) };
}

const get = getOn;

describe("XSUAA login", () => {
  it("logs in with an unmodified SAP binding and $XSAPPNAME scopes; the backend receives the XSUAA token", async () => {
    const c = await cluster();
    const { start, authorize, callback, cookie } = await login(c, { path: "/api/hello?x=1" });
    // SAP's first answer: a 200 page (PRESERVE_FRAGMENT), CSP-locked to its own script.
    expect(start.status).toBe(200);
    expect(start.headers.get("content-security-policy")).toMatch(/script-src 'sha256-/);
    // The authorize request as SAP's router sends it.
    expect(authorize.origin + authorize.pathname).toBe(`https://provider.${UAADOMAIN}/oauth/authorize`);
    expect(authorize.searchParams.get("response_type")).toBe("code");
    expect(authorize.searchParams.get("client_id")).toBe(sim.clientId);
    expect(authorize.searchParams.get("redirect_uri")).toBe(`${ORIGIN}/login/callback`);
    expect(authorize.searchParams.get("code_challenge_method")).toBe("S256");
    expect(authorize.searchParams.has("scope")).toBe(false);
    expect(authorize.searchParams.has("nonce")).toBe(false);
    expect(callback.status).toBe(302);
    expect(callback.headers.get("location")).toBe("/api/hello?x=1");
    // The code exchange: client_secret_post, no discovery anywhere.
    const grants = sim.tokenRequests().filter((r) => r.grantType === "authorization_code");
    expect(grants.map((r) => r.clientAuthMethod)).toEqual(["client_secret_post"]);
    expect(sim.requests().some((r) => r.path.includes("well-known"))).toBe(false);

    const res = await get(c, "b", "/api/hello?x=1", cookie);
    expect(res.status).toBe(200);
    const token = fx.backend.seen.at(-1)!.headers.authorization!.replace(/^Bearer /, "");
    const claims = decodeJwt(token);
    expect(claims.iss).toBe(`https://provider.${UAADOMAIN}/oauth/token`);
    expect(claims.cid).toBe(sim.clientId);
    expect((claims.ext_attr as Record<string, unknown>).enhancer).toBe("XSUAA");
  });

  it("checks route scopes against the token response's scope: 403 without $XSAPPNAME.Admin, 200 with it", async () => {
    const c = await cluster();
    const demo = await login(c);
    expect((await get(c, "a", "/api/x", demo.cookie)).status).toBe(200);
    const denied = await get(c, "a", "/admin/x", demo.cookie);
    expect(denied.status).toBe(403);
    expect(await denied.text()).toContain("INSUFFICIENT_SCOPE");
    const admin = await login(c, { path: "/admin/x", user: "admin" });
    expect((await get(c, "a", "/admin/x", admin.cookie)).status).toBe(200);
  });

  it("takes scopes from the token response, not the token", async () => {
    // The provider grants Admin in the JWT, but the response's scope string says Display only.
    const outbound = async (request: Request): Promise<Response> => {
      const response = await toSim(request);
      if (!new URL(request.url).pathname.endsWith("/oauth/token")) return response;
      const body = (await response.json()) as Record<string, unknown>;
      body.scope = `openid ${sim.xsappname}.Display`;
      return new Response(JSON.stringify(body), {
        status: response.status,
        headers: { "content-type": "application/json" },
      });
    };
    const c = await cluster({ outbound });
    const { cookie } = await login(c, { path: "/admin/x", user: "admin" });
    expect((await get(c, "a", "/admin/x", cookie)).status).toBe(403);
    expect((await get(c, "a", "/api/x", cookie)).status).toBe(200);
  });

  it("sends a route's identityProvider as idp=, and login_hint only on XS advanced", async () => {
    const c = await cluster();
    const corp = await authorizeUrlOf(await get(c, "a", "/corp/x"));
    expect(corp.searchParams.get("idp")).toBe("corporate-idp");
    expect(corp.searchParams.has("login_hint")).toBe(false);
    const xsa = await cluster({ env: { XS_BIND_ADDRESS: "0.0.0.0" } });
    const hinted = await authorizeUrlOf(await get(xsa, "a", "/corp/x"));
    expect(JSON.parse(hinted.searchParams.get("login_hint")!)).toEqual({ origin: "corporate-idp" });
    expect(hinted.searchParams.has("idp")).toBe(false);
  });

  it("sap_idp chooses the identity provider where a route's dynamicIdentityProvider or DYNAMIC_IDENTITY_PROVIDER allows it, and only there (SAP)", async () => {
    const dynamicRoute = {
      ...XS_APP,
      routes: [
        { source: "^/dyn/(.*)$", target: "/$1", destination: "backend", dynamicIdentityProvider: true },
        ...XS_APP.routes,
      ],
    };
    const c = await cluster({ workers: ["a"], env: { XS_APP: JSON.stringify(dynamicRoute) } });
    const chosen = await authorizeUrlOf(await get(c, "a", "/dyn/x?sap_idp=my%20corp"));
    expect(chosen.searchParams.get("idp")).toBe("my corp");
    // Without the flag the request does not choose: the route's own, or none.
    expect((await authorizeUrlOf(await get(c, "a", "/corp/x?sap_idp=other"))).searchParams.get("idp")).toBe(
      "corporate-idp",
    );
    expect((await authorizeUrlOf(await get(c, "a", "/api/x?sap_idp=other"))).searchParams.has("idp")).toBe(
      false,
    );
    // DYNAMIC_IDENTITY_PROVIDER: every route, over the route's own.
    const all = await cluster({ workers: ["a"], env: { DYNAMIC_IDENTITY_PROVIDER: "true" } });
    expect((await authorizeUrlOf(await get(all, "a", "/corp/x?sap_idp=other"))).searchParams.get("idp")).toBe(
      "other",
    );
    expect((await authorizeUrlOf(await get(all, "a", "/corp/x"))).searchParams.get("idp")).toBe(
      "corporate-idp",
    );
  });

  it("adds ?authType=xsuaa to the redirect URI with ENABLE_PERMANENT_AUTHTYPE, and the callback accepts it", async () => {
    const c = await cluster({ env: { ENABLE_PERMANENT_AUTHTYPE: "true", PRESERVE_FRAGMENT: "false" } });
    const { start, authorize, callback, cookie } = await login(c);
    expect(start.status).toBe(302);
    expect(authorize.searchParams.get("redirect_uri")).toBe(`${ORIGIN}/login/callback?authType=xsuaa`);
    expect(callback.status).toBe(302);
    expect((await get(c, "a", "/api/x", cookie)).status).toBe(200);
  });

  it("refuses a token the provider did not sign (same kid, other key), at login", async () => {
    const { privateKey } = await generateKeyPair("RS256");
    const outbound = async (request: Request): Promise<Response> => {
      const response = await toSim(request);
      if (!new URL(request.url).pathname.endsWith("/oauth/token")) return response;
      const body = (await response.json()) as Record<string, unknown>;
      body.access_token = await new SignJWT(decodeJwt(String(body.access_token)))
        .setProtectedHeader({ alg: "RS256", kid: sim.kid })
        .sign(privateKey);
      delete body.id_token;
      return new Response(JSON.stringify(body), {
        status: 200,
        headers: { "content-type": "application/json" },
      });
    };
    const c = await cluster({ outbound });
    const { callback, cookie } = await login(c);
    expect(callback.status).toBe(401);
    expect(await callback.text()).toContain("LOGIN_FAILED");
    expect(cookie).toBeUndefined();
  });

  it("refuses a token for another audience, and one without kid, at login", async () => {
    for (const forge of [
      () =>
        sim.mintAccessToken({
          username: "demo",
          scopes: ["other!t9.read"],
          claims: {
            aud: ["sb-other!t9", "other!t9"],
            cid: "sb-other!t9",
            azp: "sb-other!t9",
            client_id: "sb-other!t9",
          },
        }),
      async () => {
        const real = await sim.mintAccessToken({ username: "demo" });
        const [, payload, signature] = real.split(".");
        return `${Buffer.from(JSON.stringify({ alg: "RS256", typ: "JWT" })).toString("base64url")}.${payload}.${signature}`;
      },
    ]) {
      const outbound = async (request: Request): Promise<Response> => {
        const response = await toSim(request);
        if (!new URL(request.url).pathname.endsWith("/oauth/token")) return response;
        const body = (await response.json()) as Record<string, unknown>;
        body.access_token = await forge();
        delete body.id_token;
        return new Response(JSON.stringify(body), {
          status: 200,
          headers: { "content-type": "application/json" },
        });
      };
      const c = await cluster({ outbound, workers: ["a"] });
      const { callback } = await login(c);
      expect(callback.status).toBe(401);
    }
  });

  it("fetches the keys again for an unknown kid (key rotation)", async () => {
    const c = await cluster({ workers: ["a"] });
    expect((await login(c)).callback.status).toBe(302);
    await sim.rotateSigningKey({ dropOld: true });
    await sleep(2100); // jose's cooldown between refetches
    const again = await login(c, { user: "admin" });
    expect(again.callback.status).toBe(302);
    expect(sim.requests().filter((r) => r.path === "/token_keys").length).toBe(2);
  });

  it("keeps existing sessions while the provider is down; a new login's callback gets a clear 502", async () => {
    const c = await cluster();
    const { cookie } = await login(c);
    const start = await get(c, "a", "/api/y");
    const authorize = await authorizeUrlOf(start);
    await sim.stop();
    expect((await get(c, "a", "/api/x", cookie)).status).toBe(200);
    expect((await get(c, "b", "/api/x", cookie)).status).toBe(200);
    // A login that reached the provider before it went down cannot exchange its code.
    await sim.start();
    sim.failTokenEndpoint(503);
    const callback = await loginThroughSapForm({
      routerFetch: (url, init) => c.fetch("a", url, init),
      routerOrigin: ORIGIN,
      start,
      startUrl: `${ORIGIN}/api/y`,
      idpFetch: sim.fetch,
      username: "demo",
      password: "demo",
    });
    expect(authorize.searchParams.get("state")).toBeTruthy();
    expect(callback.status).toBe(502);
    expect(await callback.text()).toContain("IDP_UNAVAILABLE");
  });

  it("answers 400, never 500, to malformed callback input", async () => {
    const c = await cluster({ workers: ["a"] });
    for (const query of [
      "state=%3B&code=x",
      "state=%FF&code=x",
      "code=x",
      `state=${"A".repeat(43)}&state=B&code=x`,
      "state=%00",
      "error=access_denied",
    ]) {
      const res = await get(c, "a", `/login/callback?${query}`);
      expect(res.status, query).toBe(400);
    }
  });
});

describe("XSUAA tokens", () => {
  it("refreshes once across two isolates under concurrent requests, with client_secret_basic", async () => {
    sim.set({ accessTokenTtl: 2 });
    const c = await cluster();
    const { cookie } = await login(c);
    await get(c, "b", "/api/warm", cookie);
    await sleep(1700);
    const results = await Promise.all(
      Array.from({ length: 16 }, (_, i) => get(c, i % 2 ? "a" : "b", `/api/race/${i}`, cookie)),
    );
    expect(results.map((r) => r.status)).toEqual(Array(16).fill(200));
    expect(results.every((r) => sessionCookieOf(r) === undefined)).toBe(true);
    const refreshes = sim.tokenRequests().filter((r) => r.grantType === "refresh_token");
    expect(refreshes.length).toBe(1);
    expect(refreshes[0]!.clientAuthMethod).toBe("client_secret_basic");
    expect(refreshes[0]!.status).toBe(200);
  });

  it("keeps the refresh token when a refresh answer carries none", async () => {
    sim.set({ accessTokenTtl: 2, refreshReturnsRefreshToken: false });
    const c = await cluster({ workers: ["a"] });
    const { cookie } = await login(c);
    await sleep(1700);
    expect((await get(c, "a", "/api/one", cookie)).status).toBe(200);
    await sleep(1700);
    expect((await get(c, "a", "/api/two", cookie)).status).toBe(200);
    const refreshes = sim.tokenRequests().filter((r) => r.grantType === "refresh_token");
    expect(refreshes.map((r) => r.status)).toEqual([200, 200]);
  });

  it("ends the session on every isolate when the provider refuses the refresh token", async () => {
    sim.set({ accessTokenTtl: 2 });
    const c = await cluster();
    const { cookie } = await login(c);
    await get(c, "b", "/api/warm", cookie);
    sim.revokeRefreshTokens();
    await sleep(2100);
    const a = await get(c, "a", "/api/x", cookie, xhr);
    expect(a.status).toBe(401);
    expect(a.headers.getSetCookie().join()).toMatch(/JSESSIONID=;/);
    await sleep(350); // b's first-tier copy revalidates
    expect((await get(c, "b", "/api/x", cookie, xhr)).status).toBe(401);
    expect(sim.tokenRequests().filter((r) => r.grantType === "refresh_token").length).toBe(1);
  });

  it("JWT_REFRESH=0 refreshes only once the token has expired", async () => {
    sim.set({ accessTokenTtl: 2 });
    const c = await cluster({ workers: ["a"], env: { JWT_REFRESH: "0" } });
    const { cookie } = await login(c);
    await sleep(1700);
    expect((await get(c, "a", "/api/x", cookie)).status).toBe(200);
    expect(sim.tokenRequests().filter((r) => r.grantType === "refresh_token").length).toBe(0);
    await sleep(600);
    expect((await get(c, "a", "/api/x", cookie)).status).toBe(200);
    expect(sim.tokenRequests().filter((r) => r.grantType === "refresh_token").length).toBe(1);
  });
});

describe("XSUAA logout", () => {
  it("ends the session and sends the browser to /logout.do?redirect=<logoutPage>&client_id=", async () => {
    const c = await cluster();
    const idpJar = new CookieJar();
    const start = await get(c, "a", "/api/x");
    const callback = await loginThroughSapForm({
      routerFetch: (url, init) => c.fetch("a", url, init),
      routerOrigin: ORIGIN,
      start,
      startUrl: `${ORIGIN}/api/x`,
      idpFetch: sim.fetch,
      idpJar,
      username: "demo",
      password: "demo",
    });
    const cookie = sessionCookieOf(callback)!;
    const res = await get(c, "b", "/logout", cookie);
    expect(res.status).toBe(302);
    const location = new URL(res.headers.get("location")!);
    expect(location.origin + location.pathname).toBe(`https://provider.${UAADOMAIN}/logout.do`);
    expect(location.searchParams.get("redirect")).toBe(`${ORIGIN}/public/bye`);
    expect(location.searchParams.get("client_id")).toBe(sim.clientId);
    const back = await logoutThroughSap({
      routerFetch: (url, init) => c.fetch("a", url, init),
      routerOrigin: ORIGIN,
      start: res,
      idpFetch: sim.fetch,
      idpJar,
    });
    expect(back.status).toBe(200); // the public logoutPage, through the router
    await sleep(350);
    expect((await get(c, "a", "/api/x", cookie, xhr)).status).toBe(401);
  });

  it("skip-redirect ends the session without sending the browser anywhere", async () => {
    const c = await cluster({ workers: ["a"] });
    const { cookie } = await login(c);
    const res = await get(c, "a", "/logout?skip-redirect=true", cookie);
    expect(res.status).toBe(200);
    expect(res.headers.get("location")).toBeNull();
    expect((await get(c, "a", "/api/x", cookie, xhr)).status).toBe(401);
  });
});

describe("XSUAA multitenancy (TENANT_HOST_PATTERN, tenantmode shared)", () => {
  it("sends each tenant to its own zone, and refuses a session on another tenant's host", async () => {
    const c = await cluster({
      binding: sim.binding({ tenantmode: "shared" }),
      env: { TENANT_HOST_PATTERN: "^(.*)\\.router\\.test$" },
    });
    const t1 = "https://t1.router.test";
    const { authorize, callback, cookie } = await login(c, { origin: t1 });
    expect(authorize.host).toBe(`t1.${UAADOMAIN}`);
    expect(authorize.searchParams.get("redirect_uri")).toBe(`${t1}/login/callback`);
    expect(callback.status).toBe(302);
    expect(sim.tokenRequests().find((r) => r.grantType === "authorization_code")!.host).toBe(
      `t1.${UAADOMAIN}`,
    );
    expect((await get(c, "a", `${t1}/api/x`, cookie)).status).toBe(200);
    expect(decodeJwt(fx.backend.seen.at(-1)!.headers.authorization!.slice(7)).zid).toBe(
      sim.zone("t1").zoneId,
    );
    const foreign = await get(c, "b", "https://t2.router.test/api/x", cookie);
    expect(foreign.status).toBe(403);
    expect(await foreign.text()).toContain("TENANT_MISMATCH");
    const logout = await get(c, "a", `${t1}/logout`, cookie);
    expect(new URL(logout.headers.get("location")!).host).toBe(`t1.${UAADOMAIN}`);
  });
});

describe("XSUAA with an X.509 binding", () => {
  it("sends token calls to certurl through the mTLS certificate binding, without a secret (tested up to that fetch)", async () => {
    const seen: Array<{ url: string; form: URLSearchParams; authorization: string | null }> = [];
    // Stands in for the Workers mTLS binding: records the call, then lets the simulator answer
    // it (the simulator cannot check a client certificate, so the secret is added here).
    const mtls = async (request: Request): Promise<Response> => {
      const form = new URLSearchParams(await request.text());
      seen.push({
        url: request.url,
        form: new URLSearchParams(form),
        authorization: request.headers.get("authorization"),
      });
      form.set("client_secret", sim.clientSecret);
      form.set("client_id", sim.clientId);
      return sim.fetch(`${sim.url}${new URL(request.url).pathname}`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: form.toString(),
      });
    };
    const base = sim.binding();
    const { clientsecret: _secret, ...credentials } = base.credentials;
    const binding = {
      ...base,
      credentials: {
        ...credentials,
        "credential-type": "x509",
        certificate: "-----BEGIN CERTIFICATE-----\nMII…\n-----END CERTIFICATE-----",
        key: "-----BEGIN RSA PRIVATE KEY-----\nMII…\n-----END RSA PRIVATE KEY-----",
        certurl: `https://provider.authentication.cert.sap.test`,
      },
    };
    const c = await cluster({ binding, serviceBindings: { XSUAA_MTLS: mtls }, workers: ["a"] });
    sim.set({ accessTokenTtl: 2 });
    const { callback, cookie } = await login(c);
    expect(callback.status).toBe(302);
    expect(seen[0]!.url).toBe("https://provider.authentication.cert.sap.test/oauth/token");
    expect(seen[0]!.form.get("client_id")).toBe(sim.clientId);
    expect(seen[0]!.form.has("client_secret")).toBe(false);
    expect(seen[0]!.authorization).toBeNull();
    await sleep(1700);
    expect((await get(c, "a", "/api/x", cookie)).status).toBe(200);
    expect(seen[1]!.form.get("grant_type")).toBe("refresh_token");
    expect(seen[1]!.form.get("client_id")).toBe(sim.clientId);
    expect(seen[1]!.authorization).toBeNull();
  });
});

describe("XSUAA configuration errors", () => {
  it("MERGE_CSP_HEADERS leaves the login page's own Content-Security-Policy alone (SAP merges backends' only); a backend's gets the configured one besides", async () => {
    const configured = "frame-ancestors 'self'";
    const c = await cluster({
      workers: ["a"],
      env: {
        MERGE_CSP_HEADERS: "true",
        httpHeaders: JSON.stringify([{ "Content-Security-Policy": configured }]),
      },
    });
    const { start, cookie } = await login(c);
    expect(start.status).toBe(200);
    // One policy, the page's: a second one would block its script (the fragment would be lost).
    expect(start.headers.get("content-security-policy")).toMatch(
      /^default-src 'none'; script-src 'sha256-[^,]*$/,
    );
    const backend = await get(c, "a", `${ORIGIN}/api/hello`, cookie);
    await backend.arrayBuffer();
    expect(backend.status).toBe(200);
    expect(backend.headers.get("content-security-policy")).toBe(configured); // the backend sends none
  });

  it("two xsuaa bindings: the router refuses to start, naming both, with no secret in the answer", async () => {
    const logs: string[] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => void logs.push(args.join(" "));
    try {
      const c = await cluster({
        bindings: [sim.binding({ name: "one" }), { ...sim.binding({ name: "two" }), label: "xsuaa-other" }],
        workers: ["a"],
      });
      const res = await get(c, "a", "/api/x");
      expect(res.status).toBeGreaterThanOrEqual(500);
      expect(await res.text()).not.toContain(sim.clientSecret);
    } finally {
      console.error = original;
    }
  });
});
