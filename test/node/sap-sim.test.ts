import { spawn } from "node:child_process";
import { createServer, type Server } from "node:http";
import { createInterface } from "node:readline";
import type { AddressInfo } from "node:net";
import { createHash, createPrivateKey, randomBytes, X509Certificate } from "node:crypto";
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from "jose";
import { Request as MiniflareRequest } from "miniflare";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { CookieJar } from "../support/form-login.js";
import { loginThroughSapForm, logoutThroughSap, scriptRedirectOf } from "../support/sap-form-login.js";
import {
  BACKCHANNEL_LOGOUT_EVENT,
  outboundVia,
  startIasSim,
  startXsuaaSim,
  type IasSim,
  type SimFetch,
  type XsuaaSim,
} from "../support/sap-idp.js";

/**
 * The XSUAA and IAS simulators behave as /work/shared/notes/xsuaa-ias-facts.md says SAP's
 * services do: what a router that works against them can rely on.
 */
const ROUTER = "https://router.test";
const CALLBACK = `${ROUTER}/login/callback`;
const UAADOMAIN = "authentication.sap.test";

interface Tokens {
  access_token: string;
  token_type: string;
  id_token?: string;
  refresh_token?: string;
  expires_in: number;
  scope: string;
  jti?: string;
}

const pkce = () => {
  const verifier = randomBytes(32).toString("base64url");
  return { verifier, challenge: createHash("sha256").update(verifier).digest("base64url") };
};

/**
 * Log in through the simulator's form as a browser would (the router side is a stand-in that
 * only starts the login and catches the callback); returns the callback's query.
 */
async function authorize(
  idpFetch: SimFetch,
  authorizeUrl: string,
  user = { username: "demo", password: "demo" },
  idpJar?: CookieJar,
): Promise<URLSearchParams> {
  let callback: URL | undefined;
  const routerFetch = async (url: string) => {
    callback = new URL(url);
    return new Response("ok");
  };
  // SAP's router starts the login with a 200 page whose script sets location.
  const start = new Response(`<html><script>location="${authorizeUrl}"</script></html>`, {
    headers: { "content-type": "text/html" },
  });
  await loginThroughSapForm({
    routerFetch,
    routerOrigin: ROUTER,
    start,
    idpFetch,
    ...(idpJar ? { idpJar } : {}),
    ...user,
  });
  expect(callback?.origin + (callback?.pathname ?? "")).toBe(CALLBACK);
  return callback!.searchParams;
}

async function tokenRequest(
  idpFetch: SimFetch,
  url: string,
  form: Record<string, string>,
  basic?: [string, string],
): Promise<{ status: number; body: Record<string, unknown> }> {
  const headers: Record<string, string> = { "content-type": "application/x-www-form-urlencoded" };
  if (basic)
    headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(basic[0])}:${encodeURIComponent(basic[1])}`).toString("base64")}`;
  const res = await idpFetch(url, { method: "POST", headers, body: new URLSearchParams(form).toString() });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe("XSUAA simulator", () => {
  let sim: XsuaaSim;
  const authorizeUrl = (zoneUrl: string, params: Record<string, string> = {}) =>
    `${zoneUrl}/oauth/authorize?${new URLSearchParams({ response_type: "code", client_id: sim.clientId, redirect_uri: CALLBACK, state: "st-1", ...params })}`;
  /** A code exchange as SAP's router does it: client_secret_post. */
  const exchange = (zoneUrl: string, code: string, extra: Record<string, string> = {}) =>
    tokenRequest(sim.fetch, `${zoneUrl}/oauth/token`, {
      grant_type: "authorization_code",
      code,
      redirect_uri: CALLBACK,
      client_id: sim.clientId,
      client_secret: sim.clientSecret,
      ...extra,
    });
  /** A refresh as SAP's router does it: client_secret_basic. */
  const refresh = (refreshToken: string) =>
    tokenRequest(
      sim.fetch,
      `${sim.url}/oauth/token`,
      { grant_type: "refresh_token", refresh_token: refreshToken, app_tid: "" },
      [sim.clientId, sim.clientSecret],
    );
  const loginTokens = async (params: Record<string, string> = {}) => {
    const q = await authorize(sim.fetch, authorizeUrl(sim.url, params));
    const r = await exchange(sim.url, q.get("code")!);
    expect(r.status).toBe(200);
    return r.body as unknown as Tokens;
  };

  beforeAll(async () => {
    sim = await startXsuaaSim({
      uaadomain: UAADOMAIN,
      tenants: ["t1"],
      redirectUris: [CALLBACK, "https://*.router.test/**"],
      logoutRedirectUris: [`${ROUTER}/public/**`],
    });
  });
  afterAll(() => sim?.stop());
  beforeEach(() => {
    sim.reset();
    sim.endSessions();
  });

  it("publishes UAA's discovery document: issuer <url>/oauth/token, UAA paths", async () => {
    expect(sim.url).toBe(`https://provider.${UAADOMAIN}`);
    const d = (await (await sim.fetch(`${sim.url}/.well-known/openid-configuration`)).json()) as Record<
      string,
      string
    >;
    expect(d.issuer).toBe(`${sim.url}/oauth/token`);
    expect(d.authorization_endpoint).toBe(`${sim.url}/oauth/authorize`);
    expect(d.token_endpoint).toBe(`${sim.url}/oauth/token`);
    expect(d.jwks_uri).toBe(`${sim.url}/token_keys`);
  });

  it("gives the binding exactly as the platform does", () => {
    const b = sim.binding();
    expect(b).toMatchObject({ label: "xsuaa", tags: ["xsuaa"], plan: "application" });
    expect(b.credentials).toMatchObject({
      url: sim.url,
      clientid: "sb-approuter-edge!t123",
      xsappname: "approuter-edge!t123",
      uaadomain: UAADOMAIN,
      identityzone: "provider",
      tenantmode: "dedicated",
      "credential-type": "binding-secret",
    });
    expect(b.credentials.identityzoneid).toBe(b.credentials.tenantid);
    expect(JSON.parse(sim.vcapServices({ tenantmode: "shared" })).xsuaa[0].credentials.tenantmode).toBe(
      "shared",
    );
  });

  it("without a scope parameter grants the user's $XSAPPNAME scopes; tokens have XSUAA's shape and verify against /token_keys?zid=", async () => {
    const t = await loginTokens();
    expect(t.token_type).toBe("bearer");
    expect(t.scope.split(" ").sort()).toEqual([
      "approuter-edge!t123.Display",
      "approuter-edge!t123.Edit",
      "openid",
      "uaa.user",
    ]);
    const header = decodeProtectedHeader(t.access_token);
    expect(header).toMatchObject({ alg: "RS256", kid: sim.kid, jku: `${sim.url}/token_keys` });
    const zid = sim.zone("provider").zoneId;
    const jwks = (await (await sim.fetch(`https://${UAADOMAIN}/token_keys?zid=${zid}`)).json()) as {
      keys: Array<Record<string, string>>;
    };
    expect(Object.keys(jwks.keys[0]!).sort()).toEqual(["alg", "e", "kid", "kty", "n", "use", "value"]);
    expect(jwks.keys[0]!.value).toContain("BEGIN PUBLIC KEY");
    const { payload } = await jwtVerify(t.access_token, createLocalJWKSet(jwks as never));
    expect(payload).toMatchObject({
      iss: `${sim.url}/oauth/token`,
      zid,
      cid: sim.clientId,
      azp: sim.clientId,
      client_id: sim.clientId,
      grant_type: "authorization_code",
      user_name: "demo",
      origin: "sap.default",
      ext_attr: { enhancer: "XSUAA", zdn: "provider", subaccountid: sim.zone("provider").subaccountId },
    });
    expect(payload.scope).toEqual(
      expect.arrayContaining(["approuter-edge!t123.Display", "approuter-edge!t123.Edit"]),
    );
    expect(payload.aud).toEqual(expect.arrayContaining([sim.clientId, "approuter-edge!t123"]));
    for (const claim of [
      "jti",
      "sub",
      "user_id",
      "email",
      "given_name",
      "family_name",
      "auth_time",
      "rev_sig",
      "iat",
      "exp",
      "xs.user.attributes",
      "xs.system.attributes",
    ]) {
      expect(payload, claim).toHaveProperty([claim]);
    }
    // The id_token: the client has openid and no scope was asked for; UAA puts no nonce in it.
    const id = decodeJwt(t.id_token!);
    expect(id.aud).toEqual([sim.clientId]);
    expect(id).not.toHaveProperty("nonce");
  });

  it("with scope=openid grants only openid, as UAA does", async () => {
    const t = await loginTokens({ scope: "openid", nonce: "n-1" });
    expect(t.scope).toBe("openid");
    expect(decodeJwt(t.access_token).scope).toEqual(["openid"]);
    expect(t.id_token).toBeDefined();
    expect(decodeJwt(t.id_token!)).not.toHaveProperty("nonce");
    // What the router sent is on record for its own tests.
    expect(sim.requests().find((r) => r.path === "/oauth/authorize")?.query).toMatchObject({
      scope: "openid",
      nonce: "n-1",
    });
    await authorize(
      sim.fetch,
      authorizeUrl(sim.url, { idp: "corporate-idp", login_hint: '{"origin":"corporate-idp"}' }),
    );
    expect(
      sim
        .requests()
        .filter((r) => r.path === "/oauth/authorize")
        .at(-1)?.query,
    ).toMatchObject({ idp: "corporate-idp", login_hint: '{"origin":"corporate-idp"}' });
  });

  it("refuses a scope the client does not have with invalid_scope on the redirect", async () => {
    const res = await sim.fetch(authorizeUrl(sim.url, { scope: "openid other!t9.Read" }));
    const back = new URL(res.headers.get("location")!);
    expect(back.searchParams.get("error")).toBe("invalid_scope");
    expect(back.searchParams.get("state")).toBe("st-1");
  });

  it("accepts both client authentication methods and records which one a request used", async () => {
    const q = await authorize(sim.fetch, authorizeUrl(sim.url));
    const r1 = await exchange(sim.url, q.get("code")!);
    const r2 = await refresh(String(r1.body.refresh_token));
    expect(r2.status).toBe(200);
    const bad = await tokenRequest(
      sim.fetch,
      `${sim.url}/oauth/token`,
      { grant_type: "client_credentials" },
      [sim.clientId, "wrong"],
    );
    expect(bad.status).toBe(401);
    expect(sim.tokenRequests().map((r) => [r.grantType, r.clientAuthMethod, r.status])).toEqual([
      ["authorization_code", "client_secret_post", 200],
      ["refresh_token", "client_secret_basic", 200],
      ["client_credentials", "client_secret_basic", 401],
    ]);
    const logged = JSON.stringify(sim.requests());
    expect(logged).not.toContain(sim.clientSecret);
    expect(sim.tokenRequests()[1]!.headers.authorization).toBe("<redacted>");
  });

  it("enforces PKCE S256 and single-use codes", async () => {
    const p = pkce();
    const withChallenge = { code_challenge: p.challenge, code_challenge_method: "S256" };
    const q1 = await authorize(sim.fetch, authorizeUrl(sim.url, withChallenge));
    expect((await exchange(sim.url, q1.get("code")!, { code_verifier: pkce().verifier })).body.error).toBe(
      "invalid_grant",
    );
    // A failed attempt used the code up.
    expect((await exchange(sim.url, q1.get("code")!, { code_verifier: p.verifier })).body.error).toBe(
      "invalid_grant",
    );
    const q2 = await authorize(sim.fetch, authorizeUrl(sim.url, withChallenge));
    expect((await exchange(sim.url, q2.get("code")!)).body.error).toBe("invalid_grant");
    const q3 = await authorize(sim.fetch, authorizeUrl(sim.url, withChallenge));
    expect((await exchange(sim.url, q3.get("code")!, { code_verifier: p.verifier })).status).toBe(200);
    expect((await exchange(sim.url, q3.get("code")!, { code_verifier: p.verifier })).body.error).toBe(
      "invalid_grant",
    );
    const plain = await sim.fetch(
      authorizeUrl(sim.url, { code_challenge: p.verifier, code_challenge_method: "plain" }),
    );
    expect(new URL(plain.headers.get("location")!).searchParams.get("error")).toBe("invalid_request");
  });

  it("rotates refresh tokens: a reused one is invalid_grant; optionally no refresh_token; revocation", async () => {
    const t = await loginTokens();
    const r1 = await refresh(t.refresh_token!);
    expect(r1.status).toBe(200);
    expect(r1.body.refresh_token).toEqual(expect.any(String));
    expect(r1.body.refresh_token).not.toBe(t.refresh_token);
    expect(r1.body.scope).toBe(t.scope);
    const reuse = await refresh(t.refresh_token!);
    expect(reuse).toMatchObject({ status: 400, body: { error: "invalid_grant" } });

    sim.set({ refreshReturnsRefreshToken: false });
    const r2 = await refresh(String(r1.body.refresh_token));
    expect(r2.status).toBe(200);
    expect(r2.body).not.toHaveProperty("refresh_token");
    expect((await refresh(String(r1.body.refresh_token))).status).toBe(200);

    sim.revokeRefreshTokens("demo");
    expect(await refresh(String(r1.body.refresh_token))).toMatchObject({
      status: 400,
      body: { error: "invalid_grant" },
    });
  });

  it("answers /token_keys for an unknown zid with 400", async () => {
    const res = await sim.fetch(`https://${UAADOMAIN}/token_keys?zid=not-a-zone`);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toBe("invalid_request");
  });

  it("redirects /logout.do only to allowed URIs of the client", async () => {
    const jar = new CookieJar();
    await authorize(sim.fetch, authorizeUrl(sim.url), undefined, jar);
    const logout = (redirect: string, clientId?: string) =>
      `${sim.url}/logout.do?${new URLSearchParams({ redirect, ...(clientId ? { client_id: clientId } : {}) })}`;
    const bye = `${ROUTER}/public/bye`;
    const ended = await logoutThroughSap({
      routerFetch: async (url) => new Response(`back at ${url}`),
      routerOrigin: ROUTER,
      start: new Response(null, { status: 302, headers: { location: logout(bye, sim.clientId) } }),
      idpFetch: sim.fetch,
      idpJar: jar,
    });
    expect(await ended.text()).toBe(`back at ${bye}`);
    // The simulator's session ended: the next authorize shows the form again.
    const again = await sim.fetch(authorizeUrl(sim.url), { headers: { cookie: jar.header(sim.url) ?? "" } });
    expect(again.status).toBe(200);
    for (const [target, cid] of [
      ["https://evil.test/", sim.clientId],
      [bye, undefined],
      [bye, "other-client"],
    ] as const) {
      const res = await sim.fetch(logout(target, cid));
      expect(res.status).toBe(302);
      expect(res.headers.get("location")).toBe(`${sim.url}/logged_out`);
    }
  });

  it("logs in again without the form while its session lasts", async () => {
    const jar = new CookieJar();
    await authorize(sim.fetch, authorizeUrl(sim.url), undefined, jar);
    const res = await sim.fetch(authorizeUrl(sim.url), { headers: { cookie: jar.header(sim.url) ?? "" } });
    expect(res.status).toBe(302);
    expect(new URL(res.headers.get("location")!).searchParams.get("code")).toBeTruthy();
  });

  it("picks the identity zone from the Host header: tenant hosts, unknown subdomains 404, codes bound to their zone", async () => {
    const t1 = sim.zone("t1");
    expect(t1.url).toBe(`https://t1.${UAADOMAIN}`);
    const q = await authorize(sim.fetch, authorizeUrl(t1.url));
    const r = await exchange(t1.url, q.get("code")!);
    expect(r.status).toBe(200);
    const claims = decodeJwt(String(r.body.access_token));
    expect(claims).toMatchObject({ zid: t1.zoneId, iss: `${t1.url}/oauth/token`, ext_attr: { zdn: "t1" } });
    const d = (await (await sim.fetch(`${t1.url}/.well-known/openid-configuration`)).json()) as {
      issuer: string;
    };
    expect(d.issuer).toBe(`${t1.url}/oauth/token`);
    expect((await sim.fetch(`https://nope.${UAADOMAIN}/oauth/authorize`)).status).toBe(404);
    const q2 = await authorize(sim.fetch, authorizeUrl(t1.url));
    expect((await exchange(sim.url, q2.get("code")!)).body.error).toBe("invalid_grant");
    expect(sim.requests().some((e) => e.zone === "t1" && e.path === "/oauth/token")).toBe(true);
  });

  it("checks redirect_uri against UAA patterns (query ignored, wildcards) and refuses others without redirecting", async () => {
    const q = await authorize(
      sim.fetch,
      authorizeUrl(sim.url, { redirect_uri: `${CALLBACK}?authType=xsuaa` }),
    );
    expect(q.get("authType")).toBe("xsuaa");
    expect((await exchange(sim.url, q.get("code")!)).body.error).toBe("invalid_grant"); // redirect_uri must equal the authorize one
    const wild = await sim.fetch(
      authorizeUrl(sim.url, { redirect_uri: "https://tenant1.router.test/deep/login/callback" }),
    );
    expect(wild.status).toBe(200);
    for (const bad of [
      "https://router.test.evil.test/login/callback",
      "https://a.b.router.test.evil/x",
      "https://evil.test/login/callback",
      "not a url",
    ]) {
      const res = await sim.fetch(authorizeUrl(sim.url, { redirect_uri: bad }));
      expect(res.status, bad).toBe(400);
      expect(res.headers.get("location")).toBeNull();
    }
  });

  it("serves /userinfo for a user token of its zone", async () => {
    const t = await loginTokens();
    const ok = await sim.fetch(`${sim.url}/userinfo`, {
      headers: { authorization: `Bearer ${t.access_token}` },
    });
    expect(await ok.json()).toMatchObject({
      user_name: "demo",
      email: "demo@example.test",
      user_attributes: {},
    });
    expect(
      (
        await sim.fetch(`${sim.zone("t1").url}/userinfo`, {
          headers: { authorization: `Bearer ${t.access_token}` },
        })
      ).status,
    ).toBe(401);
    expect((await sim.fetch(`${sim.url}/userinfo`)).status).toBe(401);
  });

  it("rejects a wrong password (form shown again) and the login helper says so", async () => {
    await expect(
      authorize(sim.fetch, authorizeUrl(sim.url), { username: "demo", password: "nope" }),
    ).rejects.toThrow(/rejected user "demo"/);
  });

  it("takes the router's outbound requests (Miniflare outboundService) for its hosts, bodies included", async () => {
    const outbound = outboundVia([sim], async () => new Response("elsewhere", { status: 599 }));
    const body = new URLSearchParams({
      grant_type: "client_credentials",
      client_id: sim.clientId,
      client_secret: sim.clientSecret,
    }).toString();
    const init = { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body };
    // Miniflare hands the outbound service requests of its own undici, not Node's.
    for (const request of [
      new Request(`${sim.zone("t1").url}/oauth/token`, init),
      new MiniflareRequest(`${sim.zone("t1").url}/oauth/token`, init),
    ]) {
      const res = await outbound(request as Request);
      expect(res.status).toBe(200);
      expect(decodeJwt(String(((await res.json()) as Tokens).access_token)).zid).toBe(sim.zone("t1").zoneId);
    }
    expect((await outbound(new Request("https://backend.test/x"))).status).toBe(599);
    // The default fallback is the network, for Miniflare's requests too.
    const other = await startXsuaaSim({ redirectUris: [] });
    try {
      const res = await sim.outbound(new MiniflareRequest(`${other.url}/token_keys`) as unknown as Request);
      expect(res.status).toBe(200);
    } finally {
      await other.stop();
    }
  });

  it("issues access tokens with the configured lifetime", async () => {
    sim.set({ accessTokenTtl: 7 });
    const t = await loginTokens();
    const claims = decodeJwt(t.access_token);
    expect(t.expires_in).toBe(7);
    expect(claims.exp! - claims.iat!).toBe(7);
  });

  it("fails the token endpoint on demand, stops and starts on the same port, and rotates its signing key", async () => {
    sim.failTokenEndpoint(503);
    expect(
      (
        await tokenRequest(sim.fetch, `${sim.url}/oauth/token`, { grant_type: "client_credentials" }, [
          sim.clientId,
          sim.clientSecret,
        ])
      ).status,
    ).toBe(503);
    sim.reset();
    await sim.stop();
    await expect(sim.fetch(`${sim.url}/.well-known/openid-configuration`)).rejects.toThrow();
    await sim.start();
    expect((await sim.fetch(`${sim.url}/.well-known/openid-configuration`)).status).toBe(200);
    const oldKid = sim.kid;
    const newKid = await sim.rotateSigningKey();
    expect(newKid).not.toBe(oldKid);
    const t = await loginTokens();
    expect(decodeProtectedHeader(t.access_token).kid).toBe(newKid);
    expect(sim.jwks().keys.map((k) => k.kid)).toEqual([newKid, oldKid]);
  });
});

describe("XSUAA simulator, X.509 binding", () => {
  it("gives certificate, key and certurl instead of a secret; its certificate host takes a client_id without secret", async () => {
    const sim = await startXsuaaSim({ uaadomain: UAADOMAIN, redirectUris: [CALLBACK] });
    try {
      const b = await sim.x509Binding();
      expect(b.credentials).not.toHaveProperty("clientsecret");
      expect(b.credentials).toMatchObject({
        "credential-type": "x509",
        certurl: `https://provider.authentication.cert.sap.test`,
        clientid: sim.clientId,
        url: sim.url,
      });
      expect(new X509Certificate(b.credentials.certificate).subject).toContain(sim.clientId);
      expect(createPrivateKey(b.credentials.key).asymmetricKeyType).toBe("rsa");
      const form = { grant_type: "client_credentials", client_id: sim.clientId };
      expect((await tokenRequest(sim.fetch, `${b.credentials.certurl}/oauth/token`, form)).status).toBe(200);
      expect((await tokenRequest(sim.fetch, `${sim.url}/oauth/token`, form)).status).toBe(401);
      expect(sim.tokenRequests().map((r) => [r.host, r.clientAuthMethod, r.status])).toEqual([
        ["provider.authentication.cert.sap.test", "tls_client_auth", 200],
        ["provider.authentication.sap.test", "none", 401],
      ]);
    } finally {
      await sim.stop();
    }
  });
});

describe("XSUAA simulator on plain loopback", () => {
  it("uses host:port as uaadomain and serves /token_keys there", async () => {
    const sim = await startXsuaaSim({ redirectUris: ["http://127.0.0.1:*/**"] });
    try {
      expect(sim.url).toBe(sim.localOrigin);
      expect(sim.uaadomain).toBe(new URL(sim.localOrigin).host);
      const zid = sim.binding().credentials.identityzoneid;
      const res = await fetch(`http://${sim.uaadomain}/token_keys?zid=${zid}`);
      expect(res.status).toBe(200);
      const d = (await (await fetch(`${sim.url}/.well-known/openid-configuration`)).json()) as {
        issuer: string;
      };
      expect(d.issuer).toBe(`${sim.url}/oauth/token`);
    } finally {
      await sim.stop();
    }
  });
});

describe("IAS simulator", () => {
  let ias: IasSim;
  let receiver: Server;
  let receiverUrl: string;
  const received: string[] = [];
  const authorizeUrl = (params: Record<string, string> = {}) =>
    `${ias.url}/oauth2/authorize?${new URLSearchParams({ response_type: "code", client_id: ias.clientId, redirect_uri: CALLBACK, state: "s", scope: "openid", app_tid: ias.appTid, ...params })}`;

  beforeAll(async () => {
    ias = await startIasSim({
      url: "https://mytenant.accounts.ondemand.test",
      redirectUris: [CALLBACK],
      postLogoutRedirectUris: [`${ROUTER}/public/**`],
    });
    receiver = createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => {
        received.push(body);
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/logout/backchannel`;
  });
  afterAll(async () => {
    await ias?.stop();
    await new Promise((resolve) => receiver?.close(resolve));
  });

  it("publishes discovery at its url with /oauth2 endpoints and a JWKS at /oauth2/certs", async () => {
    const d = (await (await ias.fetch(`${ias.url}/.well-known/openid-configuration`)).json()) as Record<
      string,
      unknown
    >;
    expect(d).toMatchObject({
      issuer: ias.url,
      token_endpoint: `${ias.url}/oauth2/token`,
      jwks_uri: `${ias.url}/oauth2/certs`,
      end_session_endpoint: `${ias.url}/oauth2/logout`,
    });
    expect(d.grant_types_supported).toEqual(expect.arrayContaining(["authorization_code", "refresh_token"]));
    expect(ias.binding().credentials).toMatchObject({
      url: ias.url,
      clientid: ias.clientId,
      domains: ["accounts.ondemand.test"],
      app_tid: ias.appTid,
      zone_uuid: ias.appTid,
    });
    expect(ias.binding({ domainsAsString: true }).credentials.domains).toBe('["accounts.ondemand.test"]');
    const x509 = await ias.x509Binding();
    expect(x509.credentials).toMatchObject({ "credential-type": "X509_GENERATED", clientid: ias.clientId });
    expect(x509.credentials).not.toHaveProperty("clientsecret");
    expect(x509.credentials.certificate).toContain("BEGIN CERTIFICATE");
  });

  it("logs in with scope=openid, nonce, app_tid and PKCE; tokens carry iss, aud, app_tid, sid", async () => {
    const p = pkce();
    const q = await authorize(
      ias.fetch,
      authorizeUrl({ nonce: "n-42", code_challenge: p.challenge, code_challenge_method: "S256" }),
    );
    // As SAP's router: secret in the body and in Basic, plus app_tid.
    const r = await tokenRequest(
      ias.fetch,
      `${ias.url}/oauth2/token`,
      {
        grant_type: "authorization_code",
        code: q.get("code")!,
        redirect_uri: CALLBACK,
        code_verifier: p.verifier,
        client_id: ias.clientId,
        client_secret: ias.clientSecret,
        app_tid: ias.appTid,
      },
      [ias.clientId, ias.clientSecret],
    );
    expect(r.status).toBe(200);
    const jwks = createLocalJWKSet((await (await ias.fetch(`${ias.url}/oauth2/certs`)).json()) as never);
    const { payload: access } = await jwtVerify(String(r.body.access_token), jwks, {
      issuer: ias.url,
      audience: ias.clientId,
    });
    expect(access).toMatchObject({
      azp: ias.clientId,
      app_tid: ias.appTid,
      zone_uuid: ias.appTid,
      email: "demo@example.test",
      given_name: "Demo",
      family_name: "User",
    });
    for (const claim of ["sid", "sub", "user_uuid", "scim_id"]) expect(access, claim).toHaveProperty([claim]);
    const { payload: id } = await jwtVerify(String(r.body.id_token), jwks, {
      issuer: ias.url,
      audience: ias.clientId,
    });
    expect(id).toMatchObject({ nonce: "n-42", sid: access.sid });
    expect(ias.tokenRequests().at(-1)).toMatchObject({
      clientAuthMethod: "client_secret_basic+post",
      appTid: ias.appTid,
      status: 200,
    });
    expect(ias.requests().find((e) => e.path === "/oauth2/authorize")?.query).toMatchObject({
      scope: "openid",
      app_tid: ias.appTid,
    });
    expect(ias.sessionIds()).toContain(access.sid);
  });

  it("enforces PKCE", async () => {
    const p = pkce();
    const q = await authorize(
      ias.fetch,
      authorizeUrl({ code_challenge: p.challenge, code_challenge_method: "S256" }),
    );
    const r = await tokenRequest(
      ias.fetch,
      `${ias.url}/oauth2/token`,
      {
        grant_type: "authorization_code",
        code: q.get("code")!,
        redirect_uri: CALLBACK,
        code_verifier: pkce().verifier,
      },
      [ias.clientId, ias.clientSecret],
    );
    expect(r).toMatchObject({ status: 400, body: { error: "invalid_grant" } });
  });

  it("sends a back-channel logout token that verifies with its JWKS", async () => {
    const status = await ias.sendBackchannelLogout({ endpoint: receiverUrl, sid: "sid-1", sub: "user-1" });
    expect(status).toBe(200);
    const token = new URLSearchParams(received.at(-1)).get("logout_token")!;
    const jwks = createLocalJWKSet(ias.jwks() as never);
    const { payload, protectedHeader } = await jwtVerify(token, jwks, {
      issuer: ias.issuer,
      audience: ias.clientId,
    });
    expect(protectedHeader.typ).toBe("logout+jwt");
    expect(payload).toMatchObject({
      sid: "sid-1",
      sub: "user-1",
      events: { [BACKCHANNEL_LOGOUT_EVENT]: {} },
    });
    expect(payload).not.toHaveProperty("nonce");
    for (const claim of ["iat", "exp", "jti"]) expect(payload).toHaveProperty([claim]);
  });

  it("can sign with a custom-domain issuer and name its own in ias_iss", async () => {
    const custom = await startIasSim({
      url: "https://mytenant.accounts.ondemand.test",
      customIssuer: "https://login.customer.test",
      redirectUris: [CALLBACK],
    });
    try {
      const r = await tokenRequest(
        custom.fetch,
        `${custom.url}/oauth2/token`,
        { grant_type: "password", username: "demo", password: "demo", scope: "openid" },
        [custom.clientId, custom.clientSecret],
      );
      expect(decodeJwt(String(r.body.access_token))).toMatchObject({
        iss: "https://login.customer.test",
        ias_iss: custom.url,
      });
      expect(
        (
          (await (await custom.fetch(`${custom.url}/.well-known/openid-configuration`)).json()) as {
            issuer: string;
          }
        ).issuer,
      ).toBe("https://login.customer.test");
    } finally {
      await custom.stop();
    }
  });

  it("redirects /oauth2/logout only to an allowed post_logout_redirect_uri", async () => {
    const logout = (target: string) =>
      ias.fetch(
        `${ias.url}/oauth2/logout?${new URLSearchParams({ post_logout_redirect_uri: target, client_id: ias.clientId })}`,
      );
    expect((await logout(`${ROUTER}/public/bye`)).headers.get("location")).toBe(`${ROUTER}/public/bye`);
    expect((await logout("https://evil.test/")).headers.get("location")).toBe(`${ias.url}/logged_out`);
  });
});

describe("simulator command lines", () => {
  it.each([
    ["xsuaa", "/.well-known/openid-configuration", (url: string) => `${url}/oauth/token`],
    ["ias", "/.well-known/openid-configuration", (url: string) => url],
  ] as const)(
    "%s prints a VCAP_SERVICES binding that reaches the running simulator",
    async (name, path, issuerOf) => {
      const child = spawn(
        process.execPath,
        [`scripts/sim/${name}.mjs`, "--redirect-uri", "http://127.0.0.1:*/**"],
        { stdio: ["ignore", "pipe", "pipe"] },
      );
      try {
        const lines = createInterface({ input: child.stdout! });
        let vcapLine: string | undefined;
        for await (const line of lines) {
          if (line.startsWith("VCAP_SERVICES=")) {
            vcapLine = line;
            break;
          }
        }
        const vcap = JSON.parse(vcapLine!.slice("VCAP_SERVICES=".length)) as Record<
          string,
          Array<{ credentials: { url: string; clientsecret: string } }>
        >;
        const credentials = Object.values(vcap)[0]![0]!.credentials;
        expect(credentials.clientsecret).toBeTruthy();
        const d = (await (await fetch(`${credentials.url}${path}`)).json()) as { issuer: string };
        expect(d.issuer).toBe(issuerOf(credentials.url));
      } finally {
        child.kill("SIGTERM");
      }
    },
  );
});

describe("XSUAA simulator on *.localhost (browsers)", () => {
  it("listens on 127.0.0.1, where browsers resolve *.localhost, with one host per zone", async () => {
    const sim = await startXsuaaSim({ uaadomain: "localhost", tenants: ["t1"], redirectUris: [] });
    try {
      const port = new URL(sim.localOrigin).port;
      expect(sim.localOrigin).toBe(`http://127.0.0.1:${port}`);
      expect(sim.uaadomain).toBe(`localhost:${port}`);
      expect(sim.zone("t1").url).toBe(`http://t1.localhost:${port}`);
      const d = (await (
        await sim.fetch(`${sim.zone("t1").url}/.well-known/openid-configuration`)
      ).json()) as { issuer: string };
      expect(d.issuer).toBe(`http://t1.localhost:${port}/oauth/token`);
    } finally {
      await sim.stop();
    }
    await expect(startXsuaaSim({ uaadomain: "localhost", host: "127.0.0.2" })).rejects.toThrow(
      /127\.0\.0\.1/,
    );
  });
});

describe("sap-form-login helper", () => {
  it("reads the login redirect from SAP's HTML start page", () => {
    expect(scriptRedirectOf(`<script>location="https://a.test/x?y=1\\u0026z=2"</script>`)).toBe(
      "https://a.test/x?y=1&z=2",
    );
    expect(scriptRedirectOf(`<script>window.location.href = 'https://a.test/p'</script>`)).toBe(
      "https://a.test/p",
    );
    expect(scriptRedirectOf(`<meta http-equiv="refresh" content="0;url=https://a.test/m?a=1&amp;b=2">`)).toBe(
      "https://a.test/m?a=1&b=2",
    );
  });
});

describe("XSUAA simulator restarted from its kept state (npm run dev:redis)", () => {
  it("keeps port, signing key and zone id: a token of the first run is still its own; without the state it is not", async () => {
    const users = [{ id: "demo-user", username: "demo", password: "demo", scopes: ["$XSAPPNAME.Display"] }];
    const first = await startXsuaaSim({ users, loginNote: "Demo user: demo, password demo" });
    const token = await first.mintAccessToken({ username: "demo" });
    const kept = await first.keptState();
    const firstUrl = first.url;
    const firstKid = first.kid;
    await first.stop();
    const userinfo = (sim: XsuaaSim) =>
      sim.fetch(`${sim.url}/userinfo`, { headers: { authorization: `Bearer ${token}` } });

    const again = await startXsuaaSim({
      users,
      port: kept.port,
      signingKey: kept.signingKey,
      zoneIds: kept.zoneIds,
    });
    const other = await startXsuaaSim({ users });
    try {
      expect(again.url).toBe(firstUrl);
      expect(again.kid).toBe(firstKid);
      const res = await userinfo(again);
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ user_name: "demo", user_id: "demo-user" });
      expect((await userinfo(other)).status).toBe(401); // another key, another zone
    } finally {
      await Promise.all([again.stop(), other.stop()]);
    }
  });

  it("shows its loginNote on the sign-in form, also after a wrong password", async () => {
    const sim = await startXsuaaSim({
      redirectUris: [CALLBACK],
      loginNote: "Demo user: demo, password demo",
    });
    try {
      const { challenge } = pkce();
      const q = new URLSearchParams({
        response_type: "code",
        client_id: sim.clientId,
        redirect_uri: CALLBACK,
        state: "s",
        code_challenge: challenge,
        code_challenge_method: "S256",
      });
      const form = await (await sim.fetch(`${sim.url}/oauth/authorize?${q}`)).text();
      expect(form).toContain("Demo user: demo, password demo");
      const authz = /name="authz" value="([^"]+)"/.exec(form)![1]!;
      const wrong = await sim.fetch(`${sim.url}/login.do`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ authz, username: "demo", password: "nope" }).toString(),
      });
      const page = await wrong.text();
      expect(page).toContain("Unable to verify username or password");
      expect(page).toContain("Demo user: demo, password demo");
    } finally {
      await sim.stop();
    }
  });
});
