import { UnsecuredJWT, type JWTPayload } from "jose";
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app.js";
import type { Authenticator } from "../../src/auth/types.js";
import type { AuthData } from "../../src/auth/auth-data.js";
import {
  currentUser,
  fetchUserAttributes,
  sessionView,
  userApiEndpoint,
  userApiProvider,
  userDetails,
  withAttributes,
  xsuaaUserinfoUrl,
} from "../../src/auth/user-api.js";
import { formatProblems, loadConfig } from "../../src/config/index.js";
import type { Env } from "../../src/env.js";
import { testSessionManager } from "../support/session-manager.js";

const UAA = "https://provider.authentication.eu10.hana.ondemand.com";

/** An XSUAA access token's claims as the platform issues them (facts note section 4). */
const XSUAA_CLAIMS: JWTPayload = {
  jti: "b3f1c0de",
  ext_attr: { enhancer: "XSUAA", subaccountid: "sub-1", zdn: "provider" },
  "xs.system.attributes": { "xs.rolecollections": ["Viewer"] },
  given_name: "John",
  "xs.user.attributes": {},
  family_name: "Doe",
  sub: "6f8a0c2e-uuid",
  scope: ["openid", "myapp!t1.Read"],
  client_id: "sb-myapp!t1",
  cid: "sb-myapp!t1",
  azp: "sb-myapp!t1",
  grant_type: "authorization_code",
  user_id: "6f8a0c2e-uuid",
  origin: "sap.default",
  user_name: "john.doe",
  email: "john.doe@example.com",
  iss: `${UAA}/oauth/token`,
  zid: "zone-1",
  aud: ["sb-myapp!t1", "myapp!t1", "openid"],
  iat: 1_700_000_000,
  exp: 1_700_043_200,
};

/** An IAS access token's claims (no ext_attr; `sub` is the user's id). */
const IAS_CLAIMS: JWTPayload = {
  sub: "P000042",
  iss: "https://tenant.accounts.ondemand.com",
  aud: "ias-client",
  azp: "ias-client",
  app_tid: "app-tenant-1",
  zone_uuid: "zone-uuid-1",
  given_name: "Jane",
  family_name: "Roe",
  email: "jane.roe@example.com",
  user_uuid: "9a1b-uuid",
  scim_id: "scim-1",
  ias_apis: ["x"],
  sid: "S-1",
  department: "Finance",
  groups: ["Admins"],
  iat: 1_700_000_000,
  exp: 1_700_003_600,
};

/** SAP's `/attributes` for IAS_CLAIMS with session scopes ["openid"]. */
const IAS_ATTRIBUTES = {
  firstname: "Jane",
  lastname: "Roe",
  email: "jane.roe@example.com",
  name: "P000042",
  scopes: ["openid"],
  user_uuid: "9a1b-uuid",
  department: "Finance",
  groups: ["Admins"],
};

const jwt = (claims: JWTPayload) => new UnsecuredJWT(claims).encode();

describe("user API mapping (SAP's user-api-middleware)", () => {
  const rows: { name: string; claims: JWTPayload; scopes: string[]; expected: Record<string, unknown> }[] = [
    {
      name: "XSUAA: name is user_name",
      claims: XSUAA_CLAIMS,
      scopes: ["openid", "myapp!t1.Read"],
      expected: {
        firstname: "John",
        lastname: "Doe",
        email: "john.doe@example.com",
        name: "john.doe",
        scopes: ["openid", "myapp!t1.Read"],
        displayName: "John Doe (john.doe)",
      },
    },
    {
      name: "XSUAA without user_name: name is the email",
      claims: { ...XSUAA_CLAIMS, user_name: undefined },
      scopes: [],
      expected: {
        firstname: "John",
        lastname: "Doe",
        email: "john.doe@example.com",
        name: "john.doe@example.com",
        scopes: [],
        displayName: "John Doe (john.doe@example.com)",
      },
    },
    {
      name: "XSUAA without a family name: displayName is the name",
      claims: { ...XSUAA_CLAIMS, family_name: undefined },
      scopes: ["openid"],
      expected: {
        firstname: "John",
        email: "john.doe@example.com",
        name: "john.doe",
        scopes: ["openid"],
        displayName: "john.doe",
      },
    },
    {
      name: "IAS: name is sub (no ext_attr)",
      claims: IAS_CLAIMS,
      scopes: ["openid"],
      expected: {
        firstname: "Jane",
        lastname: "Roe",
        email: "jane.roe@example.com",
        name: "P000042",
        scopes: ["openid"],
        displayName: "Jane Roe (P000042)",
      },
    },
    {
      name: "IAS without email: email is the name claim",
      claims: { sub: "P1", name: "pat@example.com" },
      scopes: [],
      expected: { email: "pat@example.com", name: "P1", scopes: [], displayName: "P1" },
    },
    {
      name: "only a subject",
      claims: { sub: "P2" },
      scopes: [],
      expected: { name: "P2", scopes: [], displayName: "P2" },
    },
  ];
  for (const row of rows) {
    it(`/currentUser: ${row.name}`, () => {
      // JSON as sent: absent claims are absent keys, in SAP's key order.
      expect(JSON.parse(JSON.stringify(currentUser(row.claims, row.scopes)))).toEqual(row.expected);
      expect(Object.keys(JSON.parse(JSON.stringify(currentUser(row.claims, row.scopes))))).toEqual(
        Object.keys(row.expected),
      );
    });
  }

  it("/attributes has no displayName", () => {
    expect(JSON.parse(JSON.stringify(userDetails(XSUAA_CLAIMS, ["openid"])))).toEqual({
      firstname: "John",
      lastname: "Doe",
      email: "john.doe@example.com",
      name: "john.doe",
      scopes: ["openid"],
    });
  });

  it("IAS /attributes: the token's claims merged over the details, SAP's ignored claims dropped", () => {
    const merged = withAttributes(userDetails(IAS_CLAIMS, ["openid"]), IAS_CLAIMS);
    expect(merged).toEqual(IAS_ATTRIBUTES);
  });

  it("XSUAA /attributes: userinfo's user_attributes merged; an attribute may replace a detail (Object.assign, as SAP)", () => {
    const details = userDetails(XSUAA_CLAIMS, ["openid"]);
    expect(
      withAttributes(details, { country: ["DE"], email: ["ignored@example.com"], firstname: ["Johnny"] }),
    ).toEqual({
      firstname: ["Johnny"],
      lastname: "Doe",
      email: "john.doe@example.com",
      name: "john.doe",
      scopes: ["openid"],
      country: ["DE"],
    });
    for (const nothing of [undefined, null, "x", ["a"], 3])
      expect(withAttributes(details, nothing)).toEqual(details);
  });

  it("reads the access token, else the ID token, else the subject; scopes from the session, else the token", () => {
    const base = { idp: "xsuaa", iss: "i", sub: "s", expiresAt: 0, lifetimeMs: 0, user: {} } as const;
    const fromAccess = sessionView({
      ...base,
      accessToken: jwt(XSUAA_CLAIMS),
      idToken: jwt({ sub: "other" }),
      scopes: ["a"],
    });
    expect(fromAccess.claims.user_name).toBe("john.doe");
    expect(fromAccess.scopes).toEqual(["a"]);
    const opaque = sessionView({
      ...base,
      accessToken: "opaque-token",
      idToken: jwt(IAS_CLAIMS),
      scopes: [],
    });
    expect(opaque.claims.sub).toBe("P000042");
    const nothing = sessionView({ ...base, accessToken: "opaque", idToken: "also-opaque", scopes: [] });
    expect(nothing.claims).toEqual({ sub: "s" });
    const noSessionScopes = sessionView({
      ...base,
      accessToken: jwt(XSUAA_CLAIMS),
      idToken: "",
      scopes: undefined as unknown as string[],
    });
    expect(noSessionScopes.scopes).toEqual(["openid", "myapp!t1.Read"]);
  });
});

describe("user API endpoint from the route target", () => {
  const rows: [string, string | undefined][] = [
    ["/currentUser", "currentUser"],
    ["/currentUser?x=1", "currentUser"],
    ["/attributes", "attributes"],
    ["/user-api/currentUser", "currentUser"], // a route without target: the whole path
    ["/", undefined],
    ["/foo", undefined],
    ["/currentUser/", undefined],
    ["/currentUserX", undefined],
    ["/x?currentUser", undefined],
  ];
  for (const [target, expected] of rows)
    it(`${target} → ${expected}`, () => expect(userApiEndpoint(target)).toBe(expected));
});

describe("XSUAA userinfo URL", () => {
  const rows: [string, string, unknown, string, string?][] = [
    ["the binding's UAA", UAA, `${UAA}/oauth/token`, `${UAA}/userinfo`],
    [
      "a tenant of the same UAA domain (tenantmode shared)",
      UAA,
      "https://tenant-a.authentication.eu10.hana.ondemand.com/oauth/token",
      "https://tenant-a.authentication.eu10.hana.ondemand.com/userinfo",
    ],
    [
      "a foreign issuer falls back to the binding",
      UAA,
      "https://evil.example/oauth/token",
      `${UAA}/userinfo`,
    ],
    [
      "a look-alike domain falls back",
      UAA,
      "https://x.authentication.eu10.hana.ondemand.com.evil.com/oauth/token",
      `${UAA}/userinfo`,
    ],
    [
      "two labels deeper falls back",
      UAA,
      "https://a.b.authentication.eu10.hana.ondemand.com/oauth/token",
      `${UAA}/userinfo`,
    ],
    [
      "plain http falls back",
      UAA,
      "http://tenant-a.authentication.eu10.hana.ondemand.com/oauth/token",
      `${UAA}/userinfo`,
    ],
    ["no issuer", UAA, undefined, `${UAA}/userinfo`],
    ["not a token endpoint", UAA, `${UAA}/`, `${UAA}/userinfo`],
    [
      "a binding with a path (simulator on loopback)",
      "http://127.0.0.1:4000/uaa/",
      "http://127.0.0.1:4000/uaa/oauth/token",
      "http://127.0.0.1:4000/uaa/userinfo",
    ],
    [
      "another loopback port falls back",
      "http://127.0.0.1:4000/uaa",
      "http://127.0.0.1:4001/uaa/oauth/token",
      "http://127.0.0.1:4000/uaa/userinfo",
    ],
    [
      "a tenant under the binding's uaadomain",
      UAA,
      "https://t1.authentication.eu10.hana.ondemand.com/oauth/token",
      "https://t1.authentication.eu10.hana.ondemand.com/userinfo",
      "authentication.eu10.hana.ondemand.com",
    ],
    [
      "a host outside the binding's uaadomain falls back",
      UAA,
      "https://t1.other.eu10.hana.ondemand.com/oauth/token",
      `${UAA}/userinfo`,
      "authentication.eu10.hana.ondemand.com",
    ],
    [
      "a simulator's tenant on localhost",
      "http://provider.localhost:4000",
      "http://t1.localhost:4000/oauth/token",
      "http://t1.localhost:4000/userinfo",
      "localhost:4000",
    ],
    [
      "a bare top-level domain is no UAA domain",
      "https://uaa.com",
      "https://evil.com/oauth/token",
      "https://uaa.com/userinfo",
    ],
  ];
  for (const [name, binding, iss, expected, uaaDomain] of rows)
    it(name, () => expect(xsuaaUserinfoUrl(binding, iss, uaaDomain)).toBe(expected));

  it("only an XSUAA-protocol provider has a userinfo base", () => {
    expect(userApiProvider(undefined)).toEqual({});
    expect(userApiProvider({ url: UAA, kind: "xsuaa" })).toEqual({ xsuaaUrl: UAA });
    expect(
      userApiProvider({ url: UAA, kind: "xsuaa", uaadomain: "authentication.eu10.hana.ondemand.com" }),
    ).toEqual({
      xsuaaUrl: UAA,
      uaaDomain: "authentication.eu10.hana.ondemand.com",
    });
    expect(userApiProvider({ url: "https://op.example", kind: "ias" })).toEqual({});
  });
});

describe("userinfo call", () => {
  function scripted(...answers: (Response | Error)[]) {
    const calls: Request[] = [];
    const fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
      calls.push(new Request(input, init));
      const next = answers.shift();
      if (!next) throw new Error("unexpected call");
      if (next instanceof Error) throw next;
      return next;
    }) as typeof globalThis.fetch;
    return { fetch, calls };
  }
  const ok = (body: unknown) => Response.json(body);

  it("sends the user's token and returns user_attributes", async () => {
    const s = scripted(ok({ user_name: "john.doe", user_attributes: { country: ["DE"] } }));
    expect(await fetchUserAttributes(s.fetch, `${UAA}/userinfo`, "tok-1")).toEqual({
      kind: "ok",
      attributes: { country: ["DE"] },
    });
    expect(s.calls).toHaveLength(1);
    expect(s.calls[0]!.url).toBe(`${UAA}/userinfo`);
    expect(s.calls[0]!.method).toBe("GET");
    expect(s.calls[0]!.headers.get("authorization")).toBe("Bearer tok-1");
  });

  it("an answer without user_attributes adds nothing", async () => {
    const s = scripted(ok({ user_name: "john.doe" }));
    expect(await fetchUserAttributes(s.fetch, `${UAA}/userinfo`, "t")).toEqual({
      kind: "ok",
      attributes: undefined,
    });
  });

  it("retries once on a network error or 5xx", async () => {
    const s = scripted(new TypeError("connection refused"), ok({ user_attributes: { a: ["1"] } }));
    expect(await fetchUserAttributes(s.fetch, `${UAA}/userinfo`, "t")).toEqual({
      kind: "ok",
      attributes: { a: ["1"] },
    });
    const down = scripted(new Response("no", { status: 503 }), new Response("no", { status: 502 }));
    expect(await fetchUserAttributes(down.fetch, `${UAA}/userinfo`, "t")).toEqual({ kind: "unavailable" });
    expect(down.calls).toHaveLength(2);
  });

  it("a refusal or a malformed answer fails without retry", async () => {
    const refused = scripted(new Response("", { status: 401 }));
    expect(await fetchUserAttributes(refused.fetch, `${UAA}/userinfo`, "t")).toEqual({
      kind: "failed",
      status: 401,
    });
    expect(refused.calls).toHaveLength(1);
    const html = scripted(new Response("<html>", { status: 200 }));
    expect(await fetchUserAttributes(html.fetch, `${UAA}/userinfo`, "t")).toEqual({
      kind: "failed",
      status: 200,
    });
    const array = scripted(ok([1]));
    expect(await fetchUserAttributes(array.fetch, `${UAA}/userinfo`, "t")).toEqual({
      kind: "failed",
      status: 200,
    });
  });
});

describe("xs-app.json service routes", () => {
  const env = {
    destinations: JSON.stringify([{ name: "backend", url: "https://backend.example" }]),
    VCAP_SERVICES: JSON.stringify({
      xsuaa: [
        {
          name: "uaa",
          label: "xsuaa",
          tags: ["xsuaa"],
          credentials: { url: UAA, clientid: "c", clientsecret: "s" },
        },
      ],
    }),
  } as Env;
  const problemsOf = (routes: unknown[]) => {
    const loaded = loadConfig(env, { routes });
    return loaded.ok ? [] : formatProblems(loaded.problems).split("\n");
  };

  it("accepts SAP's user API, as SAP's README shows it", () => {
    const loaded = loadConfig(env, {
      authenticationMethod: "route",
      routes: [
        { source: "^/user-api(.*)", target: "$1", service: "sap-approuter-userapi" },
        {
          source: "^/me$",
          target: "/currentUser",
          service: "sap-approuter-userapi",
          authenticationType: "none",
        },
      ],
    });
    if (!loaded.ok) throw new Error(formatProblems(loaded.problems));
    const [first, second] = loaded.config.xsApp.routes;
    expect(first).toMatchObject({
      service: "sap-approuter-userapi",
      destination: "",
      target: "$1",
      authenticationType: "xsuaa",
    });
    expect(second).toMatchObject({ service: "sap-approuter-userapi", authenticationType: "none" });
  });

  it("refuses every other service with the existing message", () => {
    for (const service of ["com.sap.html5.repository", "sap-approuter-userapi2", ""]) {
      expect(problemsOf([{ source: "^/", service }])).toContain(
        "xs-app.json.routes[0].service: not supported at the edge",
      );
    }
    // The HTML5 application repository works when bound (src/html5): without it, what to bind.
    expect(problemsOf([{ source: "^/", service: "html5-apps-repo-rt" }])).toContain(
      "xs-app.json.routes[0].service: needs the HTML5 application repository bound (VCAP_SERVICES: service html5-apps-repo, plan app-runtime)",
    );
    expect(problemsOf([{ source: "^/", service: 3 }])).toEqual([
      "xs-app.json.routes[0].service: must be a string",
    ]);
  });

  it("names a user API route that also has a destination or localDir", () => {
    expect(problemsOf([{ source: "^/", service: "sap-approuter-userapi", destination: "backend" }])).toEqual([
      "xs-app.json.routes[0].service: not allowed together with destination or localDir",
    ]);
    expect(problemsOf([{ source: "^/", service: "sap-approuter-userapi", localDir: "web" }])).toEqual([
      "xs-app.json.routes[0].service: not allowed together with destination or localDir",
    ]);
  });
});

describe("user API through the router", () => {
  const xsApp = {
    authenticationMethod: "route",
    routes: [
      { source: "^/user-api(.*)", target: "$1", service: "sap-approuter-userapi" },
      {
        source: "^/public-user(.*)",
        target: "$1",
        service: "sap-approuter-userapi",
        authenticationType: "none",
      },
    ],
  };

  function makeRouter(
    options: {
      userinfo?: (request: Request) => Response | Promise<Response>;
      withoutXsuaaProtocol?: boolean;
    } = {},
  ) {
    const loaded = loadConfig(
      {
        VCAP_SERVICES: JSON.stringify({
          xsuaa: [
            {
              name: "uaa",
              label: "xsuaa",
              tags: ["xsuaa"],
              credentials: {
                url: UAA,
                clientid: "sb-myapp!t1",
                clientsecret: "s",
                xsappname: "myapp!t1",
                uaadomain: "authentication.eu10.hana.ondemand.com",
              },
            },
          ],
        }),
      } as Env,
      xsApp,
    );
    if (!loaded.ok) throw new Error(formatProblems(loaded.problems));
    const calls: Request[] = [];
    const fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
      const request = new Request(input, init);
      calls.push(request);
      if (!options.userinfo) throw new Error("no network in this test");
      return options.userinfo(request);
    }) as typeof globalThis.fetch;
    const manager = testSessionManager({ maxEntries: 10, maxBytes: 1e6, idleTimeoutMs: 1e6 });
    const logs: { event: string; fields?: Record<string, unknown> }[] = [];
    const authenticated: string[] = [];
    // Stands in for the login layer: a session holding tokens passes, anything else goes to login.
    const authenticate: Authenticator = async (c) => {
      authenticated.push(new URL(c.req.url).pathname);
      const session = await c.get("session").current();
      return session?.record.data?.auth
        ? null
        : new Response(null, { status: 302, headers: { location: "/login" } });
    };
    // An OpenID provider bound under the xsuaa label (login's `kind: "ias"`).
    const config = options.withoutXsuaaProtocol
      ? {
          ...loaded.config,
          identityProviders: { xsuaa: { ...loaded.config.identityProviders.xsuaa!, kind: "ias" as const } },
        }
      : loaded.config;
    const app = createApp({
      config,
      manager,
      fetch,
      log: (event, fields) => logs.push({ event, ...(fields ? { fields } : {}) }),
      authenticate,
    });
    async function loggedIn(auth: AuthData): Promise<string> {
      const session = manager.create();
      session.record = { ...session.record, data: { ...session.record.data, auth } };
      await manager.commit(session, () => {});
      return `JSESSIONID=${session.id}`;
    }
    const get = (path: string, cookie?: string, init: RequestInit = {}) =>
      app.request(`https://router.test${path}`, {
        ...init,
        headers: { ...(cookie ? { cookie } : {}), ...(init.headers as Record<string, string>) },
      });
    return { calls, logs, authenticated, loggedIn, get };
  }

  const xsuaaSession = (claims: JWTPayload = XSUAA_CLAIMS): AuthData => ({
    idp: "xsuaa",
    iss: String(claims.iss),
    sub: String(claims.sub),
    idToken: jwt({ sub: String(claims.sub) }),
    accessToken: jwt(claims),
    expiresAt: Date.now() + 3600_000,
    lifetimeMs: 3600_000,
    scopes: ["openid", "myapp!t1.Read"],
    user: {},
  });
  const iasSession = (): AuthData => ({ ...xsuaaSession(IAS_CLAIMS), idp: "identity", scopes: ["openid"] });

  it("/currentUser answers SAP's JSON from the session (pretty-printed, not cached)", async () => {
    const r = makeRouter();
    const cookie = await r.loggedIn(xsuaaSession());
    const res = await r.get("/user-api/currentUser", cookie);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json; charset=utf-8");
    expect(res.headers.get("cache-control")).toBe("no-cache, no-store");
    expect(await res.text()).toBe(
      JSON.stringify(
        {
          firstname: "John",
          lastname: "Doe",
          email: "john.doe@example.com",
          name: "john.doe",
          scopes: ["openid", "myapp!t1.Read"],
          displayName: "John Doe (john.doe)",
        },
        undefined,
        2,
      ),
    );
    expect(r.calls).toEqual([]);
    expect(r.authenticated).toEqual(["/user-api/currentUser"]);
  });

  it("logs in first: without a session the route's authentication answers", async () => {
    const r = makeRouter();
    const res = await r.get("/user-api/currentUser");
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe("/login");
  });

  it("XSUAA /attributes: GET <url>/userinfo with the user's token, user_attributes merged", async () => {
    const r = makeRouter({
      userinfo: () =>
        Response.json({ user_name: "john.doe", user_attributes: { country: ["DE"], cost_center: ["4711"] } }),
    });
    const session = xsuaaSession();
    const res = await r.get("/user-api/attributes", await r.loggedIn(session));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      firstname: "John",
      lastname: "Doe",
      email: "john.doe@example.com",
      name: "john.doe",
      scopes: ["openid", "myapp!t1.Read"],
      country: ["DE"],
      cost_center: ["4711"],
    });
    expect(r.calls).toHaveLength(1);
    expect(r.calls[0]!.url).toBe(`${UAA}/userinfo`);
    expect(r.calls[0]!.headers.get("authorization")).toBe(`Bearer ${session.accessToken}`);
  });

  it("XSUAA /attributes of a tenant's session asks that tenant's UAA", async () => {
    const r = makeRouter({ userinfo: () => Response.json({ user_attributes: {} }) });
    const tenantToken = {
      ...XSUAA_CLAIMS,
      iss: "https://tenant-a.authentication.eu10.hana.ondemand.com/oauth/token",
    };
    expect((await r.get("/user-api/attributes", await r.loggedIn(xsuaaSession(tenantToken)))).status).toBe(
      200,
    );
    expect(r.calls[0]!.url).toBe("https://tenant-a.authentication.eu10.hana.ondemand.com/userinfo");
  });

  it("XSUAA /attributes: userinfo down is 503, a refusal is 502, both logged without the token", async () => {
    const down = makeRouter({ userinfo: () => new Response("", { status: 500 }) });
    const session = xsuaaSession();
    const res = await down.get("/user-api/attributes", await down.loggedIn(session));
    expect(res.status).toBe(503);
    expect(await res.text()).toContain("USERINFO_UNAVAILABLE");
    expect(down.logs).toContainEqual({ event: "userapi.userinfo.error", fields: { reason: "unavailable" } });

    const refused = makeRouter({ userinfo: () => new Response("", { status: 401 }) });
    const res2 = await refused.get("/user-api/attributes", await refused.loggedIn(session));
    expect(res2.status).toBe(502);
    expect(await res2.text()).toContain("USERINFO_FAILED");
    expect(refused.logs).toContainEqual({
      event: "userapi.userinfo.error",
      fields: { reason: "answer", status: 401 },
    });
    expect(JSON.stringify([...down.logs, ...refused.logs])).not.toContain(session.accessToken);
  });

  it("IAS /attributes: from the token, no userinfo call", async () => {
    const r = makeRouter();
    const res = await r.get("/user-api/attributes", await r.loggedIn(iasSession()));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(IAS_ATTRIBUTES);
    expect(r.calls).toEqual([]);
  });

  it("an OpenID provider under the xsuaa label: /attributes from the token, no userinfo call", async () => {
    const r = makeRouter({ withoutXsuaaProtocol: true });
    const res = await r.get("/user-api/attributes", await r.loggedIn({ ...iasSession(), idp: "xsuaa" }));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(IAS_ATTRIBUTES);
    expect(r.calls).toEqual([]);
  });

  it("an unknown sub-path is 404", async () => {
    const r = makeRouter();
    const cookie = await r.loggedIn(xsuaaSession());
    for (const path of ["/user-api/whoami", "/user-api", "/user-api/currentUser/"]) {
      const res = await r.get(path, cookie);
      expect(res.status, path).toBe(404);
      expect(await res.text()).toContain("USER_API_NOT_FOUND");
    }
  });

  it("a state-changing request still needs the CSRF token (SAP checks it before the user API)", async () => {
    const r = makeRouter();
    const res = await r.get("/user-api/currentUser", await r.loggedIn(xsuaaSession()), { method: "POST" });
    expect(res.status).toBe(403);
  });

  it("a public user API route without a login is 401; with one it answers", async () => {
    const r = makeRouter();
    const res = await r.get("/public-user/currentUser");
    expect(res.status).toBe(401);
    expect(r.authenticated).toEqual([]);
    const ok = await r.get("/public-user/currentUser", await r.loggedIn(iasSession()));
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { name: string }).name).toBe("P000042");
  });
});
