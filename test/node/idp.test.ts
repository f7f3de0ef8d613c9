// The login test harness against the test IdP alone (no router): a real oidc-provider under
// Node 22, the browserless form walker, oauth4webapi as the RP, and one headless Chromium run.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import * as oauth from "oauth4webapi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchBrowser } from "../support/browser.js";
import { CookieJar, loginThroughForms, logoutThroughForms } from "../support/form-login.js";
import { BACKCHANNEL_LOGOUT_EVENT, startIdp, vcapServicesFor, type Idp } from "../support/idp.js";

const ROUTER = "https://router.test";
const REDIRECT_URI = `${ROUTER}/login/callback`;
const insecure = { [oauth.allowInsecureRequests]: true } as const; // http issuer on loopback only

async function discover(issuer: string) {
  const url = new URL(issuer);
  return oauth.processDiscoveryResponse(url, await oauth.discoveryRequest(url, insecure));
}

/** A loopback HTTP server recording POST bodies (back-channel logout receiver) / showing ?code (redirect page). */
async function startLoopbackPage() {
  const posts: string[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://127.0.0.1");
      if (req.method === "POST") {
        posts.push(Buffer.concat(chunks).toString());
        res.writeHead(200).end();
        return;
      }
      const code = (url.searchParams.get("code") ?? "").replace(/[^A-Za-z0-9_-]/g, "");
      res
        .writeHead(200, { "content-type": "text/html" })
        .end(`<!DOCTYPE html><title>callback</title><p id="code">${code}</p>`);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { origin, posts, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/**
 * A tiny stand-in for the router: `start()` answers like a router's login redirect (a 302 to
 * the IdP plus a login-state cookie); `routerFetch` serves the redirect_uri, exchanging the
 * code with oauth4webapi, and answers 302 to "/" with a session cookie, like the real callback.
 */
function fakeRouter(idp: Idp, as: oauth.AuthorizationServer, extraAuthParams: Record<string, string> = {}) {
  const client: oauth.Client = { client_id: idp.clientId };
  const clientAuth = oauth.ClientSecretBasic(idp.clientSecret);
  const pending = new Map<string, { verifier: string; nonce: string }>();
  const seen: Array<{ url: string; cookie: string | null }> = [];
  let tokens: oauth.TokenEndpointResponse | undefined;
  let idTokenClaims: oauth.IDToken | undefined;

  return {
    client,
    clientAuth,
    seen,
    get tokens() {
      return tokens;
    },
    get idTokenClaims() {
      return idTokenClaims;
    },
    async start(): Promise<Response> {
      const verifier = oauth.generateRandomCodeVerifier();
      const state = oauth.generateRandomState();
      const nonce = oauth.generateRandomNonce();
      pending.set(state, { verifier, nonce });
      const auth = new URL(as.authorization_endpoint!);
      for (const [k, v] of Object.entries({
        client_id: idp.clientId,
        response_type: "code",
        redirect_uri: REDIRECT_URI,
        scope: "openid profile email offline_access app.read",
        state,
        nonce,
        code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
        code_challenge_method: "S256",
        ...extraAuthParams,
      }))
        auth.searchParams.set(k, v);
      const headers = new Headers({ location: auth.href });
      headers.append("set-cookie", `login_state=${state}; Path=/login; HttpOnly; Secure; SameSite=Lax`);
      headers.append("set-cookie", `strict_probe=1; Path=/; HttpOnly; Secure; SameSite=Strict`);
      return new Response(null, { status: 302, headers });
    },
    async routerFetch(url: string, init?: RequestInit): Promise<Response> {
      const cookie = new Headers(init?.headers).get("cookie");
      seen.push({ url, cookie });
      const u = new URL(url);
      if (u.pathname !== "/login/callback") return new Response("router page", { status: 200 });
      const state = u.searchParams.get("state") ?? "";
      const p = pending.get(state);
      if (!p || !cookie?.includes(`login_state=${state}`)) return new Response("bad state", { status: 400 });
      pending.delete(state);
      const params = oauth.validateAuthResponse(as, client, u, state);
      const res = await oauth.authorizationCodeGrantRequest(
        as,
        client,
        clientAuth,
        params,
        REDIRECT_URI,
        p.verifier,
        insecure,
      );
      tokens = await oauth.processAuthorizationCodeResponse(as, client, res, {
        expectedNonce: p.nonce,
        requireIdToken: true,
      });
      idTokenClaims = oauth.getValidatedIdTokenClaims(tokens);
      return new Response(null, {
        status: 302,
        headers: { location: "/", "set-cookie": "session=s1; Path=/; HttpOnly; Secure; SameSite=Lax" },
      });
    },
  };
}

describe("test IdP (oidc-provider under Node 22)", () => {
  let idp: Idp;
  let as: oauth.AuthorizationServer;
  let bcl: Awaited<ReturnType<typeof startLoopbackPage>>;

  beforeAll(async () => {
    bcl = await startLoopbackPage();
    idp = await startIdp({
      redirectUris: [REDIRECT_URI],
      postLogoutRedirectUris: [`${ROUTER}/`],
      backchannelLogoutUri: `${bcl.origin}/logout/backchannel`,
    });
    as = await discover(idp.issuer);
  });
  afterAll(async () => {
    await idp?.stop();
    await bcl?.close();
  });

  it("publishes a discovery document with the endpoints a router needs", async () => {
    expect(idp.issuer).toMatch(/^http:\/\/127\.0\.0\.2:\d+$/);
    expect(as.issuer).toBe(idp.issuer);
    for (const k of [
      "authorization_endpoint",
      "token_endpoint",
      "jwks_uri",
      "end_session_endpoint",
      "userinfo_endpoint",
    ] as const) {
      expect(as[k]).toMatch(new RegExp(`^${idp.issuer}/`));
    }
    expect(as.backchannel_logout_supported).toBe(true);
    expect(as.backchannel_logout_session_supported).toBe(true);
    expect(as.code_challenge_methods_supported).toEqual(["S256"]);
    expect(as.scopes_supported).toEqual(
      expect.arrayContaining(["openid", "profile", "email", "offline_access", "app.read", "app.write"]),
    );
    const jwks = (await (await fetch(as.jwks_uri!)).json()) as { keys: Array<Record<string, unknown>> };
    expect(jwks.keys.map((k) => k.kid)).toEqual(idp.publicJwks.keys.map((k) => k.kid));
    expect(jwks.keys[0]).not.toHaveProperty("d");
  });

  it("logs in through the forms (code + PKCE), refreshes once with rotation, counts, logs out with a back-channel call", async () => {
    await idp.reset();
    const router = fakeRouter(idp, as);
    const idpJar = new CookieJar();
    const trace: string[] = [];
    const final = await loginThroughForms({
      routerFetch: (url, init) => router.routerFetch(url, init),
      routerOrigin: ROUTER,
      start: await router.start(),
      login: "alice",
      password: "alice-password",
      idpJar,
      trace,
    });
    expect(final.status, trace.join("\n")).toBe(302);
    expect(final.headers.get("location")).toBe("/");
    expect(final.headers.get("set-cookie")).toContain("session=s1");
    // The redirect back is cross-site (127.0.0.2 -> router.test): Lax cookie sent, Strict withheld.
    const callback = router.seen.find((s) => s.url.startsWith(REDIRECT_URI))!;
    expect(callback.cookie).toContain("login_state=");
    expect(callback.cookie).not.toContain("strict_probe");

    const tokens = router.tokens!;
    expect(tokens.access_token).toBeTruthy();
    expect(tokens.refresh_token).toBeTruthy();
    expect(tokens.id_token).toBeTruthy();
    expect(tokens.token_type.toLowerCase()).toBe("bearer");
    expect(tokens.expires_in).toBe(300);
    // offline_access is dropped without prompt=consent (OIDC Core 11); the refresh token comes anyway.
    expect(tokens.scope?.split(" ").sort()).toEqual(["app.read", "email", "openid", "profile"]);
    const claims = router.idTokenClaims!;
    expect(claims).toMatchObject({
      iss: idp.issuer,
      aud: idp.clientId,
      sub: "user-alice",
      email: "alice@example.test",
      name: "Alice Example",
    });
    expect(claims.sid).toEqual(expect.any(String));
    // ID token signature against the published keys.
    await jwtVerify(tokens.id_token!, createRemoteJWKSet(new URL(as.jwks_uri!)), {
      issuer: idp.issuer,
      audience: idp.clientId,
    });

    // Refresh once: new access and refresh tokens (rotation).
    const r1 = await oauth.processRefreshTokenResponse(
      as,
      router.client,
      await oauth.refreshTokenGrantRequest(
        as,
        router.client,
        router.clientAuth,
        tokens.refresh_token!,
        insecure,
      ),
    );
    expect(r1.access_token).toBeTruthy();
    expect(r1.access_token).not.toBe(tokens.access_token);
    expect(r1.refresh_token).toBeTruthy();
    expect(r1.refresh_token).not.toBe(tokens.refresh_token);

    // The old refresh token again: invalid_grant (and the provider revokes the whole grant).
    const replay = await oauth.refreshTokenGrantRequest(
      as,
      router.client,
      router.clientAuth,
      tokens.refresh_token!,
      insecure,
    );
    expect(replay.status).toBe(400);
    expect(await replay.clone().json()).toMatchObject({ error: "invalid_grant" });
    await expect(oauth.processRefreshTokenResponse(as, router.client, replay)).rejects.toMatchObject({
      error: "invalid_grant",
    });
    const afterReplay = await oauth.refreshTokenGrantRequest(
      as,
      router.client,
      router.clientAuth,
      r1.refresh_token!,
      insecure,
    );
    expect(((await afterReplay.json()) as { error: string }).error).toBe("invalid_grant");

    expect(await idp.counters()).toMatchObject({
      tokenRequests: 4,
      authorizationCodeGrants: 1,
      refreshGrants: 1,
      failedRefreshGrants: 2,
      logins: 1,
    });

    // A second login with the same IdP cookies: single sign-on, no form.
    const router2 = fakeRouter(idp, as);
    const sso = await loginThroughForms({
      routerFetch: (url, init) => router2.routerFetch(url, init),
      routerOrigin: ROUTER,
      start: await router2.start(),
      login: "alice",
      password: "wrong-but-unused",
      idpJar,
    });
    expect(sso.status).toBe(302);
    expect(router2.idTokenClaims!.sub).toBe("user-alice");
    expect((await idp.counters()).logins).toBe(1);

    // RP-initiated logout at the IdP: the back-channel logout token reaches a loopback receiver.
    const endSession = new URL(as.end_session_endpoint!);
    endSession.searchParams.set("id_token_hint", router2.tokens!.id_token!);
    endSession.searchParams.set("post_logout_redirect_uri", `${ROUTER}/`);
    endSession.searchParams.set("state", "bye");
    const after = await logoutThroughForms({
      routerFetch: (url, init) => router2.routerFetch(url, init),
      routerOrigin: ROUTER,
      start: new Response(null, { status: 302, headers: { location: endSession.href } }),
      idpJar,
    });
    expect(after.status).toBe(200);
    expect(router2.seen.at(-1)!.url).toBe(`${ROUTER}/?state=bye`);
    expect(bcl.posts).toHaveLength(1);
    const logoutToken = new URLSearchParams(bcl.posts[0]).get("logout_token")!;
    const { payload, protectedHeader } = await jwtVerify(
      logoutToken,
      createRemoteJWKSet(new URL(as.jwks_uri!)),
      {
        issuer: idp.issuer,
        audience: idp.clientId,
        typ: "logout+jwt",
      },
    );
    expect(protectedHeader.typ).toBe("logout+jwt");
    expect(payload).toMatchObject({
      sub: "user-alice",
      sid: router2.idTokenClaims!.sid,
      events: { [BACKCHANNEL_LOGOUT_EVENT]: {} },
    });
    expect(await idp.counters()).toMatchObject({
      endSessions: 1,
      backchannelLogouts: 1,
      failedBackchannelLogouts: 0,
    });
    // Logging out at the IdP ends the grant: the refresh token (no offline_access) is dead.
    const dead = await oauth.refreshTokenGrantRequest(
      as,
      router2.client,
      router2.clientAuth,
      router2.tokens!.refresh_token!,
      insecure,
    );
    expect(((await dead.json()) as { error: string }).error).toBe("invalid_grant");
  });

  it("rejects a wrong password, and shows the consent page when the RP asks (prompt=consent)", async () => {
    await idp.reset();
    const router = fakeRouter(idp, as);
    await expect(
      loginThroughForms({
        routerFetch: (url, init) => router.routerFetch(url, init),
        routerOrigin: ROUTER,
        start: await router.start(),
        login: "alice",
        password: "nope",
      }),
    ).rejects.toThrow(/rejected login "alice"/);
    expect((await idp.counters()).failedLogins).toBe(1);

    const consenting = fakeRouter(idp, as, { prompt: "login consent" });
    const trace: string[] = [];
    const res = await loginThroughForms({
      routerFetch: (url, init) => consenting.routerFetch(url, init),
      routerOrigin: ROUTER,
      start: await consenting.start(),
      login: "bob",
      password: "bob-password",
      trace,
    });
    expect(res.status, trace.join("\n")).toBe(302);
    expect(trace.filter((l) => /^idp POST .*\/interaction\//.test(l))).toHaveLength(2); // login, then consent
    expect(consenting.tokens!.refresh_token).toBeTruthy();
    expect(consenting.tokens!.scope?.split(" ")).toContain("offline_access");
    expect(consenting.idTokenClaims).toMatchObject({ sub: "user-bob", email: "bob@example.test" });
  });

  it("issues a refresh token without offline_access too", async () => {
    const router = fakeRouter(idp, as, { scope: "openid email" });
    const res = await loginThroughForms({
      routerFetch: (url, init) => router.routerFetch(url, init),
      routerOrigin: ROUTER,
      start: await router.start(),
      login: "alice",
      password: "alice-password",
    });
    expect(res.status).toBe(302);
    expect(router.tokens!.refresh_token).toBeTruthy();
  });

  it("simulates a token endpoint outage (down-503, slow) and resets", async () => {
    await idp.reset();
    const client = { client_id: idp.clientId };
    const auth = oauth.ClientSecretBasic(idp.clientSecret);
    await idp.setMode("down-503");
    const down = await oauth.refreshTokenGrantRequest(as, client, auth, "any-refresh-token", insecure);
    expect(down.status).toBe(503);
    expect(await down.json()).toMatchObject({ error: "temporarily_unavailable" });

    await idp.setMode("slow", 400);
    const t0 = Date.now();
    const slow = await oauth.refreshTokenGrantRequest(as, client, auth, "any-refresh-token", insecure);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(390);
    expect(slow.status).toBe(400); // unknown token: invalid_grant, after the delay
    expect(await idp.counters()).toMatchObject({ tokenRequests: 2, failedRefreshGrants: 1 });

    await idp.reset();
    expect(await idp.counters()).toMatchObject({
      tokenRequests: 0,
      refreshGrants: 0,
      failedRefreshGrants: 0,
    });
    const up = await oauth.refreshTokenGrantRequest(as, client, auth, "any-refresh-token", insecure);
    expect(up.status).toBe(400);
  });

  it("signs back-channel logout tokens and forged ID tokens for negative tests", async () => {
    const jwks = createRemoteJWKSet(new URL(as.jwks_uri!));
    const token = await idp.signLogoutToken({ sid: "sid-1", sub: "user-alice" });
    const { payload, protectedHeader } = await jwtVerify(token, jwks, {
      issuer: idp.issuer,
      audience: idp.clientId,
    });
    expect(protectedHeader).toMatchObject({
      alg: "RS256",
      typ: "logout+jwt",
      kid: idp.publicJwks.keys[0]?.kid,
    });
    expect(payload).toMatchObject({
      sid: "sid-1",
      sub: "user-alice",
      events: { [BACKCHANNEL_LOGOUT_EVENT]: {} },
    });
    expect(payload.jti).toEqual(expect.any(String));
    expect(payload).not.toHaveProperty("nonce");

    const bad = await idp.signLogoutToken({ sid: "sid-1", omitEvents: true, nonce: "n" });
    const { payload: badPayload } = await jwtVerify(bad, jwks);
    expect(badPayload).not.toHaveProperty("events");
    expect(badPayload.nonce).toBe("n");

    const forged = await idp.signLogoutToken({ sid: "sid-1", key: "foreign" });
    expect(decodeProtectedHeader(forged).kid).toBe(idp.publicJwks.keys[0]?.kid);
    await expect(jwtVerify(forged, jwks)).rejects.toThrow();

    const now = Math.floor(Date.now() / 1000);
    const idToken = await idp.signIdToken({
      iss: idp.issuer,
      aud: idp.clientId,
      sub: "user-alice",
      iat: now,
      exp: now + 60,
    });
    await expect(
      jwtVerify(idToken, jwks, { issuer: idp.issuer, audience: idp.clientId }),
    ).resolves.toBeTruthy();
    await expect(jwtVerify(await idp.signIdToken({ sub: "x" }, { key: "foreign" }), jwks)).rejects.toThrow();

    // The IdP can also send one itself, to the registered loopback receiver.
    const before = bcl.posts.length;
    expect(await idp.sendBackchannelLogout({ sub: "user-alice", sid: "sid-2" })).toEqual({ ok: true });
    const sent = new URLSearchParams(bcl.posts[before]).get("logout_token")!;
    expect(
      (await jwtVerify(sent, jwks, { issuer: idp.issuer, audience: idp.clientId })).payload,
    ).toMatchObject({ sid: "sid-2", sub: "user-alice" });
  });

  it("builds VCAP_SERVICES bindings", () => {
    const xsuaa = JSON.parse(vcapServicesFor(idp, { label: "xsuaa", xsappname: "myapp" }));
    expect(xsuaa.xsuaa[0]).toMatchObject({
      label: "xsuaa",
      name: "uaa",
      credentials: {
        url: idp.issuer,
        clientid: idp.clientId,
        clientsecret: idp.clientSecret,
        xsappname: "myapp",
      },
    });
    const ias = JSON.parse(vcapServicesFor(idp, { label: "identity", name: "my-ias" }));
    expect(ias.identity[0]).toMatchObject({
      label: "identity",
      name: "my-ias",
      credentials: { url: idp.issuer, clientid: idp.clientId },
    });
    expect(ias.identity[0].credentials).not.toHaveProperty("xsappname");
  });
});

it("mounts the provider under an issuer path", async () => {
  const idp = await startIdp({ host: "127.0.0.1", issuerPath: "/oidc", redirectUris: [REDIRECT_URI] });
  try {
    expect(idp.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/oidc$/);
    const as = await discover(idp.issuer);
    expect(as.token_endpoint).toBe(`${idp.issuer}/token`);
    const router = fakeRouter(idp, as);
    const res = await loginThroughForms({
      routerFetch: (url, init) => router.routerFetch(url, init),
      routerOrigin: ROUTER,
      start: await router.start(),
      login: "bob",
      password: "bob-password",
    });
    expect(res.status).toBe(302);
    expect(router.idTokenClaims).toMatchObject({ iss: idp.issuer, sub: "user-bob" });
    expect((await idp.counters()).authorizationCodeGrants).toBe(1);
  } finally {
    await idp.stop();
  }
});

it("headless Chromium logs in at the IdP and lands on the redirect URI with a code", async () => {
  const page = await startLoopbackPage();
  const redirectUri = `${page.origin}/cb`;
  const idp = await startIdp({ redirectUris: [redirectUri] });
  const browser = await launchBrowser();
  try {
    const as = await discover(idp.issuer);
    const verifier = oauth.generateRandomCodeVerifier();
    const state = oauth.generateRandomState();
    const auth = new URL(as.authorization_endpoint!);
    auth.search = new URLSearchParams({
      client_id: idp.clientId,
      response_type: "code",
      redirect_uri: redirectUri,
      scope: "openid email",
      state,
      code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
      code_challenge_method: "S256",
    }).toString();

    const tab = await browser.newPage();
    await tab.goto(auth.href);
    await tab.fill('input[name="login"]', "alice");
    await tab.fill('input[name="password"]', "alice-password");
    await Promise.all([tab.waitForURL(`${redirectUri}?**`), tab.click('button[type="submit"]')]);
    const code = await tab.textContent("#code");
    expect(code).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    const landed = new URL(tab.url());
    expect(landed.searchParams.get("state")).toBe(state);

    const client = { client_id: idp.clientId };
    const params = oauth.validateAuthResponse(as, client, landed, state);
    const tokens = await oauth.processAuthorizationCodeResponse(
      as,
      client,
      await oauth.authorizationCodeGrantRequest(
        as,
        client,
        oauth.ClientSecretBasic(idp.clientSecret),
        params,
        redirectUri,
        verifier,
        insecure,
      ),
    );
    expect(oauth.getValidatedIdTokenClaims(tokens)).toMatchObject({
      sub: "user-alice",
      email: "alice@example.test",
    });
  } finally {
    await browser.close();
    await idp.stop();
    await page.close();
  }
});
