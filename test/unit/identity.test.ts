import { describe, expect, it } from "vitest";
import { loginPage } from "../../src/auth/login-page.js";
import { boundedReturnTo, loginCookieName, LOGIN_SLOTS, MAX_RETURN_TO } from "../../src/auth/login-state.js";
import { createProvider } from "../../src/auth/provider.js";
import {
  iasEndpoints,
  onTenantHost,
  tenantOfHost,
  xsuaaEndpoints,
  xsuaaJwksUrl,
} from "../../src/auth/endpoints.js";
import { iasIssuerAccepted, xsuaaAudienceAccepted, xsuaaIssuerAccepted } from "../../src/auth/token-rules.js";
import { formatProblems, loadConfig, type IdentityProviderConfig } from "../../src/config/index.js";
import type { Env } from "../../src/env.js";

/** Pure logic of the XSUAA / IAS protocols: binding selection, URL building, token acceptance rules. */

const DESTINATIONS = JSON.stringify([{ name: "backend", url: "https://backend.example.com" }]);
const XSUAA_CREDENTIALS = {
  url: "https://consumer.authentication.eu10.hana.ondemand.com",
  clientid: "sb-app!t42",
  clientsecret: "s3cret",
  xsappname: "app!t42",
  uaadomain: "authentication.eu10.hana.ondemand.com",
  identityzone: "consumer",
  tenantid: "1a2b",
  tenantmode: "dedicated",
};
const xsuaaBinding = (over: Record<string, unknown> = {}) => ({
  label: "xsuaa",
  name: "uaa",
  tags: ["xsuaa"],
  plan: "application",
  credentials: XSUAA_CREDENTIALS,
  ...over,
});
const iasBinding = (over: Record<string, unknown> = {}) => ({
  label: "identity",
  name: "ias",
  tags: ["ias"],
  credentials: {
    url: "https://tenant.accounts.ondemand.com",
    clientid: "ias-client",
    clientsecret: "x",
    domains: ["accounts.ondemand.com"],
    app_tid: "tid-1",
  },
  ...over,
});
const route = (authenticationType?: string) => ({
  routes: [{ source: "^/", destination: "backend", ...(authenticationType && { authenticationType }) }],
});

function load(vcap: unknown, xsApp: unknown = route("xsuaa"), env: Record<string, unknown> = {}) {
  return loadConfig(
    { destinations: DESTINATIONS, VCAP_SERVICES: JSON.stringify(vcap), ...env } as Env,
    xsApp,
  );
}

describe("binding selection (SAP's rules)", () => {
  it.each([
    [
      "by the xsuaa tag, whatever the label",
      { "some-label": [xsuaaBinding({ label: "some-label" })] },
      {},
      "VCAP_SERVICES.some-label[0]",
    ],
    [
      "user-provided with credentials.tags",
      {
        "user-provided": [
          { label: "user-provided", name: "ups", credentials: { ...XSUAA_CREDENTIALS, tags: ["xsuaa"] } },
        ],
      },
      {},
      "VCAP_SERVICES.user-provided[0]",
    ],
    [
      "UAA_SERVICE_NAME picks by name among two",
      { xsuaa: [xsuaaBinding({ name: "one" }), xsuaaBinding({ name: "two" })] },
      { UAA_SERVICE_NAME: "two" },
      "VCAP_SERVICES.xsuaa[1]",
    ],
  ])("finds XSUAA %s", (_name, vcap, env, path) => {
    const result = load(vcap, route("xsuaa"), env);
    if (!result.ok) expect.fail(formatProblems(result.problems));
    expect(result.config.identityProviders.xsuaa?.bindingPath).toBe(path);
    expect(result.config.identityProviders.xsuaa?.kind).toBe("xsuaa");
  });

  it.each([
    [
      "a label xsuaa without the tag",
      { xsuaa: [xsuaaBinding({ tags: [] })] },
      {},
      'routes[0].authenticationType: needs an XSUAA binding in VCAP_SERVICES (a service whose tags contain "xsuaa")',
    ],
    [
      "two tagged bindings",
      { xsuaa: [xsuaaBinding({ name: "a" })], other: [xsuaaBinding({ name: "b" })] },
      {},
      "VCAP_SERVICES.other[0]: more than one XSUAA binding: VCAP_SERVICES.xsuaa[0] and VCAP_SERVICES.other[0]; set UAA_SERVICE_NAME",
    ],
    [
      "UAA_SERVICE_NAME naming nothing",
      { xsuaa: [xsuaaBinding()] },
      { UAA_SERVICE_NAME: "nope" },
      'needs an XSUAA binding in VCAP_SERVICES (a service whose tags contain "xsuaa", named "nope")',
    ],
    [
      "no clientsecret and no certificate",
      { xsuaa: [xsuaaBinding({ credentials: { ...XSUAA_CREDENTIALS, clientsecret: undefined } })] },
      {},
      "VCAP_SERVICES.xsuaa[0].credentials.clientsecret: missing: a binding needs clientsecret or certificate",
    ],
    [
      "no clientid",
      { xsuaa: [xsuaaBinding({ credentials: { ...XSUAA_CREDENTIALS, clientid: undefined } })] },
      {},
      "VCAP_SERVICES.xsuaa[0].credentials.clientid",
    ],
    [
      "an X.509 binding without the mTLS binding",
      {
        xsuaa: [
          xsuaaBinding({
            credentials: {
              ...XSUAA_CREDENTIALS,
              clientsecret: undefined,
              certificate: "-----BEGIN CERTIFICATE-----",
              key: "k",
              certurl: "https://consumer.authentication.cert.eu10.hana.ondemand.com",
            },
          }),
        ],
      },
      {},
      'credentials.certificate: an X.509 binding needs a Workers mTLS certificate binding named "XSUAA_MTLS"',
    ],
    [
      "shared tenant mode without TENANT_HOST_PATTERN",
      { xsuaa: [xsuaaBinding({ credentials: { ...XSUAA_CREDENTIALS, tenantmode: "shared" } })] },
      {},
      'TENANT_HOST_PATTERN: must be set: the XSUAA binding has tenantmode "shared"',
    ],
    [
      "a pattern without a group",
      { xsuaa: [xsuaaBinding()] },
      { TENANT_HOST_PATTERN: "^.*\\.example\\.com$" },
      "TENANT_HOST_PATTERN: must have a capturing group",
    ],
    [
      "JWT_REFRESH not a number",
      { xsuaa: [xsuaaBinding()] },
      { JWT_REFRESH: "soon" },
      "JWT_REFRESH: must be a whole number of minutes",
    ],
  ])("refuses %s, naming it", (_name, vcap, env, message) => {
    const result = load(vcap, route("xsuaa"), env);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const text = formatProblems(result.problems);
    expect(text).toContain(message);
    expect(text).not.toContain("s3cret");
  });

  it("an X.509 binding with its mTLS binding uses the certificate (SAP prefers it over a secret)", () => {
    const credentials = {
      ...XSUAA_CREDENTIALS,
      certificate: "-----BEGIN CERTIFICATE-----",
      key: "k",
      certurl: "https://consumer.authentication.cert.eu10.hana.ondemand.com",
    };
    const result = load({ xsuaa: [xsuaaBinding({ credentials })] }, route("xsuaa"), {
      MY_MTLS: { fetch: () => undefined },
      XSUAA_MTLS_BINDING: "MY_MTLS",
    });
    if (!result.ok) expect.fail(formatProblems(result.problems));
    const xsuaa = result.config.identityProviders.xsuaa!;
    expect(xsuaa.mtlsBinding).toBe("MY_MTLS");
    expect(xsuaa.clientSecret).toBeUndefined();
    expect(xsuaaEndpoints(xsuaa).token).toBe(
      "https://consumer.authentication.cert.eu10.hana.ondemand.com/oauth/token",
    );
  });

  it.each([
    ["label identity", { identity: [iasBinding()] }],
    ["a label containing identity", { "identity-beta": [iasBinding({ label: "identity-beta" })] }],
    [
      "user-provided with credentials.label",
      {
        "user-provided": [
          {
            label: "user-provided",
            name: "oidc",
            credentials: {
              url: "https://idp.example.com",
              clientid: "c",
              clientsecret: "s",
              label: "identity",
            },
          },
        ],
      },
    ],
  ])("finds IAS by %s; a route without authenticationType then uses it (SAP's iasOnly)", (_name, vcap) => {
    const result = load(vcap, route());
    if (!result.ok) expect.fail(formatProblems(result.problems));
    expect(result.config.identityProviders.identity?.kind).toBe("ias");
    expect(result.config.xsApp.routes[0]!.authenticationType).toBe("ias");
    expect(result.config.login.defaultAuthenticationType).toBe("ias");
  });

  it("a route without authenticationType uses XSUAA when both are bound, and the redirect URI then carries authType", () => {
    const result = load({ xsuaa: [xsuaaBinding()], identity: [iasBinding()] }, route());
    if (!result.ok) expect.fail(formatProblems(result.problems));
    expect(result.config.xsApp.routes[0]!.authenticationType).toBe("xsuaa");
    expect(result.config.login.authTypeInRedirect).toBe(true);
  });

  it("reads the login variables", () => {
    const result = load({ xsuaa: [xsuaaBinding()] }, route("xsuaa"), {
      JWT_REFRESH: "0",
      PRESERVE_FRAGMENT: "false",
      ENABLE_PERMANENT_AUTHTYPE: "true",
      LOGOUT_WITH_TOKEN_HINT: "true",
      TENANT_HOST_PATTERN: "^(.*)-router\\.example\\.com$",
      XS_BIND_ADDRESS: "0.0.0.0",
    });
    if (!result.ok) expect.fail(formatProblems(result.problems));
    expect(result.config.login).toMatchObject({
      refreshBeforeMs: 0,
      preserveFragment: false,
      authTypeInRedirect: true,
      logoutWithTokenHint: true,
      xsa: true,
    });
    expect(tenantOfHost("acme-router.example.com:443", result.config.login.tenantHostPattern)).toBe("acme");
  });

  it("IAS domains as a JSON string (both forms occur in bindings)", () => {
    const result = load(
      {
        identity: [
          iasBinding({
            credentials: {
              ...iasBinding().credentials,
              domains: '["accounts.ondemand.com","accounts.cloud.sap"]',
            },
          }),
        ],
      },
      route("ias"),
    );
    if (!result.ok) expect.fail(formatProblems(result.problems));
    expect(result.config.identityProviders.identity?.domains).toEqual([
      "accounts.ondemand.com",
      "accounts.cloud.sap",
    ]);
  });
});

const XSUAA: IdentityProviderConfig = {
  label: "xsuaa",
  kind: "xsuaa",
  bindingPath: "VCAP_SERVICES.xsuaa[0]",
  url: "https://provider.authentication.eu10.hana.ondemand.com",
  clientId: "sb-app!t42",
  clientSecret: "s",
  xsappname: "app!t42",
  uaadomain: "authentication.eu10.hana.ondemand.com",
  domains: [],
};

describe("XSUAA endpoints", () => {
  it("come from the binding: authorize/userinfo/logout on url, token on url (secret) or certurl (X.509)", () => {
    expect(xsuaaEndpoints(XSUAA)).toEqual({
      authorize: "https://provider.authentication.eu10.hana.ondemand.com/oauth/authorize",
      token: "https://provider.authentication.eu10.hana.ondemand.com/oauth/token",
      userinfo: "https://provider.authentication.eu10.hana.ondemand.com/userinfo",
      logout: "https://provider.authentication.eu10.hana.ondemand.com/logout.do",
    });
  });

  it.each([
    [
      "shared mode: the tenant's host, same protocol, port and path",
      {
        tenantMode: "shared" as const,
        url: "https://provider.authentication.eu10.hana.ondemand.com:8443/uaa",
      },
      "acme",
      "https://acme.authentication.eu10.hana.ondemand.com:8443/uaa/oauth/authorize",
    ],
    [
      "dedicated mode: the binding's host",
      { tenantMode: "dedicated" as const },
      "acme",
      "https://provider.authentication.eu10.hana.ondemand.com/oauth/authorize",
    ],
    [
      "shared mode without a tenant: the binding's host",
      { tenantMode: "shared" as const },
      undefined,
      "https://provider.authentication.eu10.hana.ondemand.com/oauth/authorize",
    ],
  ])("%s", (_name, over, tenant, authorize) => {
    expect(xsuaaEndpoints({ ...XSUAA, ...over }, tenant).authorize).toBe(authorize);
  });

  it("shared mode moves certurl to the tenant too (first label replaced)", () => {
    const x509 = {
      ...XSUAA,
      tenantMode: "shared" as const,
      clientSecret: undefined,
      mtlsBinding: "XSUAA_MTLS",
      certUrl: "https://provider.authentication.cert.eu10.hana.ondemand.com",
    } as IdentityProviderConfig;
    expect(xsuaaEndpoints(x509, "acme").token).toBe(
      "https://acme.authentication.cert.eu10.hana.ondemand.com/oauth/token",
    );
  });

  it("JWKS as @sap/xssec: https://<uaadomain>/token_keys?zid=; http only for a loopback simulator", () => {
    expect(xsuaaJwksUrl(XSUAA, "zone-1")).toBe(
      "https://authentication.eu10.hana.ondemand.com/token_keys?zid=zone-1",
    );
    expect(
      xsuaaJwksUrl({ ...XSUAA, url: "http://uaa.localhost:8080", uaadomain: "localhost:8080" }, "z"),
    ).toBe("http://localhost:8080/token_keys?zid=z");
    expect(xsuaaJwksUrl({ ...XSUAA, url: "http://evil.example", uaadomain: "evil.example" }, "z")).toMatch(
      /^https:/,
    );
  });

  it("tenants from the host: group 1, port removed, only subdomain characters", () => {
    const pattern = /^(.*)-approuter\.cfapps\.eu10\.hana\.ondemand\.com$/;
    expect(tenantOfHost("acme-approuter.cfapps.eu10.hana.ondemand.com", pattern)).toBe("acme");
    expect(tenantOfHost("acme-approuter.cfapps.eu10.hana.ondemand.com:443", pattern)).toBe("acme");
    expect(tenantOfHost("other.example.com", pattern)).toBeUndefined();
    expect(tenantOfHost("a", undefined)).toBeUndefined();
    expect(onTenantHost("http://127.0.0.1:9/x", "t", "localhost")).toBe("http://t.localhost:9/x");
  });
});

describe("IAS endpoints", () => {
  const IAS = {
    ...XSUAA,
    kind: "ias" as const,
    label: "identity" as const,
    url: "https://t.accounts.ondemand.com",
    domains: ["accounts.ondemand.com"],
  };
  it("come from discovery, else /oauth2/*", () => {
    expect(iasEndpoints(IAS, undefined)).toEqual({
      authorize: "https://t.accounts.ondemand.com/oauth2/authorize",
      token: "https://t.accounts.ondemand.com/oauth2/token",
      userinfo: "https://t.accounts.ondemand.com/oauth2/userinfo",
      logout: "https://t.accounts.ondemand.com/oauth2/logout",
      jwks: "https://t.accounts.ondemand.com/oauth2/certs",
    });
    expect(
      iasEndpoints(IAS, {
        token_endpoint: "https://t.accounts.ondemand.com/other/token",
        jwks_uri: "https://k.example/certs",
      }),
    ).toMatchObject({
      token: "https://t.accounts.ondemand.com/other/token",
      jwks: "https://k.example/certs",
    });
  });
});

describe("XSUAA audience rule (@sap/xssec)", () => {
  it.each([
    ["aud is the client id", { aud: ["sb-app!t42"] }, true],
    ["aud starts with <clientid>.", { aud: ["sb-app!t42.read"] }, true],
    ["aud is the xsappname", { aud: "app!t42" }, true],
    ["aud starts with <xsappname>.", { aud: ["other", "app!t42.Display"] }, true],
    ["no aud: a scope of ours", { scope: ["app!t42.Display", "openid"] }, true],
    ["no aud: cid is ours", { cid: "sb-app!t42" }, true],
    ["foreign aud, foreign cid", { aud: ["sb-other!t1"], cid: "sb-other!t1" }, false],
    ["a prefix without the dot", { aud: ["sb-app!t42x"] }, false],
    ["an xsappname prefix without the dot", { aud: ["app!t42x.read"] }, false],
    ["nothing", {}, false],
  ])("%s", (_name, claims, accepted) => {
    expect(xsuaaAudienceAccepted(claims, "sb-app!t42", "app!t42")).toBe(accepted);
  });

  it("broker clients accept <something>|<xsappname>", () => {
    expect(xsuaaAudienceAccepted({ aud: ["sb-x|app!b7"] }, "sb-app!b7", "app!b7")).toBe(true);
    expect(xsuaaAudienceAccepted({ aud: ["sb-x|app!b7"] }, "sb-app!t7", "app!b7")).toBe(false);
  });
});

describe("issuer rules", () => {
  it.each([
    ["the zone's host", "https://provider.authentication.eu10.hana.ondemand.com/oauth/token", true],
    ["a tenant's host", "https://acme.authentication.eu10.hana.ondemand.com/oauth/token", true],
    ["the domain itself", "https://authentication.eu10.hana.ondemand.com/oauth/token", true],
    ["another domain", "https://provider.authentication.evil.com/oauth/token", false],
    ["a suffix trick", "https://evilauthentication.eu10.hana.ondemand.com/oauth/token", false],
    ["plain http off loopback", "http://provider.authentication.eu10.hana.ondemand.com/oauth/token", false],
    ["not a URL", "provider", false],
  ])("XSUAA iss: %s", (_name, iss, accepted) => {
    expect(xsuaaIssuerAccepted(iss, "authentication.eu10.hana.ondemand.com")).toBe(accepted);
  });

  it.each([
    ["a domain", { iss: "https://accounts.ondemand.com" }, true],
    ["one label under a domain", { iss: "https://tenant.accounts.ondemand.com" }, true],
    [
      "ias_iss wins over iss",
      { iss: "https://custom.example.com", ias_iss: "https://tenant.accounts.ondemand.com" },
      true,
    ],
    ["two labels under", { iss: "https://a.b.accounts.ondemand.com" }, false],
    ["another domain", { iss: "https://tenant.accounts.evil.com" }, false],
    ["http", { iss: "http://tenant.accounts.ondemand.com" }, false],
    ["with a query", { iss: "https://tenant.accounts.ondemand.com?x=1" }, false],
  ])("IAS iss: %s", (_name, claims, accepted) => {
    expect(iasIssuerAccepted(claims, ["accounts.ondemand.com"], "https://unused")).toBe(accepted);
  });

  it("no domains: the issuer must be the expected one", () => {
    expect(iasIssuerAccepted({ iss: "https://idp.example.com/" }, [], "https://idp.example.com")).toBe(true);
    expect(iasIssuerAccepted({ iss: "https://idp.example.com/x" }, [], "https://idp.example.com")).toBe(
      false,
    );
  });
});

describe("login state bounds (issue 9)", () => {
  it("caps the return URL: a long query is dropped, a long path falls back to /", () => {
    expect(boundedReturnTo("/a?b=1")).toBe("/a?b=1");
    expect(boundedReturnTo(`/a?${"q".repeat(MAX_RETURN_TO)}`)).toBe("/a");
    expect(boundedReturnTo(`/${"p".repeat(MAX_RETURN_TO)}`)).toBe("/");
  });

  it(`uses at most ${LOGIN_SLOTS} cookie names`, () => {
    const names = new Set<string>();
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for (const ch of alphabet) names.add(loginCookieName("JSESSIONID", ch + "x".repeat(42)));
    expect(names.size).toBe(LOGIN_SLOTS);
  });

  it("the login page escapes its data, runs only its own hashed script, and leads to the provider", async () => {
    const target = 'https://uaa.example.com/oauth/authorize?client_id=a&state=x"><script>alert(1)</script>';
    const page = await loginPage(target, "JSESSIONID_fragment_1", "/login/callback");
    const html = await page.text();
    expect(page.status).toBe(200);
    expect(html).not.toContain("<script>alert");
    const attribute = /<html data-u="([^"]*)"/.exec(html)![1]!;
    expect(
      attribute
        .replace(/&quot;/g, '"')
        .replace(/&lt;/g, "<")
        .replace(/&gt;/g, ">")
        .replace(/&amp;/g, "&"),
    ).toBe(target);
    const csp = page.headers.get("content-security-policy")!;
    expect(csp).toMatch(/script-src 'sha256-[A-Za-z0-9+/=]+'/);
    expect(csp).not.toContain("unsafe-inline");
    const script = /<script>(.*?)<\/script>/s.exec(html)![1]!;
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(script)));
    expect(csp).toContain(`'sha256-${btoa(String.fromCharCode(...digest))}'`);
  });
});

describe("provider URLs (createProvider, nothing fetched)", () => {
  const deps = (login: Partial<import("../../src/config/types.js").LoginSettings> = {}) => ({
    fetch: (() => Promise.reject(new Error("no network here"))) as typeof fetch,
    tokenFetch: (() => Promise.reject(new Error("no network here"))) as typeof fetch,
    now: () => Date.now(),
    login: {
      refreshBeforeMs: 300_000,
      preserveFragment: true,
      authTypeInRedirect: false,
      logoutWithTokenHint: false,
      xsa: false,
      defaultAuthenticationType: "xsuaa" as const,
      ...login,
    },
  });
  const args = {
    redirectUri: "https://r.example/login/callback",
    state: "st",
    nonce: "no",
    codeChallenge: "cc",
  };

  it("XSUAA authorize: no scope, no nonce, PKCE S256; idp=, or login_hint on XS advanced", async () => {
    const plain = new URL(
      await createProvider(XSUAA, deps()).authorizeUrl({ ...args, identityProvider: "corp" }),
    );
    expect(Object.fromEntries(plain.searchParams)).toEqual({
      response_type: "code",
      client_id: "sb-app!t42",
      redirect_uri: "https://r.example/login/callback",
      state: "st",
      code_challenge: "cc",
      code_challenge_method: "S256",
      idp: "corp",
    });
    const xsa = new URL(
      await createProvider(XSUAA, deps({ xsa: true })).authorizeUrl({ ...args, identityProvider: "corp" }),
    );
    expect(xsa.searchParams.get("login_hint")).toBe('{"origin":"corp"}');
    expect(xsa.searchParams.has("idp")).toBe(false);
    const scoped = new URL(
      await createProvider({ ...XSUAA, scope: "openid app!t42.Display" }, deps()).authorizeUrl(args),
    );
    expect(scoped.searchParams.get("scope")).toBe("openid app!t42.Display");
  });

  it("XSUAA logout: /logout.do?redirect=&client_id=, bare without a logout page; per tenant in shared mode", async () => {
    const p = createProvider(XSUAA, deps());
    expect(await p.logoutUrl({})).toBe("https://provider.authentication.eu10.hana.ondemand.com/logout.do");
    const back = new URL((await p.logoutUrl({ postLogoutRedirectUri: "https://r.example/bye?x=1" }))!);
    expect(back.searchParams.get("redirect")).toBe("https://r.example/bye?x=1");
    expect(back.searchParams.get("client_id")).toBe("sb-app!t42");
    const shared = createProvider({ ...XSUAA, tenantMode: "shared" }, deps());
    expect(new URL((await shared.logoutUrl({ tenant: "acme" }))!).host).toBe(
      "acme.authentication.eu10.hana.ondemand.com",
    );
  });

  it("XSUAA takes no back-channel logout tokens (SAP: IAS only)", () => {
    expect(
      createProvider(XSUAA, deps()).acceptsIssuer({
        iss: "https://provider.authentication.eu10.hana.ondemand.com/oauth/token",
      }),
    ).toBe(false);
  });
});
