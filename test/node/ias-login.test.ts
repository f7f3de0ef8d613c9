import { decodeJwt } from "jose";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { sessionCookieOf, type Cluster } from "../support/cluster.js";
import { useStoreFixture } from "../support/store-fixture.js";
import { loginThroughSapForm, scriptRedirectOf } from "../support/sap-form-login.js";
import { startIasSim, startXsuaaSim, type IasSim, type XsuaaSim } from "../support/sap-idp.js";
import { SECRET_A } from "../support/secrets.js";
import { sleep } from "../support/wait.js";
import { getOn, outboundTo, xhr } from "../support/login-cluster.js";

/**
 * Login with an SAP-style IAS binding (`identity`) against the IAS simulator at a realistic
 * tenant URL (`https://mytenant.accounts.ondemand.test`, routed to loopback by the
 * cluster's outbound hook), and back-channel logout through xs-app.json's
 * `logout.backChannelLogoutEndpoint`.
 */
const ORIGIN = "https://router.test";
let ias: IasSim;
let xsuaa: XsuaaSim;
const fx = useStoreFixture({ ext: { sessionSecret: SECRET_A, revalidateAfter: 300 } });

const XS_APP = {
  authenticationMethod: "route",
  routes: [
    { source: "^/public/(.*)$", target: "/$1", destination: "backend", authenticationType: "none" },
    { source: "^/uaa/(.*)$", target: "/$1", destination: "backend", authenticationType: "xsuaa" },
    { source: "^/(.*)$", target: "/$1", destination: "backend" },
  ],
  logout: {
    logoutEndpoint: "/logout",
    logoutPage: "/public/bye",
    backChannelLogoutEndpoint: "/my/backchannel",
  },
};

beforeAll(async () => {
  [ias, xsuaa] = await Promise.all([
    startIasSim({ url: "https://mytenant.accounts.ondemand.test", redirectUris: ["https://router.test/**"] }),
    startXsuaaSim({ uaadomain: "authentication.sap.test", redirectUris: ["https://router.test/**"] }),
  ]);
});
afterEach(async () => {
  ias.reset();
  ias.endSessions();
});
afterAll(async () => {
  await Promise.all([ias?.stop(), xsuaa?.stop()]);
});

const toSims = (request: Request) => outboundTo([ias, xsuaa])(request);

function cluster(
  o: { env?: Record<string, string>; withXsuaa?: boolean; workers?: string[] } = {},
): Promise<Cluster> {
  return fx.cluster({
    workers: o.workers ?? ["a", "b"],
    services: [ias.binding(), ...(o.withXsuaa ? [xsuaa.binding()] : [])] as unknown as Array<
      { label: string } & Record<string, unknown>
    >,
    destination: { forwardAuthToken: true },
    bindings: {
      // Both bound: a route without authenticationType would use XSUAA (SAP), so the catch-all names IAS.
      XS_APP: JSON.stringify(
        o.withXsuaa
          ? {
              ...XS_APP,
              routes: XS_APP.routes.map((r) =>
                r.authenticationType ? r : { ...r, authenticationType: "ias" },
              ),
            }
          : { ...XS_APP, routes: XS_APP.routes.filter((r) => r.authenticationType !== "xsuaa") },
      ),
      ...o.env,
    },
    outbound: toSims,
  });
}

async function login(c: Cluster, path = "/app/x", worker = "a") {
  const start = await c.fetch(worker, path, { redirect: "manual" });
  const authorize = new URL(
    start.status === 302 ? start.headers.get("location")! : scriptRedirectOf(await start.clone().text())!,
  );
  const callback = await loginThroughSapForm({
    routerFetch: (url, init) => c.fetch(worker, url, init),
    routerOrigin: ORIGIN,
    start,
    startUrl: `${ORIGIN}${path}`,
    idpFetch: ias.fetch,
    username: ias.users[0]!.username,
    password: ias.users[0]!.password,
  });
  return { start, authorize, callback, cookie: sessionCookieOf(callback) };
}

const get = getOn;

describe("IAS login", () => {
  it("logs in as SAP's router does (scope=openid, nonce, app_tid; secret in body and Basic), a route without authenticationType using IAS", async () => {
    const c = await cluster();
    const { authorize, callback, cookie } = await login(c, "/app/x?y=1");
    expect(authorize.origin + authorize.pathname).toBe(
      "https://mytenant.accounts.ondemand.test/oauth2/authorize",
    );
    expect(authorize.searchParams.get("scope")).toBe("openid");
    expect(authorize.searchParams.get("nonce")).toBeTruthy();
    expect(authorize.searchParams.get("app_tid")).toBe(ias.appTid);
    expect(authorize.searchParams.get("code_challenge_method")).toBe("S256");
    expect(callback.status).toBe(302);
    expect(callback.headers.get("location")).toBe("/app/x?y=1");
    const grant = ias.tokenRequests().find((r) => r.grantType === "authorization_code")!;
    expect(grant.clientAuthMethod).toBe("client_secret_basic+post");
    expect(grant.appTid).toBe(ias.appTid);
    expect((await get(c, "b", "/app/x", cookie)).status).toBe(200);
    expect(decodeJwt(fx.backend.seen.at(-1)!.headers.authorization!.slice(7)).iss).toBe(ias.issuer);
  });

  it("keeps the URL #fragment through login (PRESERVE_FRAGMENT): the page's cookie comes back on the Location", async () => {
    const c = await cluster({ workers: ["a"] });
    const start = await c.fetch("a", "/app/deep", { redirect: "manual" });
    expect(start.status).toBe(200);
    const html = await start.clone().text();
    const fragmentCookie = /data-c="([^"]+)"/.exec(html)![1]!;
    // What the page's script does in a browser with location.hash = "#/Products(1)/detail".
    const callback = await loginThroughSapForm({
      routerFetch: (url, init) => {
        const headers = new Headers(init?.headers);
        if (new URL(url).pathname === "/login/callback")
          headers.set(
            "cookie",
            [headers.get("cookie"), `${fragmentCookie}=${encodeURIComponent("#/Products(1)/detail")}`]
              .filter(Boolean)
              .join("; "),
          );
        return c.fetch("a", url, { ...init, headers });
      },
      routerOrigin: ORIGIN,
      start,
      startUrl: `${ORIGIN}/app/deep`,
      idpFetch: ias.fetch,
      username: ias.users[0]!.username,
      password: ias.users[0]!.password,
    });
    expect(callback.headers.get("location")).toBe("/app/deep#/Products(1)/detail");
    expect(callback.headers.getSetCookie().join()).toContain(`${fragmentCookie}=;`);
  });

  it("logs out through /oauth2/logout with post_logout_redirect_uri and client_id (id_token_hint with LOGOUT_WITH_TOKEN_HINT)", async () => {
    const c = await cluster({ workers: ["a"] });
    const { cookie } = await login(c);
    const res = await get(c, "a", "/logout", cookie);
    const location = new URL(res.headers.get("location")!);
    expect(location.origin + location.pathname).toBe("https://mytenant.accounts.ondemand.test/oauth2/logout");
    expect(location.searchParams.get("post_logout_redirect_uri")).toBe(`${ORIGIN}/public/bye`);
    expect(location.searchParams.get("client_id")).toBe(ias.clientId);
    expect(location.searchParams.has("id_token_hint")).toBe(false);

    const hinted = await cluster({ workers: ["a"], env: { LOGOUT_WITH_TOKEN_HINT: "true" } });
    const second = await login(hinted);
    const res2 = await get(hinted, "a", "/logout", second.cookie);
    const hint = new URL(res2.headers.get("location")!).searchParams.get("id_token_hint")!;
    expect(decodeJwt(hint).aud).toContain(ias.clientId);
  });

  it("serves back-channel logout at xs-app.json backChannelLogoutEndpoint: the sid's session ends on every isolate", async () => {
    const c = await cluster();
    const mine = await login(c);
    const sid = ias.sessionIds()[0]!;
    ias.endSessions();
    const other = await login(c, "/app/y", "b");
    expect((await get(c, "b", "/app/x", mine.cookie)).status).toBe(200);
    const status = await ias.sendBackchannelLogout({
      endpoint: `${ORIGIN}/my/backchannel`,
      sid,
      fetch: (input, init) => c.fetch("b", String(input), init),
    });
    expect(status).toBe(200);
    await sleep(350);
    for (const w of ["a", "b"]) expect((await get(c, w, "/app/x", mine.cookie, xhr)).status).toBe(401);
    expect((await get(c, "a", "/app/x", other.cookie)).status).toBe(200);
    // The fixed path stays an alias.
    const alias = await ias.sendBackchannelLogout({
      endpoint: `${ORIGIN}/login/backchannel-logout`,
      sid: ias.sessionIds()[0]!,
      fetch: (input, init) => c.fetch("a", String(input), init),
    });
    expect(alias).toBe(200);
  });
});

describe("IAS down", () => {
  it("keeps existing sessions; a new login gets a clear 503 page, and works once IAS is back", async () => {
    const c = await cluster();
    const { cookie } = await login(c); // discovery is known on isolate a only
    await ias.stop();
    try {
      expect((await get(c, "b", "/app/x", cookie)).status).toBe(200);
      const fresh = await get(c, "b", "/app/new");
      expect(fresh.status).toBe(503);
      expect(await fresh.text()).toContain("IDP_UNAVAILABLE");
      expect(fresh.headers.get("retry-after")).toBeTruthy();
    } finally {
      await ias.start();
    }
    const again = await get(c, "b", "/app/new");
    expect(again.status).toBe(200);
    expect(scriptRedirectOf(await again.text())).toContain("/oauth2/authorize");
  });
});

describe("IAS and XSUAA both bound", () => {
  it("adds ?authType= to the redirect URI, and a callback of the other type is refused", async () => {
    const c = await cluster({ withXsuaa: true, workers: ["a"] });
    const { authorize, callback } = await login(c, "/app/x");
    expect(authorize.searchParams.get("redirect_uri")).toBe(`${ORIGIN}/login/callback?authType=ias`);
    expect(callback.status).toBe(302);
    const uaa = await c.fetch("a", "/uaa/x", { redirect: "manual" });
    const uaaAuthorize = new URL(scriptRedirectOf(await uaa.text())!);
    expect(uaaAuthorize.searchParams.get("redirect_uri")).toBe(`${ORIGIN}/login/callback?authType=xsuaa`);
    // A state of an IAS login presented as an XSUAA callback.
    const start = await c.fetch("a", "/app/z", { redirect: "manual" });
    const state = new URL(scriptRedirectOf(await start.text())!).searchParams.get("state")!;
    const loginCookie = start.headers
      .getSetCookie()
      .find((h) => h.includes("_login_"))!
      .split(";")[0]!;
    const crossed = await c.fetch("a", `/login/callback?authType=xsuaa&state=${state}&code=x`, {
      redirect: "manual",
      headers: { cookie: loginCookie },
    });
    expect(crossed.status).toBe(400);
  });
});
