import { describe, expect, it } from "vitest";
import type { Env } from "../../src/env.js";
import { formatProblems, loadConfig, redactedSummary, type RouterConfig } from "../../src/config/index.js";
import { scopesFor } from "../../src/auth/scopes.js";
import type { RouteScope } from "../../src/config/types.js";

// Secret values: none of them may ever appear in a problem (path or message).
const SECRET_A = `secret-A-${"a".repeat(60)}`; // 69 characters
const SECRET_B = `secret-B-${"b".repeat(60)}`;
const SECRET_63 = `secret-63-${"c".repeat(53)}`;
const SECRET_64 = `secret-64-${"d".repeat(54)}`;
const SHORT_SECRET = "short-secret-VALUE-xyz";
const TOKEN = "upstash-token-VALUE-123";
const VCAP_PASSWORD = "vcap-password-VALUE-456";
const ALL_SECRETS = [SECRET_A, SECRET_B, SECRET_63, SECRET_64, SHORT_SECRET, TOKEN, VCAP_PASSWORD];

const UPSTASH_URL = "https://eu1-example.upstash.io";

/** EXT_SESSION_MGT with valid required properties, overridden/extended by `props` (undefined removes one). */
function ext(props: Record<string, unknown> = {}): string {
  return JSON.stringify({
    instanceName: "approuter-redis",
    storageType: "redis",
    sessionSecret: SECRET_A,
    ...props,
  });
}

function binding(name: string, credentials: unknown, label = "redis") {
  return { [label]: [{ name, label, credentials }] };
}

const VCAP = JSON.stringify(
  binding("approuter-redis", { url: UPSTASH_URL, token: TOKEN, password: VCAP_PASSWORD }),
);

const DESTINATIONS = JSON.stringify([{ name: "backend", url: "https://backend.example.com/" }]);

const XS_APP = { routes: [{ source: "^/api/(.*)$", target: "$1", destination: "backend" }] };

const route = (props: Record<string, unknown>) => ({
  routes: [{ source: "^/", destination: "backend", ...props }],
});

interface Row {
  name: string;
  env?: Partial<Env>;
  /** The bundled xs-app.json; default XS_APP. */
  xsApp?: unknown;
}

/** Identity-provider bindings, so that routes which require login have a provider. */
const IDP_BINDINGS = {
  xsuaa: [
    {
      name: "uaa",
      label: "xsuaa",
      tags: ["xsuaa"],
      credentials: { url: "https://uaa.example.com", clientid: "app", clientsecret: "uaa-client-secret" },
    },
  ],
  identity: [
    {
      name: "ias",
      label: "identity",
      credentials: { url: "https://ias.example.com", clientid: "app", clientsecret: "ias-client-secret" },
    },
  ],
};

/** VCAP_SERVICES with the identity providers added to `services`. */
const withIdp = (services: Record<string, unknown> = {}) => JSON.stringify({ ...IDP_BINDINGS, ...services });

/** Adds the identity providers to a row's VCAP_SERVICES when it is a JSON object without them. */
function addIdp(vcap: unknown): unknown {
  if (vcap === undefined) return withIdp();
  try {
    const parsed: unknown = JSON.parse(String(vcap));
    if (
      typeof parsed === "object" &&
      parsed !== null &&
      !Array.isArray(parsed) &&
      !("xsuaa" in parsed) &&
      !("identity" in parsed)
    ) {
      return withIdp(parsed as Record<string, unknown>);
    }
  } catch {
    // not JSON: the row tests exactly that
  }
  return vcap;
}

/** A bound static assets binding (`localDir` and `errorPage` need one). */
const ASSETS = { fetch: async () => new Response(null, { status: 404 }) };

function load(row: Row) {
  const env: Env = { destinations: DESTINATIONS, ASSETS, ...row.env };
  env.VCAP_SERVICES = addIdp(env.VCAP_SERVICES) as string;
  return loadConfig(env, "xsApp" in row ? row.xsApp : XS_APP);
}

interface ProblemRow extends Row {
  /** Every problem, as `path: message` lines, in any order. */
  problems: string[];
}

const MUST_BE_JSON = "must be valid JSON";
const POSITIVE_INTEGER = "must be a positive integer";
const HTTP_URL = "must be an absolute http(s) URL";
const REDIS_ONLY = 'must be "redis" (other storage types need externalStoreFilePath)';
const NO_BINDING =
  'no service binding named "approuter-redis" in VCAP_SERVICES and no UPSTASH_REDIS_REST_URL/UPSTASH_REDIS_REST_TOKEN';
const METHODS = "must be an HTTP method (GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE, PATCH)";
const COOKIE = "must be a valid cookie name (an RFC 6265 token)";
const UNCONFIGURABLE =
  "cannot be configured (cookies, Host, Content-Length and hop-by-hop headers are managed by the router)";
const HEADER_VALUE = "must contain only visible characters, spaces and tabs (no line breaks)";
const ONE_HEADER = 'must have exactly one property: { "Header-Name": "value" }';
const STATUS = "must be an HTTP status code (100–599)";
const PORT = "must be a port number (1–65535)";

const problemRows: ProblemRow[] = [
  // ── EXT_SESSION_MGT ──
  {
    name: "EXT_SESSION_MGT not JSON (content not echoed)",
    env: { EXT_SESSION_MGT: `{"sessionSecret": "${SECRET_A}"`, VCAP_SERVICES: VCAP },
    problems: [`EXT_SESSION_MGT: ${MUST_BE_JSON}`],
  },
  {
    name: "EXT_SESSION_MGT an array",
    env: { EXT_SESSION_MGT: "[]" },
    problems: ["EXT_SESSION_MGT: must be an object"],
  },
  {
    name: "EXT_SESSION_MGT a number",
    env: { EXT_SESSION_MGT: "42" },
    problems: ["EXT_SESSION_MGT: must be an object"],
  },
  {
    name: "EXT_SESSION_MGT null",
    env: { EXT_SESSION_MGT: "null" },
    problems: ["EXT_SESSION_MGT: must be an object"],
  },
  {
    name: "EXT_SESSION_MGT empty object",
    env: { EXT_SESSION_MGT: "{}" },
    problems: [
      "EXT_SESSION_MGT.instanceName: missing required property",
      "EXT_SESSION_MGT.storageType: missing required property",
      "EXT_SESSION_MGT.sessionSecret: missing required property",
    ],
  },
  {
    name: "sessionSecret missing",
    env: { EXT_SESSION_MGT: ext({ sessionSecret: undefined }), VCAP_SERVICES: VCAP },
    problems: ["EXT_SESSION_MGT.sessionSecret: missing required property"],
  },
  {
    name: "sessionSecret too short",
    env: { EXT_SESSION_MGT: ext({ sessionSecret: SHORT_SECRET }), VCAP_SERVICES: VCAP },
    problems: ["EXT_SESSION_MGT.sessionSecret: must be at least 64 characters"],
  },
  {
    name: "sessionSecret of 63 characters",
    env: { EXT_SESSION_MGT: ext({ sessionSecret: SECRET_63 }), VCAP_SERVICES: VCAP },
    problems: ["EXT_SESSION_MGT.sessionSecret: must be at least 64 characters"],
  },
  {
    name: "sessionSecret not a string",
    env: { EXT_SESSION_MGT: ext({ sessionSecret: 12345 }), VCAP_SERVICES: VCAP },
    problems: ["EXT_SESSION_MGT.sessionSecret: must be a string"],
  },
  {
    name: "instanceName empty",
    env: { EXT_SESSION_MGT: ext({ instanceName: "" }), VCAP_SERVICES: VCAP },
    problems: ["EXT_SESSION_MGT.instanceName: must not be empty"],
  },
  {
    name: "instanceName not a string",
    env: { EXT_SESSION_MGT: ext({ instanceName: 7 }), VCAP_SERVICES: VCAP },
    problems: ["EXT_SESSION_MGT.instanceName: must be a string"],
  },
  {
    name: "storageType other than redis without a custom store",
    env: { EXT_SESSION_MGT: ext({ storageType: "memcached" }), VCAP_SERVICES: VCAP },
    problems: [`EXT_SESSION_MGT.storageType: ${REDIS_ONLY}`],
  },
  {
    name: "storageType empty",
    env: { EXT_SESSION_MGT: ext({ storageType: "" }), VCAP_SERVICES: VCAP },
    problems: ["EXT_SESSION_MGT.storageType: must not be empty"],
  },
  {
    name: "storageType empty with a custom store",
    env: { EXT_SESSION_MGT: ext({ storageType: "", externalStoreFilePath: "./store" }) },
    problems: ["EXT_SESSION_MGT.storageType: must not be empty"],
  },
  {
    name: "externalStoreFilePath empty",
    env: { EXT_SESSION_MGT: ext({ externalStoreFilePath: "" }) },
    problems: ["EXT_SESSION_MGT.externalStoreFilePath: must not be empty"],
  },
  {
    name: "unknown properties, each named (a misspelt secret's value not echoed)",
    env: { EXT_SESSION_MGT: ext({ foo: 1, sesionSecret: SECRET_B, "odd key": true }), VCAP_SERVICES: VCAP },
    problems: [
      "EXT_SESSION_MGT.foo: unknown property",
      'EXT_SESSION_MGT.sesionSecret: unknown property; did you mean "sessionSecret"?',
      'EXT_SESSION_MGT["odd key"]: unknown property',
    ],
  },
  ...[0, -1, 1.5, "2000", null].map((value) => ({
    name: `defaultRetryTimeout ${JSON.stringify(value)}`,
    env: { EXT_SESSION_MGT: ext({ defaultRetryTimeout: value }), VCAP_SERVICES: VCAP },
    problems: [`EXT_SESSION_MGT.defaultRetryTimeout: ${POSITIVE_INTEGER}`],
  })),
  ...[0, -2, "50", false].map((value) => ({
    name: `backOffMultiplier ${JSON.stringify(value)}`,
    env: { EXT_SESSION_MGT: ext({ backOffMultiplier: value }), VCAP_SERVICES: VCAP },
    problems: ["EXT_SESSION_MGT.backOffMultiplier: must be a positive number"],
  })),
  {
    name: "backOffMultiplier infinite (1e400)",
    env: { EXT_SESSION_MGT: ext().replace(/}$/, ',"backOffMultiplier":1e400}'), VCAP_SERVICES: VCAP },
    problems: ["EXT_SESSION_MGT.backOffMultiplier: must be a positive number"],
  },
  ...[-1, 0.5, "5000"].map((value) => ({
    name: `revalidateAfter ${JSON.stringify(value)}`,
    env: { EXT_SESSION_MGT: ext({ revalidateAfter: value }), VCAP_SERVICES: VCAP },
    problems: ["EXT_SESSION_MGT.revalidateAfter: must be an integer ≥ 0"],
  })),
  {
    name: "previousSessionSecrets not an array",
    env: { EXT_SESSION_MGT: ext({ previousSessionSecrets: SECRET_B }), VCAP_SERVICES: VCAP },
    problems: ["EXT_SESSION_MGT.previousSessionSecrets: must be an array of strings"],
  },
  {
    name: "previousSessionSecrets with a short one and a non-string",
    env: {
      EXT_SESSION_MGT: ext({ previousSessionSecrets: [SECRET_B, SHORT_SECRET, 5] }),
      VCAP_SERVICES: VCAP,
    },
    problems: [
      "EXT_SESSION_MGT.previousSessionSecrets[1]: must be at least 64 characters",
      "EXT_SESSION_MGT.previousSessionSecrets[2]: must be a string",
    ],
  },
  {
    name: "previousSessionSecrets repeating sessionSecret",
    env: { EXT_SESSION_MGT: ext({ previousSessionSecrets: [SECRET_B, SECRET_A] }), VCAP_SERVICES: VCAP },
    problems: ["EXT_SESSION_MGT.previousSessionSecrets: must not contain sessionSecret"],
  },
  {
    name: "several EXT_SESSION_MGT problems at once",
    env: {
      EXT_SESSION_MGT: ext({
        instanceName: undefined,
        storageType: "memcached",
        sessionSecret: SHORT_SECRET,
        defaultRetryTimeout: 0,
        extra: SECRET_B,
      }),
    },
    problems: [
      "EXT_SESSION_MGT.instanceName: missing required property",
      `EXT_SESSION_MGT.storageType: ${REDIS_ONLY}`,
      "EXT_SESSION_MGT.sessionSecret: must be at least 64 characters",
      `EXT_SESSION_MGT.defaultRetryTimeout: ${POSITIVE_INTEGER}`,
      "EXT_SESSION_MGT.extra: unknown property",
    ],
  },

  // ── VCAP_SERVICES / Upstash credentials ──
  {
    name: "no binding and no UPSTASH_* variables",
    env: { EXT_SESSION_MGT: ext() },
    problems: [`EXT_SESSION_MGT.instanceName: ${NO_BINDING}`],
  },
  {
    name: "binding under another name only",
    env: {
      EXT_SESSION_MGT: ext(),
      VCAP_SERVICES: JSON.stringify(binding("other-redis", { url: UPSTASH_URL, token: TOKEN })),
    },
    problems: [`EXT_SESSION_MGT.instanceName: ${NO_BINDING}`],
  },
  {
    name: "missing credentials reported together with other EXT_SESSION_MGT problems",
    env: { EXT_SESSION_MGT: ext({ sessionSecret: SHORT_SECRET }) },
    problems: [
      "EXT_SESSION_MGT.sessionSecret: must be at least 64 characters",
      `EXT_SESSION_MGT.instanceName: ${NO_BINDING}`,
    ],
  },
  {
    name: "VCAP_SERVICES not JSON (no extra missing-binding problem)",
    env: { EXT_SESSION_MGT: ext(), VCAP_SERVICES: `{"redis": [{"credentials": {"token": "${TOKEN}"` },
    problems: [`VCAP_SERVICES: ${MUST_BE_JSON}`],
  },
  {
    name: "VCAP_SERVICES not JSON, even without EXT_SESSION_MGT",
    env: { VCAP_SERVICES: "{" },
    problems: [`VCAP_SERVICES: ${MUST_BE_JSON}`],
  },
  {
    name: "custom store: invalid VCAP_SERVICES is still reported",
    env: { EXT_SESSION_MGT: ext({ externalStoreFilePath: "./stores/kv" }), VCAP_SERVICES: "{" },
    problems: [`VCAP_SERVICES: ${MUST_BE_JSON}`],
  },
  {
    name: "VCAP_SERVICES an array",
    env: { EXT_SESSION_MGT: ext(), VCAP_SERVICES: "[]" },
    problems: ["VCAP_SERVICES: must be an object"],
  },
  {
    name: "VCAP_SERVICES label not an array",
    env: { EXT_SESSION_MGT: ext(), VCAP_SERVICES: JSON.stringify({ redis: {} }) },
    problems: ["VCAP_SERVICES.redis: must be an array of service bindings"],
  },
  {
    name: "binding credentials with a bad url and an empty token",
    env: {
      EXT_SESSION_MGT: ext(),
      VCAP_SERVICES: JSON.stringify(
        binding("approuter-redis", { url: `ftp://${VCAP_PASSWORD}@host`, token: "" }, "user-provided"),
      ),
    },
    problems: [
      `VCAP_SERVICES.user-provided[0].credentials.url: ${HTTP_URL}`,
      "VCAP_SERVICES.user-provided[0].credentials.token: must not be empty",
    ],
  },
  {
    name: "binding without credentials",
    env: { EXT_SESSION_MGT: ext(), VCAP_SERVICES: JSON.stringify({ redis: [{ name: "approuter-redis" }] }) },
    problems: ["VCAP_SERVICES.redis[0].credentials: missing required property"],
  },
  {
    name: "two bindings with the instance's name",
    env: {
      EXT_SESSION_MGT: ext(),
      VCAP_SERVICES: JSON.stringify({
        redis: [{ name: "approuter-redis", credentials: { url: UPSTASH_URL, token: TOKEN } }],
        other: [{ name: "x" }, { name: "approuter-redis", credentials: {} }],
      }),
    },
    problems: ['VCAP_SERVICES.other[1].name: more than one service binding is named "approuter-redis"'],
  },
  {
    name: "UPSTASH_REDIS_REST_URL without token",
    env: { EXT_SESSION_MGT: ext(), UPSTASH_REDIS_REST_URL: UPSTASH_URL },
    problems: ["UPSTASH_REDIS_REST_TOKEN: must be set together with UPSTASH_REDIS_REST_URL"],
  },
  {
    name: "UPSTASH_REDIS_REST_TOKEN without url",
    env: { EXT_SESSION_MGT: ext(), UPSTASH_REDIS_REST_TOKEN: TOKEN },
    problems: ["UPSTASH_REDIS_REST_URL: must be set together with UPSTASH_REDIS_REST_TOKEN"],
  },
  {
    name: "UPSTASH_REDIS_REST_URL not an http(s) URL",
    env: {
      EXT_SESSION_MGT: ext(),
      UPSTASH_REDIS_REST_URL: "eu1.upstash.io",
      UPSTASH_REDIS_REST_TOKEN: TOKEN,
    },
    problems: [`UPSTASH_REDIS_REST_URL: ${HTTP_URL}`],
  },

  // ── destinations ──
  {
    name: "destinations not JSON",
    env: { destinations: "[{" },
    xsApp: {},
    problems: [`destinations: ${MUST_BE_JSON}`],
  },
  {
    name: "destinations not an array",
    env: { destinations: "{}" },
    xsApp: {},
    problems: ["destinations: must be an array"],
  },
  {
    name: "destination without name and url",
    env: { destinations: JSON.stringify([{}]) },
    xsApp: {},
    problems: [
      "destinations[0].name: missing required property",
      "destinations[0].url: missing required property",
    ],
  },
  {
    name: "destination entry not an object",
    env: { destinations: JSON.stringify([{ name: "a", url: "https://a" }, 5]) },
    xsApp: {},
    problems: ["destinations[1]: must be an object"],
  },
  ...["/relative", "backend.example.com", "ftp://example.com", "mailto:x@example.com", 42].map((url) => ({
    name: `destination url ${JSON.stringify(url)}`,
    env: { destinations: JSON.stringify([{ name: "backend", url }]) },
    problems: [`destinations[0].url: ${typeof url === "string" ? HTTP_URL : "must be a string"}`],
  })),
  {
    name: "destination name empty",
    env: { destinations: JSON.stringify([{ name: "", url: "https://a" }]) },
    xsApp: {},
    problems: ["destinations[0].name: must not be empty"],
  },
  {
    name: "duplicate destination names, reported at the second one",
    env: {
      destinations: JSON.stringify([
        { name: "backend", url: "https://a" },
        { name: "other", url: "https://b" },
        { name: "backend", url: "https://c" },
      ]),
    },
    problems: ['destinations[2].name: duplicate destination name "backend"'],
  },
  {
    name: "destination flags of the wrong type",
    env: {
      destinations: JSON.stringify([
        {
          name: "backend",
          url: "https://a",
          forwardAuthToken: "yes",
          timeout: 0,
          setXForwardedHeaders: 1,
          strictSSL: "no",
        },
      ]),
    },
    problems: [
      "destinations[0].forwardAuthToken: must be true or false",
      `destinations[0].timeout: ${POSITIVE_INTEGER}`,
      "destinations[0].setXForwardedHeaders: must be true or false",
      "destinations[0].strictSSL: must be true or false",
    ],
  },
  ...[1.5, -1, "30000"].map((timeout) => ({
    name: `destination timeout ${JSON.stringify(timeout)}`,
    env: { destinations: JSON.stringify([{ name: "backend", url: "https://a", timeout }]) },
    problems: [`destinations[0].timeout: ${POSITIVE_INTEGER}`],
  })),
  {
    name: "destination proxy settings not supported at the edge",
    env: {
      destinations: JSON.stringify([
        {
          name: "backend",
          url: "https://a",
          proxyType: "OnPremise",
          proxyHost: "h",
          proxyPort: 8080,
          IASDependencyName: "d",
        },
      ]),
    },
    problems: [
      'destinations[0].proxyType: only "Internet" is supported at the edge',
      "destinations[0].proxyHost: unknown property",
      "destinations[0].proxyPort: unknown property",
      "destinations[0].IASDependencyName: unknown property",
    ],
  },
  {
    name: "invalid destinations variable: routes are not cross-checked",
    env: { destinations: "nope" },
    problems: [`destinations: ${MUST_BE_JSON}`],
  },
  {
    name: "invalid destination entry with a good name still counts for routes",
    env: { destinations: JSON.stringify([{ name: "backend", url: "nope" }]) },
    problems: [`destinations[0].url: ${HTTP_URL}`],
  },

  // ── xs-app.json ──
  { name: "xs-app.json not an object", xsApp: "routes", problems: ["xs-app.json: must be an object"] },
  { name: "xs-app.json an array", xsApp: [], problems: ["xs-app.json: must be an object"] },
  {
    name: "misspelt properties: the nearest known name is suggested (names only, never values)",
    env: {
      destinations: JSON.stringify([
        { name: "backend", url: "https://a", forwardauthtoken: true, tiemout: 5 },
      ]),
    },
    xsApp: {
      ...XS_APP,
      welcomefile: "/index.html",
      routes: [
        {
          source: "^/(.*)$",
          destination: "backend",
          authenticationtype: "none",
          csrfProtecton: false,
          zzzzzz: SECRET_B,
        },
      ],
    },
    problems: [
      'destinations[0].forwardauthtoken: unknown property; did you mean "forwardAuthToken"?',
      'destinations[0].tiemout: unknown property; did you mean "timeout"?',
      'xs-app.json.welcomefile: unknown property; did you mean "welcomeFile"?',
      'xs-app.json.routes[0].authenticationtype: unknown property; did you mean "authenticationType"?',
      'xs-app.json.routes[0].csrfProtecton: unknown property; did you mean "csrfProtection"?',
      "xs-app.json.routes[0].zzzzzz: unknown property",
    ],
  },
  {
    name: "every problem in one pass: destinations, the static assets binding, the session store",
    env: {
      ASSETS: undefined,
      destinations: JSON.stringify([{ name: "backend", url: "not a url" }]),
      EXT_SESSION_MGT: ext({ sessionSecret: "short" }),
      VCAP_SERVICES: VCAP,
    },
    xsApp: {
      ...XS_APP,
      routes: [
        { source: "^/app/(.*)$", localDir: "resources", authenticationType: "none" },
        { source: "^/(.*)$", destination: "backend" },
      ],
      errorPage: [{ status: 404, file: "/404.html" }],
    },
    problems: [
      "destinations[0].url: must be an absolute http(s) URL",
      "EXT_SESSION_MGT.sessionSecret: must be at least 64 characters",
      'xs-app.json.routes[0].localDir: needs static assets bound as ASSETS (wrangler.toml [assets] with directory, binding = "ASSETS" and run_worker_first = true)',
      'xs-app.json.errorPage: needs static assets bound as ASSETS (wrangler.toml [assets] with directory, binding = "ASSETS" and run_worker_first = true)',
    ],
  },
  {
    name: "xs-app.json unknown top-level property",
    xsApp: { ...XS_APP, routs: [] },
    problems: ['xs-app.json.routs: unknown property; did you mean "routes"?'],
  },
  {
    name: "xs-app.json top-level properties of the wrong type",
    xsApp: {
      welcomeFile: 1,
      authenticationMethod: "basic",
      sessionTimeout: 0,
      routes: {},
      responseHeaders: {},
      errorPage: "x",
      cors: [1],
      compression: [],
      websockets: true,
      destinations: { backend: "x" },
    },
    problems: [
      "xs-app.json.welcomeFile: must be a string",
      'xs-app.json.authenticationMethod: must be "route" or "none"',
      `xs-app.json.sessionTimeout: ${POSITIVE_INTEGER}`,
      "xs-app.json.routes: must be an array",
      "xs-app.json.responseHeaders: must be an array of { name, value }",
      "xs-app.json.errorPage: must be an array of { status, file }",
      "xs-app.json.cors[0]: must be an object",
      "xs-app.json.compression: must be an object",
      "xs-app.json.websockets: must be an object",
      "xs-app.json.destinations.backend: must be an object",
    ],
  },
  {
    name: "login and logout problems",
    xsApp: {
      ...XS_APP,
      login: { callbackEndpoint: "callback", foo: 1 },
      logout: { logoutEndpoint: "logout", logoutPage: "", logoutMethod: "PUT", csrfProtection: "no", bar: 2 },
    },
    problems: [
      "xs-app.json.login.callbackEndpoint: must start with /",
      "xs-app.json.login.foo: unknown property",
      "xs-app.json.logout.logoutEndpoint: must start with /",
      "xs-app.json.logout.logoutPage: must not be empty",
      'xs-app.json.logout.logoutMethod: must be "GET" or "POST"',
      "xs-app.json.logout.csrfProtection: must be true or false",
      "xs-app.json.logout.bar: unknown property",
    ],
  },
  {
    name: "route source an invalid regular expression, at its index",
    xsApp: { routes: [...Array(3).fill(XS_APP.routes[0]), { source: "^/(a", destination: "backend" }] },
    problems: ["xs-app.json.routes[3].source: invalid regular expression"],
  },
  {
    name: "route source object form with an invalid path",
    xsApp: route({ source: { path: "[", matchCase: false } }),
    problems: ["xs-app.json.routes[0].source.path: invalid regular expression"],
  },
  {
    name: "route source object form: missing path, bad matchCase, unknown property",
    xsApp: route({ source: { matchCase: "no", flags: "i" } }),
    problems: [
      "xs-app.json.routes[0].source.path: missing required property",
      "xs-app.json.routes[0].source.matchCase: must be true or false",
      "xs-app.json.routes[0].source.flags: unknown property",
    ],
  },
  {
    name: "route source of the wrong type",
    xsApp: route({ source: 42 }),
    problems: [
      "xs-app.json.routes[0].source: must be a regular expression (a string) or an object { path, matchCase }",
    ],
  },
  {
    name: "route without source and destination",
    xsApp: { routes: [{ target: "/x" }] },
    problems: [
      "xs-app.json.routes[0].source: missing required property",
      "xs-app.json.routes[0].destination: missing required property",
    ],
  },
  {
    name: "route destination unknown",
    xsApp: route({ destination: "nope" }),
    problems: ['xs-app.json.routes[0].destination: unknown destination "nope"'],
  },
  {
    name: "route destination misspelt: the nearest defined name is suggested",
    xsApp: route({ destination: "Backnd" }),
    problems: ['xs-app.json.routes[0].destination: unknown destination "Backnd"; did you mean "backend"?'],
  },
  {
    name: "route destination empty",
    xsApp: route({ destination: "" }),
    problems: ["xs-app.json.routes[0].destination: must not be empty"],
  },
  {
    name: "route service not supported at the edge",
    xsApp: { routes: [{ source: "^/", service: "com.sap.html5.repository" }] },
    problems: ["xs-app.json.routes[0].service: not supported at the edge"],
  },
  {
    name: "route httpMethods with an unknown method",
    xsApp: route({ httpMethods: ["GET", "FETCH", 3] }),
    problems: [
      `xs-app.json.routes[0].httpMethods[1]: ${METHODS}`,
      "xs-app.json.routes[0].httpMethods[2]: must be a string",
    ],
  },
  {
    name: "route httpMethods empty",
    xsApp: route({ httpMethods: [] }),
    problems: ["xs-app.json.routes[0].httpMethods: must not be empty"],
  },
  {
    name: "route httpMethods not an array",
    xsApp: route({ httpMethods: "GET" }),
    problems: ["xs-app.json.routes[0].httpMethods: must be an array of HTTP methods"],
  },
  {
    name: "route authenticationType basic",
    xsApp: route({ authenticationType: "basic" }),
    problems: ["xs-app.json.routes[0].authenticationType: not supported at the edge"],
  },
  {
    name: "route authenticationType unknown",
    xsApp: route({ authenticationType: "saml" }),
    problems: ['xs-app.json.routes[0].authenticationType: must be one of "xsuaa", "ias", "none"'],
  },
  {
    name: "route loosely typed properties of the wrong type",
    xsApp: route({
      csrfProtection: "no",
      scope: 5,
      cacheControl: 1,
      identityProvider: false,
      replace: "x",
      setBackendSessionCookies: 1,
      target: 2,
    }),
    problems: [
      "xs-app.json.routes[0].target: must be a string",
      "xs-app.json.routes[0].csrfProtection: must be true or false",
      "xs-app.json.routes[0].scope: must be a string, an array of strings or an object by HTTP method",
      "xs-app.json.routes[0].cacheControl: must be a string",
      "xs-app.json.routes[0].identityProvider: must be a string",
      "xs-app.json.routes[0].replace: must be an object",
      "xs-app.json.routes[0].setBackendSessionCookies: must be true or false",
    ],
  },
  {
    name: "route unknown properties",
    xsApp: route({ foo: 1, endpoint: "x" }),
    problems: [
      "xs-app.json.routes[0].foo: unknown property",
      "xs-app.json.routes[0].endpoint: not supported at the edge",
    ],
  },
  {
    name: "route not an object",
    xsApp: { routes: ["^/"] },
    problems: ["xs-app.json.routes[0]: must be an object"],
  },
  { name: "XS_APP not JSON", env: { XS_APP: "{routes" }, problems: [`XS_APP: ${MUST_BE_JSON}`] },
  {
    name: "XS_APP problems are named XS_APP",
    env: { XS_APP: JSON.stringify(route({ source: "(" })) },
    problems: ["XS_APP.routes[0].source: invalid regular expression"],
  },

  // ── xs-app.json: routes, full SAP surface ──
  {
    name: "route with both destination and localDir",
    xsApp: route({ localDir: "resources" }),
    problems: ["xs-app.json.routes[0].localDir: not allowed together with destination"],
  },
  ...["../outside", "a/../../b", "%2e%2e/x", "a\\b", "https://cdn.example/x", ""].map((localDir) => ({
    name: `route localDir ${JSON.stringify(localDir)}`,
    xsApp: { routes: [{ source: "^/", localDir }] },
    problems: [
      `xs-app.json.routes[0].localDir: ${localDir === "" ? "must not be empty" : 'must be a folder inside the static assets (no "..", no backslash)'}`,
    ],
  })),
  {
    name: "route localDir with httpMethods (SAP: incompatible)",
    xsApp: { routes: [{ source: "^/", localDir: "resources", httpMethods: ["GET"] }] },
    problems: [
      "xs-app.json.routes[0].httpMethods: not allowed with localDir (localDir routes serve GET and HEAD only)",
    ],
  },
  {
    name: 'route destination "*" without DESTINATION_HOST_PATTERN',
    xsApp: route({ destination: "*" }),
    problems: [
      'xs-app.json.routes[0].destination: "*" takes the destination name from the host: set DESTINATION_HOST_PATTERN (a regular expression with a capturing group)',
    ],
  },
  {
    name: "route destination $2 with a source of one group",
    xsApp: route({ source: "^/d/([^/]+)/", destination: "$2" }),
    problems: ["xs-app.json.routes[0].destination: names a capturing group that source does not have"],
  },
  ...["$x", "a$1", "back*"].map((destination) => ({
    name: `route destination ${destination} (neither a name nor a dynamic destination)`,
    xsApp: route({ destination }),
    problems: [
      `xs-app.json.routes[0].destination: ${
        destination === "$x"
          ? 'a dynamic destination names a group of source: "$1" … "$9"'
          : 'a destination name must not contain "$" or "*" (a dynamic destination starts with "$", e.g. "$1", or is "*")'
      }`,
    ],
  })),
  ...["(", "^[a-z]+\\.example$"].map((pattern) => ({
    name: `DESTINATION_HOST_PATTERN ${pattern}`,
    env: { DESTINATION_HOST_PATTERN: pattern },
    problems: [
      `DESTINATION_HOST_PATTERN: ${pattern === "(" ? "invalid regular expression" : "must have a capturing group (the destination name)"}`,
    ],
  })),
  {
    name: "route properties SAP has and the edge does not",
    xsApp: route({ endpoint: "e", preferLocal: "yes", dynamicIdentityProvider: "yes" }),
    problems: [
      "xs-app.json.routes[0].endpoint: not supported at the edge",
      "xs-app.json.routes[0].preferLocal: must be true or false",
      "xs-app.json.routes[0].dynamicIdentityProvider: must be true or false",
    ],
  },
  {
    name: "DYNAMIC_IDENTITY_PROVIDER not a boolean",
    env: { DYNAMIC_IDENTITY_PROVIDER: "sometimes" },
    problems: ["DYNAMIC_IDENTITY_PROVIDER: must be true or false"],
  },
  {
    name: "route identityProvider on a public route (SAP rejects it)",
    xsApp: route({ authenticationType: "none", identityProvider: "corporate" }),
    problems: [
      'xs-app.json.routes[0].identityProvider: only allowed with authenticationType "xsuaa" or "ias"',
    ],
  },
  {
    name: "route identityProvider empty, target empty, cacheControl with a line break",
    xsApp: route({ identityProvider: "", target: "", cacheControl: "max-age=1\r\nSet-Cookie: a=b" }),
    problems: [
      "xs-app.json.routes[0].identityProvider: must not be empty",
      "xs-app.json.routes[0].target: must not be empty",
      "xs-app.json.routes[0].cacheControl: must contain only visible characters, spaces and tabs (no line breaks)",
    ],
  },
  ...[
    [[], "xs-app.json.routes[0].scope: must not be empty"],
    [["a", ""], "xs-app.json.routes[0].scope[1]: must not be empty"],
    ["", "xs-app.json.routes[0].scope: must be a string, an array of strings or an object by HTTP method"],
    [{}, "xs-app.json.routes[0].scope: must not be empty"],
    [{ get: "a" }, 'xs-app.json.routes[0].scope.get: unknown property; did you mean "GET"?'],
    [
      { GET: 5 },
      "xs-app.json.routes[0].scope.GET: must be a string, an array of strings or an object by HTTP method",
    ],
    [{ POST: [] }, "xs-app.json.routes[0].scope.POST: must not be empty"],
  ].map(([scope, problem]) => ({
    name: `route scope ${JSON.stringify(scope)}`,
    xsApp: route({ scope }),
    problems: [problem as string],
  })),

  // ── xs-app.json: top level, full SAP surface ──
  ...["//evil.example/x", "/\\evil.example", "/a\nb"].map((welcomeFile) => ({
    name: `welcomeFile ${JSON.stringify(welcomeFile)} (must stay on the router)`,
    xsApp: { ...XS_APP, welcomeFile },
    problems: ["xs-app.json.welcomeFile: must be a path on this router"],
  })),
  {
    name: "welcomeFile empty",
    xsApp: { ...XS_APP, welcomeFile: "" },
    problems: ["xs-app.json.welcomeFile: must not be empty"],
  },
  {
    name: "stateProtection false / of the wrong type",
    xsApp: { ...XS_APP, stateProtection: false },
    problems: ["xs-app.json.stateProtection: false is not supported yet (state protection is always on)"],
  },
  {
    name: "stateProtection not a boolean",
    xsApp: { ...XS_APP, stateProtection: "no" },
    problems: ["xs-app.json.stateProtection: must be true or false"],
  },
  {
    name: "top-level properties not supported at the edge or not yet",
    xsApp: {
      ...XS_APP,
      services: { "com.sap.x": {} },
      pluginMetadataEndpoint: "metadata",
      whitelistService: { endpoint: "/allow", x: 1 },
      plugins: [],
      logout: { logoutEndpoint: "/logout", backChannelLogoutEndpoint: "bc" },
    },
    problems: [
      "xs-app.json.services: not supported at the edge",
      "xs-app.json.pluginMetadataEndpoint: must start with /",
      "xs-app.json.whitelistService.x: unknown property",
      "xs-app.json.plugins: unknown property",
      "xs-app.json.logout.backChannelLogoutEndpoint: must start with /",
    ],
  },
  {
    name: "destinations: unknown name, unused name, bad logoutPath and logoutMethod",
    env: {
      destinations: JSON.stringify([
        { name: "backend", url: "https://a" },
        { name: "other", url: "https://b" },
      ]),
    },
    xsApp: {
      ...XS_APP,
      destinations: {
        backend: { logoutPath: "https://elsewhere.example/logout", logoutMethod: "DELETE", foo: 1 },
        other: {},
        nope: {},
      },
    },
    problems: [
      "xs-app.json.destinations.backend.logoutPath: must be a relative path (no scheme, no host)",
      'xs-app.json.destinations.backend.logoutMethod: must be one of "GET", "POST", "PUT"',
      "xs-app.json.destinations.backend.foo: unknown property",
      "xs-app.json.destinations.other: not used by any route",
      'xs-app.json.destinations.nope: unknown destination "nope"',
    ],
  },
  {
    name: "responseHeaders: cookies and hop-by-hop headers cannot be configured; names, values, shape",
    xsApp: {
      ...XS_APP,
      responseHeaders: [
        { name: "Set-Cookie", value: "a=b" },
        { name: "transfer-encoding", value: "chunked" },
        { name: "Connection", value: "close" },
        { name: "bad name", value: "x" },
        { name: "X-Ok", value: "a\nb" },
        { name: "X-Empty", value: "" },
        { name: "X-Missing" },
        { name: "X-Extra", value: "1", when: "always" },
        "X-Frame-Options: DENY",
      ],
    },
    problems: [
      `xs-app.json.responseHeaders[0].name: ${UNCONFIGURABLE}`,
      `xs-app.json.responseHeaders[1].name: ${UNCONFIGURABLE}`,
      `xs-app.json.responseHeaders[2].name: ${UNCONFIGURABLE}`,
      "xs-app.json.responseHeaders[3].name: must be a valid header name (an RFC 9110 token)",
      `xs-app.json.responseHeaders[4].value: ${HEADER_VALUE}`,
      "xs-app.json.responseHeaders[5].value: must not be empty",
      "xs-app.json.responseHeaders[6].value: missing required property",
      "xs-app.json.responseHeaders[7].when: unknown property",
      "xs-app.json.responseHeaders[8]: must be an object",
    ],
  },
  {
    name: "errorPage: statuses, files, path, shape",
    xsApp: {
      ...XS_APP,
      errorPage: [
        { status: 99, file: "/e.html" },
        { status: [400, 400], file: "/e.html" },
        { status: [], file: "/e.html" },
        { status: "404", file: "/e.html" },
        { status: [404, 600], file: "/e.html" },
        { status: 404 },
        { status: 403, path: "/forbidden.html", file: "/e.html" },
        { status: 500, file: "../secret.html" },
        { status: 502, file: "/e.html", redirect: true },
        { status: 503, path: "https://elsewhere.example/down.html" },
        { status: 504, path: "\\elsewhere.example" },
        { status: 505, path: "/a\r\nSet-Cookie: x=1" },
      ],
    },
    problems: [
      `xs-app.json.errorPage[0].status: ${STATUS}`,
      "xs-app.json.errorPage[1].status: must not repeat a status",
      "xs-app.json.errorPage[2].status: must not be empty",
      "xs-app.json.errorPage[3].status: must be an HTTP status code or an array of them",
      `xs-app.json.errorPage[4].status[1]: ${STATUS}`,
      "xs-app.json.errorPage[5].file: missing required property",
      "xs-app.json.errorPage[6].path: cannot be combined with file (one of them: a file to serve or a path to redirect to)",
      'xs-app.json.errorPage[7].file: must be a file inside the static assets (no "..", no backslash)',
      "xs-app.json.errorPage[8].redirect: unknown property",
      "xs-app.json.errorPage[9].path: must be a relative path (no scheme, no host)",
      "xs-app.json.errorPage[10].path: must not contain a backslash or control characters",
      "xs-app.json.errorPage[11].path: must not contain a backslash or control characters",
    ],
  },
  { name: "cors empty", xsApp: { ...XS_APP, cors: [] }, problems: ["xs-app.json.cors: must not be empty"] },
  {
    name: "cors rules: required properties, origins, methods, headers, maxAge, patterns",
    xsApp: {
      ...XS_APP,
      cors: [
        {},
        {
          uriPattern: "(",
          hostPattern: { path: "^a$", matchCase: "no" },
          allowedOrigin: [
            { host: "bad host!" },
            { host: "a.com", port: 0 },
            { host: "a.com", port: "http" },
            { host: "a.com", protocol: "https:" },
            { port: 1 },
          ],
          allowedMethods: ["GET", "FETCH"],
          allowedHeaders: ["X-Ok", "bad header"],
          exposeHeaders: [],
          allowedCredentials: "yes",
          maxAge: -1,
          origin: "*",
        },
        { uriPattern: "^/", allowedOrigin: [] },
      ],
    },
    problems: [
      "xs-app.json.cors[0].uriPattern: missing required property",
      "xs-app.json.cors[0].allowedOrigin: missing required property",
      "xs-app.json.cors[1].uriPattern: invalid regular expression",
      "xs-app.json.cors[1].hostPattern.matchCase: must be true or false",
      'xs-app.json.cors[1].allowedOrigin[0].host: must be a host name, an IP address, "*" or "*." followed by a host name',
      `xs-app.json.cors[1].allowedOrigin[1].port: ${PORT}`,
      `xs-app.json.cors[1].allowedOrigin[2].port: ${PORT}`,
      'xs-app.json.cors[1].allowedOrigin[3].protocol: must be a URL scheme without ":" (e.g. "https")',
      "xs-app.json.cors[1].allowedOrigin[4].host: missing required property",
      `xs-app.json.cors[1].allowedMethods[1]: ${METHODS}`,
      "xs-app.json.cors[1].allowedHeaders[1]: must be a valid header name (an RFC 9110 token)",
      "xs-app.json.cors[1].exposeHeaders: must not be empty",
      "xs-app.json.cors[1].allowedCredentials: must be true or false",
      "xs-app.json.cors[1].maxAge: must be an integer ≥ 0",
      "xs-app.json.cors[1].origin: unknown property",
      'xs-app.json.cors[2].allowedOrigin: must not be empty (use [{ "host": "*" }] to allow any origin)',
    ],
  },
  {
    name: "compression and websockets",
    xsApp: { ...XS_APP, compression: { level: 9, minSize: 0 }, websockets: {} },
    problems: [
      "xs-app.json.compression.level: unknown property",
      `xs-app.json.compression.minSize: ${POSITIVE_INTEGER}`,
      "xs-app.json.websockets.enabled: missing required property",
    ],
  },
  {
    name: "websockets.enabled not a boolean",
    xsApp: { ...XS_APP, websockets: { enabled: "true" } },
    problems: ["xs-app.json.websockets.enabled: must be true or false"],
  },

  // ── HTTP-layer variables ──
  ...["maybe", "1", "yes"].map((value) => ({
    name: `SEND_XFRAMEOPTIONS ${JSON.stringify(value)}`,
    env: { SEND_XFRAMEOPTIONS: value },
    problems: ["SEND_XFRAMEOPTIONS: must be true or false"],
  })),
  {
    name: "MERGE_CSP_HEADERS not a boolean",
    env: { MERGE_CSP_HEADERS: "1" },
    problems: ["MERGE_CSP_HEADERS: must be true or false"],
  },
  { name: "httpHeaders not JSON", env: { httpHeaders: "[{" }, problems: [`httpHeaders: ${MUST_BE_JSON}`] },
  {
    name: "httpHeaders not an array",
    env: { httpHeaders: JSON.stringify({ "Content-Security-Policy": "default-src 'self'" }) },
    problems: ['httpHeaders: must be an array of { "Header-Name": "value" } objects'],
  },
  {
    name: "httpHeaders entries: one property each, configurable names, valid values",
    env: {
      httpHeaders: JSON.stringify([
        {},
        { "X-A": "1", "X-B": "2" },
        { "Set-Cookie": "a=b" },
        { Upgrade: "h2c" },
        { "X-Value": "a\r\nb" },
        { "X-Number": 5 },
        "X-Frame-Options: DENY",
      ]),
    },
    problems: [
      `httpHeaders[0]: ${ONE_HEADER}`,
      `httpHeaders[1]: ${ONE_HEADER}`,
      `httpHeaders[2].Set-Cookie: ${UNCONFIGURABLE}`,
      `httpHeaders[3].Upgrade: ${UNCONFIGURABLE}`,
      `httpHeaders[4].X-Value: ${HEADER_VALUE}`,
      "httpHeaders[5].X-Number: must be a string",
      "httpHeaders[6]: must be an object",
    ],
  },
  { name: "CORS not JSON", env: { CORS: "[" }, problems: [`CORS: ${MUST_BE_JSON}`] },
  { name: "CORS an object", env: { CORS: "{}" }, problems: ["CORS: must be an array of CORS rules"] },
  {
    name: "CORS rule problems are named by the variable",
    env: {
      CORS: JSON.stringify([{ uriPattern: "^/api", allowedOrigin: [{ host: "*.a.com", port: 123456 }] }]),
    },
    problems: [`CORS[0].allowedOrigin[0].port: ${PORT}`],
  },
  {
    name: "WS_ALLOWED_ORIGINS empty",
    env: { WS_ALLOWED_ORIGINS: "[]" },
    problems: ['WS_ALLOWED_ORIGINS: must not be empty (use [{ "host": "*" }] to allow any origin)'],
  },
  {
    name: "WS_ALLOWED_ORIGINS without host",
    env: { WS_ALLOWED_ORIGINS: '[{"protocol":"https"}]' },
    problems: ["WS_ALLOWED_ORIGINS[0].host: missing required property"],
  },
  {
    name: "plugins variable",
    env: {
      plugins: JSON.stringify([
        { source: "^/p/", destination: "backend" },
        { name: "x", source: "^/q/", destination: "nope", localDir: "r" },
        5,
      ]),
    },
    problems: [
      "plugins[0].name: missing required property",
      "plugins[1].localDir: unknown property",
      "plugins[2]: must be an object",
    ],
  },
  {
    name: "plugins variable: a route problem",
    env: { plugins: JSON.stringify([{ name: "x", source: "(", destination: "nope" }]) },
    problems: [
      "plugins[0].source: invalid regular expression",
      'plugins[0].destination: unknown destination "nope"',
    ],
  },
  {
    name: "destination strictSSL false on https (a Worker always verifies TLS)",
    env: { destinations: JSON.stringify([{ name: "backend", url: "https://b.example", strictSSL: false }]) },
    problems: [
      "destinations[0].strictSSL: false is not supported at the edge: a Worker always verifies TLS certificates (give the backend a certificate from a public CA, or use http:// inside a trusted network)",
    ],
  },
  {
    name: "plugins variable not an array",
    env: { plugins: "{}" },
    problems: ["plugins: must be an array of routes with a name"],
  },
  {
    name: "CJ_PROTECT_WHITELIST",
    env: { CJ_PROTECT_WHITELIST: JSON.stringify([{ host: "a.example", port: "x" }]) },
    problems: ["CJ_PROTECT_WHITELIST[0].port: must be a port number (1–65535)"],
  },
  {
    name: "COMPRESSION",
    env: { COMPRESSION: JSON.stringify({ enabled: "no" }) },
    problems: ["COMPRESSION.enabled: must be true or false"],
  },

  // ── session cookie variables ──
  { name: "COOKIES not JSON", env: { COOKIES: "{SameSite" }, problems: [`COOKIES: ${MUST_BE_JSON}`] },
  { name: "COOKIES an array", env: { COOKIES: "[]" }, problems: ["COOKIES: must be an object"] },
  {
    name: "COOKIES SameSite of the wrong case, unknown property",
    env: { COOKIES: JSON.stringify({ SameSite: "lax", Secure: true }) },
    problems: ['COOKIES.SameSite: must be "Lax", "Strict" or "None"', "COOKIES.Secure: unknown property"],
  },
  {
    name: "COOKIES Partitioned of the wrong type",
    env: { COOKIES: JSON.stringify({ Partitioned: "yes" }) },
    problems: [
      "COOKIES.Partitioned: must be true, false or { supportedPartitionAgents, unsupportedPartitionAgents }",
    ],
  },
  {
    name: "COOKIES Partitioned agents: invalid regex, missing one",
    env: { COOKIES: JSON.stringify({ Partitioned: { supportedPartitionAgents: "(Chrome" } }) },
    problems: [
      "COOKIES.Partitioned.supportedPartitionAgents: invalid regular expression",
      "COOKIES.Partitioned.unsupportedPartitionAgents: missing required property",
    ],
  },
  ...["no", "0", "auto"].map((value) => ({
    name: `SECURE_SESSION_COOKIE ${JSON.stringify(value)}`,
    env: { SECURE_SESSION_COOKIE: value },
    problems: ["SECURE_SESSION_COOKIE: must be true or false"],
  })),
  {
    name: "SECURE_SESSION_COOKIE false with SameSite None, Partitioned and a __Host- name",
    env: {
      SECURE_SESSION_COOKIE: "false",
      COOKIES: JSON.stringify({ SameSite: "None", Partitioned: true }),
      SESSION_COOKIE_NAME: "__Host-session",
    },
    problems: [
      "SECURE_SESSION_COOKIE: must not be false with COOKIES SameSite None (browsers require Secure)",
      "SECURE_SESSION_COOKIE: must not be false with COOKIES Partitioned (browsers require Secure)",
      "SECURE_SESSION_COOKIE: must not be false with a __Host- or __Secure- SESSION_COOKIE_NAME (browsers require Secure)",
    ],
  },

  // ── session variables ──
  ...["0", "-5", "1.5", "abc", "15m", "1e3", "99999999999999999999"].map((value) => ({
    name: `SESSION_TIMEOUT ${JSON.stringify(value)}`,
    env: { SESSION_TIMEOUT: value },
    problems: [`SESSION_TIMEOUT: ${POSITIVE_INTEGER}`],
  })),
  {
    name: "SESSION_ABSOLUTE_TIMEOUT 0",
    env: { SESSION_ABSOLUTE_TIMEOUT: "0" },
    problems: [`SESSION_ABSOLUTE_TIMEOUT: ${POSITIVE_INTEGER}`],
  },
  {
    name: "SESSION_ABSOLUTE_TIMEOUT shorter than SESSION_TIMEOUT",
    env: { SESSION_TIMEOUT: "20", SESSION_ABSOLUTE_TIMEOUT: "10" },
    problems: ["SESSION_ABSOLUTE_TIMEOUT: must be at least the idle timeout (20 minutes)"],
  },
  {
    name: "SESSION_ABSOLUTE_TIMEOUT shorter than xs-app.json sessionTimeout",
    env: { SESSION_ABSOLUTE_TIMEOUT: "10" },
    xsApp: { ...XS_APP, sessionTimeout: 30 },
    problems: ["SESSION_ABSOLUTE_TIMEOUT: must be at least the idle timeout (30 minutes)"],
  },
  {
    name: "SESSION_ABSOLUTE_TIMEOUT shorter than the default idle timeout",
    env: { SESSION_ABSOLUTE_TIMEOUT: "14" },
    problems: ["SESSION_ABSOLUTE_TIMEOUT: must be at least the idle timeout (15 minutes)"],
  },
  ...["my cookie", "a;b", "sess=1", "naïve", "(x)", 'q"'].map((value) => ({
    name: `SESSION_COOKIE_NAME ${JSON.stringify(value)}`,
    env: { SESSION_COOKIE_NAME: value },
    problems: [`SESSION_COOKIE_NAME: ${COOKIE}`],
  })),
  {
    name: "memory bounds not positive integers",
    env: { SESSION_MEMORY_MAX_ENTRIES: "0", SESSION_MEMORY_MAX_BYTES: "64MiB" },
    problems: [
      `SESSION_MEMORY_MAX_ENTRIES: ${POSITIVE_INTEGER}`,
      `SESSION_MEMORY_MAX_BYTES: ${POSITIVE_INTEGER}`,
    ],
  },

  // ── every part at once ──
  {
    name: "problems from every part are all reported",
    env: {
      EXT_SESSION_MGT: ext({ sessionSecret: SHORT_SECRET, previousSessionSecrets: [SECRET_B], extra: TOKEN }),
      VCAP_SERVICES: JSON.stringify(binding("approuter-redis", { url: UPSTASH_URL, token: "" })),
      destinations: JSON.stringify([
        { name: "backend", url: "https://a", timeout: -1 },
        { url: "https://b" },
      ]),
      SESSION_TIMEOUT: "x",
      SESSION_COOKIE_NAME: "a b",
    },
    xsApp: { routes: [{ source: "(", destination: "missing", authenticationType: "basic" }] },
    problems: [
      "EXT_SESSION_MGT.sessionSecret: must be at least 64 characters",
      "EXT_SESSION_MGT.extra: unknown property",
      "VCAP_SERVICES.redis[0].credentials.token: must not be empty",
      `destinations[0].timeout: ${POSITIVE_INTEGER}`,
      "destinations[1].name: missing required property",
      "xs-app.json.routes[0].source: invalid regular expression",
      'xs-app.json.routes[0].destination: unknown destination "missing"',
      "xs-app.json.routes[0].authenticationType: not supported at the edge",
      `SESSION_TIMEOUT: ${POSITIVE_INTEGER}`,
      `SESSION_COOKIE_NAME: ${COOKIE}`,
    ],
  },
];

describe("loadConfig: problems", () => {
  it.each(problemRows)("$name", (row) => {
    const result = load(row);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(formatProblems(result.problems).split("\n").sort()).toEqual([...row.problems].sort());
  });

  it("a custom store path without a bundled driver is reported with every other problem, in one pass", () => {
    const env: Env = {
      ASSETS,
      destinations: JSON.stringify([{ name: "backend" }]),
      EXT_SESSION_MGT: ext({ storageType: "kv", externalStoreFilePath: "./store.js" }),
    };
    const xsApp = { routes: [{ source: "^/(.*)$", destination: "backend", authenticationType: "none" }] };
    const result = loadConfig(env, xsApp, { customStoreBundled: false });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(formatProblems(result.problems).split("\n").sort()).toEqual([
      'EXT_SESSION_MGT.externalStoreFilePath: no custom store driver is bundled; point the "approuter-custom-store" alias in wrangler.toml at your driver module',
      "destinations[0].url: missing required property",
    ]);
    expect(loadConfig({ ...env, destinations: DESTINATIONS }, xsApp, { customStoreBundled: true }).ok).toBe(
      true,
    );
  });

  it("formatProblems: one `path: message` line each", () => {
    expect(
      formatProblems([
        { path: "a.b", message: "must be x" },
        { path: "c[0]", message: "must be y" },
      ]),
    ).toBe("a.b: must be x\nc[0]: must be y");
  });
});

describe("loadConfig: no problem ever shows a secret", () => {
  const problems = problemRows.flatMap((row) => {
    const result = load(row);
    return result.ok ? [] : result.problems;
  });

  it("covers many problems", () => {
    expect(problems.length).toBeGreaterThan(100);
  });

  it.each(ALL_SECRETS.map((secret) => ({ secret })))("never contains $secret", ({ secret }) => {
    for (const p of problems) {
      expect(p.path).not.toContain(secret);
      expect(p.message).not.toContain(secret);
    }
  });

  it("uses no library default message (those quote the received value)", () => {
    for (const p of problems) expect(p.message).not.toMatch(/^Invalid \w+: |[Rr]eceived/);
  });
});

interface ConfigRow extends Row {
  get: (config: RouterConfig) => unknown;
  expected: unknown;
}

const withRedis = { EXT_SESSION_MGT: ext(), VCAP_SERVICES: VCAP };

const configRows: ConfigRow[] = [
  // ── EXT_SESSION_MGT ──
  { name: "no EXT_SESSION_MGT: memory tier only", get: (c) => c.externalSession, expected: undefined },
  {
    name: "blank EXT_SESSION_MGT: memory tier only",
    env: { EXT_SESSION_MGT: "  " },
    get: (c) => c.externalSession,
    expected: undefined,
  },
  {
    name: "EXT_SESSION_MGT defaults",
    env: withRedis,
    get: (c) => c.externalSession,
    expected: {
      instanceName: "approuter-redis",
      storageType: "redis",
      secrets: [SECRET_A],
      retryTimeoutMs: 2000,
      backOffMultiplier: 50,
      revalidateAfterMs: 5000,
      upstash: { url: UPSTASH_URL, token: TOKEN },
    },
  },
  {
    name: "sessionSecret of exactly 64 characters",
    env: { ...withRedis, EXT_SESSION_MGT: ext({ sessionSecret: SECRET_64 }) },
    get: (c) => c.externalSession?.secrets,
    expected: [SECRET_64],
  },
  {
    name: "previousSessionSecrets follow sessionSecret, newest first",
    env: { ...withRedis, EXT_SESSION_MGT: ext({ previousSessionSecrets: [SECRET_B, SECRET_64] }) },
    get: (c) => c.externalSession?.secrets,
    expected: [SECRET_A, SECRET_B, SECRET_64],
  },
  {
    name: "defaultRetryTimeout → retryTimeoutMs",
    env: { ...withRedis, EXT_SESSION_MGT: ext({ defaultRetryTimeout: 500 }) },
    get: (c) => c.externalSession?.retryTimeoutMs,
    expected: 500,
  },
  {
    name: "backOffMultiplier may be fractional",
    env: { ...withRedis, EXT_SESSION_MGT: ext({ backOffMultiplier: 1.5 }) },
    get: (c) => c.externalSession?.backOffMultiplier,
    expected: 1.5,
  },
  {
    name: "revalidateAfter 0 → revalidateAfterMs 0",
    env: { ...withRedis, EXT_SESSION_MGT: ext({ revalidateAfter: 0 }) },
    get: (c) => c.externalSession?.revalidateAfterMs,
    expected: 0,
  },
  {
    name: "custom store: any storageType, no credentials needed",
    env: { EXT_SESSION_MGT: ext({ storageType: "my-kv", externalStoreFilePath: "./stores/kv" }) },
    get: (c) =>
      c.externalSession && [
        c.externalSession.storageType,
        c.externalSession.externalStoreFilePath,
        c.externalSession.upstash,
      ],
    expected: ["my-kv", "./stores/kv", undefined],
  },
  {
    name: "custom store: upstash stays undefined even with a binding",
    env: { ...withRedis, EXT_SESSION_MGT: ext({ externalStoreFilePath: "./stores/kv" }) },
    get: (c) => c.externalSession?.upstash,
    expected: undefined,
  },

  // ── credentials ──
  {
    name: "binding found under any label",
    env: {
      EXT_SESSION_MGT: ext(),
      VCAP_SERVICES: JSON.stringify({
        auditlog: [{ name: "audit", credentials: { clientid: "x" } }],
        ...binding("approuter-redis", { url: UPSTASH_URL, token: TOKEN }, "user-provided"),
      }),
    },
    get: (c) => c.externalSession?.upstash,
    expected: { url: UPSTASH_URL, token: TOKEN },
  },
  {
    name: "UPSTASH_REDIS_REST_* when there is no binding (trimmed)",
    env: {
      EXT_SESSION_MGT: ext(),
      UPSTASH_REDIS_REST_URL: ` ${UPSTASH_URL}\n`,
      UPSTASH_REDIS_REST_TOKEN: `${TOKEN}\n`,
    },
    get: (c) => c.externalSession?.upstash,
    expected: { url: UPSTASH_URL, token: TOKEN },
  },
  {
    name: "the binding wins over UPSTASH_REDIS_REST_*",
    env: {
      ...withRedis,
      UPSTASH_REDIS_REST_URL: "https://other.upstash.io",
      UPSTASH_REDIS_REST_TOKEN: "other",
    },
    get: (c) => c.externalSession?.upstash?.url,
    expected: UPSTASH_URL,
  },

  // ── destinations ──
  {
    name: "no destinations variable: empty map",
    env: { destinations: undefined },
    xsApp: {},
    get: (c) => c.destinations.size,
    expected: 0,
  },
  {
    name: "destination defaults, trailing slash removed",
    get: (c) => c.destinations.get("backend"),
    expected: {
      name: "backend",
      url: "https://backend.example.com",
      forwardAuthToken: false,
      timeoutMs: 30000,
      setXForwardedHeaders: true,
    },
  },
  {
    name: "destination settings",
    env: {
      destinations: JSON.stringify([
        {
          name: "backend",
          url: "http://backend.internal:8080/api//",
          forwardAuthToken: true,
          timeout: 5000,
          setXForwardedHeaders: false,
          strictSSL: false,
          proxyType: "Internet",
        },
      ]),
    },
    get: (c) => c.destinations.get("backend"),
    expected: {
      name: "backend",
      url: "http://backend.internal:8080/api",
      forwardAuthToken: true,
      timeoutMs: 5000,
      setXForwardedHeaders: false,
    },
  },
  {
    name: "destinations as an already-parsed wrangler [vars] value",
    env: { destinations: [{ name: "backend", url: "https://b" }] as unknown as string },
    get: (c) => c.destinations.get("backend")?.url,
    expected: "https://b",
  },

  // ── xs-app.json ──
  {
    name: "xs-app.json defaults",
    xsApp: {},
    get: (c) => c.xsApp,
    expected: {
      authenticationMethod: "route",
      routes: [],
      login: { callbackEndpoint: "/login/callback" },
      destinations: new Map(),
      responseHeaders: [],
      cors: [],
      errorPage: new Map(),
      websockets: { enabled: false },
      compression: { enabled: true },
      ignored: [],
    },
  },
  { name: "no xs-app.json at all", xsApp: undefined, get: (c) => c.xsApp.routes, expected: [] },
  {
    name: "xs-app.json top-level settings",
    xsApp: {
      welcomeFile: "/index.html",
      authenticationMethod: "none",
      sessionTimeout: 30,
      login: { callbackEndpoint: "/cb" },
      logout: {
        logoutEndpoint: "/do/logout",
        logoutPage: "/bye.html",
        logoutMethod: "GET",
        csrfProtection: false,
      },
    },
    get: (c) => c.xsApp,
    expected: {
      welcomeFile: "/index.html",
      authenticationMethod: "none",
      sessionTimeout: 30,
      routes: [],
      login: { callbackEndpoint: "/cb" },
      logout: {
        logoutEndpoint: "/do/logout",
        logoutPage: "/bye.html",
        logoutMethod: "GET",
        csrfProtection: false,
      },
      destinations: new Map(),
      responseHeaders: [],
      cors: [],
      errorPage: new Map(),
      websockets: { enabled: false },
      compression: { enabled: true },
      ignored: [],
    },
  },
  {
    name: "logout defaults",
    xsApp: { logout: {} },
    get: (c) => c.xsApp.logout,
    expected: { logoutMethod: "GET", csrfProtection: true },
  }, // SAP: "The default value is GET"
  {
    name: "compression: enabled kept, minSize and compressResponseMixedTypeContent named as ignored",
    xsApp: {
      ...XS_APP,
      compression: { enabled: false, minSize: 2048, compressResponseMixedTypeContent: false },
    },
    get: (c) => [c.xsApp.compression, c.xsApp.ignored],
    expected: [
      { enabled: false },
      [
        "compression.minSize (Cloudflare decides compression at the edge)",
        "compression.compressResponseMixedTypeContent (Cloudflare decides compression at the edge)",
      ],
    ],
  },
  {
    name: "COMPRESSION overrides xs-app.json compression.enabled (SAP merges it)",
    env: { COMPRESSION: JSON.stringify({ enabled: false, minSize: 10 }) },
    xsApp: { ...XS_APP, compression: { enabled: true } },
    get: (c) => [c.xsApp.compression, c.xsApp.ignored],
    expected: [{ enabled: false }, ["COMPRESSION.minSize (Cloudflare decides compression at the edge)"]],
  },
  {
    name: "scope on a public route is named as ignored (SAP warns too)",
    xsApp: { routes: [{ source: "^/p/", destination: "backend", authenticationType: "none", scope: "x" }] },
    get: (c) => c.xsApp.ignored,
    expected: ["routes[0].scope (the route is public)"],
  },
  {
    name: "cacheControl on a destination route is named as ignored (SAP: localDir routes only)",
    xsApp: {
      routes: [
        { source: "^/p/", destination: "backend", cacheControl: "no-cache" },
        { source: "^/", localDir: "r", cacheControl: "no-cache" },
      ],
    },
    get: (c) => c.xsApp.ignored,
    expected: ["routes[0].cacheControl (only localDir routes; SAP ignores it too)"],
  },
  {
    name: "plugins variable: routes before xs-app.json's; the JSON kept for the metadata endpoint",
    env: {
      plugins: JSON.stringify([
        { name: "p", source: "^/p/(.*)$", target: "$1", destination: "backend", authenticationType: "none" },
      ]),
    },
    get: (c) => [c.xsApp.routes.map((r) => r.source.source), c.http.plugins],
    expected: [
      ["^\\/p\\/(.*)$", "^\\/api\\/(.*)$"],
      [{ name: "p", source: "^/p/(.*)$", target: "$1", destination: "backend", authenticationType: "none" }],
    ],
  },
  {
    name: "whitelistService, pluginMetadataEndpoint and CJ_PROTECT_WHITELIST",
    env: {
      CJ_PROTECT_WHITELIST: JSON.stringify([{ protocol: "https", host: "*.example.com", port: "443" }]),
    },
    xsApp: {
      ...XS_APP,
      whitelistService: { endpoint: "/whitelist/service" },
      pluginMetadataEndpoint: "/metadata",
    },
    get: (c) => [c.xsApp.whitelistService, c.xsApp.pluginMetadataEndpoint, c.http.clickjackWhitelist],
    expected: [
      { endpoint: "/whitelist/service" },
      "/metadata",
      [{ protocol: "https", host: "*.example.com", port: 443 }],
    ],
  },
  {
    name: "route defaults",
    get: (c) => c.xsApp.routes[0],
    expected: {
      source: /^\/api\/(.*)$/,
      target: "$1",
      destination: "backend",
      authenticationType: "xsuaa",
      authenticationTypeImplicit: true,
      csrfProtection: true,
      setBackendSessionCookies: false,
    },
  },
  {
    name: "route settings",
    xsApp: route({ httpMethods: ["get", "Post"], authenticationType: "ias", csrfProtection: false }),
    get: (c) => c.xsApp.routes[0],
    expected: {
      source: /^\//,
      destination: "backend",
      httpMethods: ["GET", "POST"],
      authenticationType: "ias",
      csrfProtection: false,
      setBackendSessionCookies: false,
    },
  },
  {
    name: "route source is case-sensitive",
    get: (c) => [c.xsApp.routes[0]?.source.test("/api/x"), c.xsApp.routes[0]?.source.test("/API/x")],
    expected: [true, false],
  },
  {
    name: "route source object form, matchCase false → flag i",
    xsApp: route({ source: { path: "^/a", matchCase: false } }),
    get: (c) => c.xsApp.routes[0]?.source.flags,
    expected: "i",
  },
  {
    name: "route source object form, matchCase default",
    xsApp: route({ source: { path: "^/a" } }),
    get: (c) => c.xsApp.routes[0]?.source.flags,
    expected: "",
  },
  {
    name: 'authenticationMethod "none" makes every route "none"',
    xsApp: {
      authenticationMethod: "none",
      routes: [{ source: "^/", destination: "backend", authenticationType: "ias" }],
    },
    get: (c) => c.xsApp.routes[0]?.authenticationType,
    expected: "none",
  },
  {
    name: "XS_APP replaces the bundled xs-app.json",
    env: { XS_APP: JSON.stringify({ welcomeFile: "/from-env.html" }) },
    get: (c) => [c.xsApp.welcomeFile, c.xsApp.routes.length],
    expected: ["/from-env.html", 0],
  },
  {
    name: "blank XS_APP keeps the bundled xs-app.json",
    env: { XS_APP: "" },
    get: (c) => c.xsApp.routes.length,
    expected: 1,
  },

  // ── xs-app.json: full SAP surface ──
  {
    name: "localDir route, normalised (SAP: folder in the working directory)",
    xsApp: {
      routes: [
        {
          source: "^/web/(.*)$",
          target: "$1",
          localDir: "./resources/",
          cacheControl: "public, max-age=60",
          authenticationType: "none",
        },
      ],
    },
    get: (c) => c.xsApp.routes[0],
    expected: {
      source: /^\/web\/(.*)$/,
      target: "$1",
      destination: "",
      authenticationType: "none",
      csrfProtection: true,
      localDir: "/resources",
      cacheControl: "public, max-age=60",
      setBackendSessionCookies: false,
    },
  },
  ...[
    ["resources", "/resources"],
    ["/resources/", "/resources"],
    ["./a/./b", "/a/b"],
    [".", "/"],
    ["./", "/"],
  ].map(([localDir, expected]) => ({
    name: `localDir ${JSON.stringify(localDir)} → ${expected}`,
    xsApp: { routes: [{ source: "^/", localDir }] },
    get: (c: RouterConfig) => c.xsApp.routes[0]?.localDir,
    expected,
  })),
  ...[
    ["$XSAPPNAME.read", { default: ["$XSAPPNAME.read"] }],
    [["a", "b"], { default: ["a", "b"] }],
    [
      { GET: "r", POST: ["w", "x"], default: "g" },
      { GET: ["r"], POST: ["w", "x"], default: ["g"] },
    ],
    [{ DELETE: "admin" }, { DELETE: ["admin"] }],
  ].map(([scope, expected]) => ({
    name: `scope ${JSON.stringify(scope)} normalised per method`,
    xsApp: route({ scope }),
    get: (c: RouterConfig) => c.xsApp.routes[0]?.scope,
    expected,
  })),
  {
    name: "scope dropped on a public route (SAP ignores it)",
    xsApp: route({ scope: "a", authenticationType: "none" }),
    get: (c) => "scope" in c.xsApp.routes[0]!,
    expected: false,
  },
  {
    name: 'scope dropped under authenticationMethod "none"',
    xsApp: { authenticationMethod: "none", routes: [{ source: "^/", destination: "backend", scope: "a" }] },
    get: (c) => "scope" in c.xsApp.routes[0]!,
    expected: false,
  },
  {
    name: "identityProvider and setBackendSessionCookies kept",
    xsApp: route({ identityProvider: "corporate", setBackendSessionCookies: true }),
    get: (c) => [c.xsApp.routes[0]?.identityProvider, c.xsApp.routes[0]?.setBackendSessionCookies],
    expected: ["corporate", true],
  },
  ...[
    ["index.html", "/index.html"],
    ["/web/index.html?x=1", "/web/index.html?x=1"],
    ["/", "/"],
  ].map(([welcomeFile, expected]) => ({
    name: `welcomeFile ${JSON.stringify(welcomeFile)} → ${expected} (SAP adds the leading /)`,
    xsApp: { welcomeFile },
    get: (c: RouterConfig) => c.xsApp.welcomeFile,
    expected,
  })),
  {
    name: "stateProtection true is accepted",
    xsApp: { ...XS_APP, stateProtection: true },
    get: (c) => c.xsApp.routes.length,
    expected: 1,
  },
  {
    name: "destinations: logout settings by name, logoutPath gets a leading /, logoutMethod defaults to POST",
    env: {
      destinations: JSON.stringify([
        { name: "backend", url: "https://a" },
        { name: "other", url: "https://b" },
      ]),
    },
    xsApp: {
      routes: [
        { source: "^/a/", destination: "backend" },
        { source: "^/b/", destination: "other" },
      ],
      destinations: { backend: { logoutPath: "sap/logout", logoutMethod: "GET" }, other: {} },
    },
    get: (c) => c.xsApp.destinations,
    expected: new Map([
      ["backend", { logoutPath: "/sap/logout", logoutMethod: "GET" }],
      ["other", { logoutMethod: "POST" }],
    ]),
  },
  {
    name: "responseHeaders in order",
    xsApp: {
      ...XS_APP,
      responseHeaders: [
        { name: "Content-Security-Policy", value: "default-src 'self'" },
        { name: "X-Frame-Options", value: "DENY" },
      ],
    },
    get: (c) => c.xsApp.responseHeaders,
    expected: [
      { name: "Content-Security-Policy", value: "default-src 'self'" },
      { name: "X-Frame-Options", value: "DENY" },
    ],
  },
  {
    name: "errorPage: status → asset file or redirect path, a later entry wins (SAP)",
    xsApp: {
      ...XS_APP,
      errorPage: [
        { status: [400, 401, 402], file: "./custom-err-40x.html" },
        { status: 501, file: "http_resources/custom-err-501.html" },
        { status: 401, file: "/401.html" },
        { status: [402, 503], path: "books/error.html" },
      ],
    },
    get: (c) => c.xsApp.errorPage,
    expected: new Map<number, unknown>([
      [400, { file: "/custom-err-40x.html" }],
      [401, { file: "/401.html" }],
      [402, { path: "/books/error.html" }],
      [501, { file: "/http_resources/custom-err-501.html" }],
      [503, { path: "/books/error.html" }],
    ]),
  },
  {
    name: "dynamicIdentityProvider on a route, and DYNAMIC_IDENTITY_PROVIDER for all (SAP)",
    env: { DYNAMIC_IDENTITY_PROVIDER: "true" },
    xsApp: route({ dynamicIdentityProvider: true }),
    get: (c) => [c.xsApp.routes[0]?.dynamicIdentityProvider, c.login.dynamicIdentityProvider],
    expected: [true, true],
  },
  {
    name: "preferLocal on a destination route: accepted (the router's own subaccount's destinations are all it reads)",
    xsApp: route({ preferLocal: true }),
    get: (c) => c.xsApp.routes[0]?.destination,
    expected: "backend",
  },
  {
    name: "dynamicIdentityProvider off by default",
    get: (c) => [c.xsApp.routes[0]?.dynamicIdentityProvider, c.login.dynamicIdentityProvider],
    expected: [undefined, undefined],
  },
  {
    name: "errorPage with paths only: no static assets needed (the pages are elsewhere)",
    env: { ASSETS: undefined },
    xsApp: { ...XS_APP, errorPage: [{ status: [401, 404], path: "/books/error.html" }] },
    get: (c) => c.xsApp.errorPage.get(404),
    expected: { path: "/books/error.html" },
  },
  {
    name: "cors: SAP defaults filled in, origins normalised",
    xsApp: {
      ...XS_APP,
      cors: [
        {
          uriPattern: "^/api/",
          allowedOrigin: [{ host: "App.Example.COM", protocol: "HTTPS", port: "8443" }],
        },
      ],
    },
    get: (c) => c.xsApp.cors,
    expected: [
      {
        uriPattern: /^\/api\//,
        allowedOrigin: [{ host: "app.example.com", protocol: "https", port: 8443 }],
        allowedMethods: ["GET", "POST", "HEAD", "OPTIONS"],
        allowedHeaders: [
          "Origin",
          "Accept",
          "X-Requested-With",
          "Content-Type",
          "Access-Control-Request-Method",
          "Access-Control-Request-Headers",
        ],
        exposeHeaders: [],
        allowedCredentials: true,
        maxAge: 1800,
      },
    ],
  },
  {
    name: "cors: every property given",
    xsApp: {
      ...XS_APP,
      cors: [
        {
          uriPattern: { path: "^/API/", matchCase: false },
          hostPattern: "^router\\.example:443$",
          allowedOrigin: [{ host: "*.example.com" }, { host: "*" }],
          allowedMethods: ["get", "PUT"],
          allowedHeaders: ["Authorization"],
          exposeHeaders: ["X-Csrf-Token"],
          allowedCredentials: false,
          maxAge: 0,
        },
      ],
    },
    get: (c) => {
      const r = c.xsApp.cors[0]!;
      return [
        r.uriPattern.flags,
        r.hostPattern?.source,
        r.allowedOrigin,
        r.allowedMethods,
        r.allowedHeaders,
        r.exposeHeaders,
        r.allowedCredentials,
        r.maxAge,
      ];
    },
    expected: [
      "i",
      "^router\\.example:443$",
      [{ host: "*.example.com" }, { host: "*" }],
      ["GET", "PUT"],
      ["Authorization"],
      ["X-Csrf-Token"],
      false,
      0,
    ],
  },
  {
    name: "websockets enabled",
    xsApp: { ...XS_APP, websockets: { enabled: true } },
    get: (c) => c.xsApp.websockets,
    expected: { enabled: true },
  },
  {
    name: "ws:/wss: destination URLs become http:/https: (a Worker opens WebSockets with fetch)",
    env: {
      destinations: JSON.stringify([
        { name: "backend", url: "wss://b.example/socket" },
        { name: "plain", url: "ws://c.example:8080" },
      ]),
    },
    xsApp: {},
    get: (c) => [c.destinations.get("backend")?.url, c.destinations.get("plain")?.url],
    expected: ["https://b.example/socket", "http://c.example:8080"],
  },

  // ── HTTP-layer variables ──
  {
    name: "HTTP settings defaults",
    get: (c) => c.http,
    expected: { sendXFrameOptions: true, httpHeaders: [], cors: [] },
  },
  ...[
    ["false", false],
    [" FALSE ", false],
    ["true", true],
    [false, false],
  ].map(([value, expected]) => ({
    name: `SEND_XFRAMEOPTIONS ${JSON.stringify(value)}`,
    env: { SEND_XFRAMEOPTIONS: value as string },
    get: (c: RouterConfig) => c.http.sendXFrameOptions,
    expected,
  })),
  ...[
    [undefined, undefined],
    ["true", true],
    [" TRUE ", true],
    ["false", undefined],
  ].map(([value, expected]) => ({
    name: `MERGE_CSP_HEADERS ${JSON.stringify(value)}`,
    env: value === undefined ? {} : { MERGE_CSP_HEADERS: value as string },
    get: (c: RouterConfig) => c.http.mergeCspHeaders,
    expected,
  })),
  {
    name: "httpHeaders (SAP format) in order",
    env: {
      httpHeaders: JSON.stringify([
        { "Content-Security-Policy": "frame-ancestors 'self'" },
        { "X-Frame-Options": "DENY" },
      ]),
    },
    get: (c) => c.http.httpHeaders,
    expected: [
      { name: "Content-Security-Policy", value: "frame-ancestors 'self'" },
      { name: "X-Frame-Options", value: "DENY" },
    ],
  },
  {
    name: "CORS variable (SAP README sample)",
    env: {
      CORS: JSON.stringify([
        {
          uriPattern: "^/route1$",
          hostPattern: "^my-example\\.my_target_domain:443$",
          allowedMethods: ["GET"],
          allowedOrigin: [{ host: "my_example.my_domain", protocol: "https", port: 345 }],
          maxAge: 3600,
          allowedHeaders: ["Authorization", "Content-Type"],
          exposeHeaders: ["customHeader1", "customHeader2"],
          allowedCredentials: true,
        },
      ]),
    },
    get: (c) => [c.http.cors.length, c.http.cors[0]?.allowedOrigin, c.http.cors[0]?.maxAge],
    expected: [1, [{ host: "my_example.my_domain", protocol: "https", port: 345 }], 3600],
  },
  {
    name: "WS_ALLOWED_ORIGINS",
    env: { WS_ALLOWED_ORIGINS: JSON.stringify([{ host: "app.example.com", protocol: "https" }]) },
    get: (c) => c.http.wsAllowedOrigins,
    expected: [{ host: "app.example.com", protocol: "https" }],
  },

  // ── session cookie variables ──
  {
    name: "COOKIES SAP format: SameSite None, Partitioned by user agent",
    env: {
      COOKIES: JSON.stringify({
        SameSite: "None",
        Partitioned: {
          supportedPartitionAgents: "^Mozilla.*Chrome/(1[1-9][0-9])",
          unsupportedPartitionAgents: "PostmanRuntime",
        },
      }),
    },
    get: (c) => {
      const p = c.session.cookie.partitioned;
      return [
        c.session.cookie.sameSite,
        typeof p === "object" && [p.supportedAgents.source, p.unsupportedAgents.source],
      ];
    },
    expected: ["None", [/^Mozilla.*Chrome\/(1[1-9][0-9])/.source, "PostmanRuntime"]],
  },
  {
    name: "COOKIES Strict and Partitioned true (extensions)",
    env: { COOKIES: JSON.stringify({ SameSite: "Strict", Partitioned: true }) },
    get: (c) => c.session.cookie,
    expected: { sameSite: "Strict", partitioned: true, secure: true },
  },
  {
    name: "SECURE_SESSION_COOKIE false (local http development)",
    env: { SECURE_SESSION_COOKIE: "false" },
    get: (c) => c.session.cookie,
    expected: { sameSite: "Lax", partitioned: false, secure: false },
  },

  // ── session variables ──
  {
    name: "session defaults",
    get: (c) => c.session,
    expected: {
      cookieName: "JSESSIONID",
      idleTimeoutMs: 15 * 60_000,
      absoluteTimeoutMs: 480 * 60_000,
      memory: { maxEntries: 10000, maxBytes: 67108864 },
      cookie: { sameSite: "Lax", partitioned: false, secure: true },
    },
  },
  {
    name: "xs-app.json sessionTimeout → idle timeout",
    xsApp: { sessionTimeout: 30 },
    get: (c) => c.session.idleTimeoutMs,
    expected: 30 * 60_000,
  },
  {
    name: "SESSION_TIMEOUT overrides xs-app.json sessionTimeout",
    env: { SESSION_TIMEOUT: "45" },
    xsApp: { sessionTimeout: 30 },
    get: (c) => c.session.idleTimeoutMs,
    expected: 45 * 60_000,
  },
  {
    name: "blank SESSION_TIMEOUT takes the default",
    env: { SESSION_TIMEOUT: " " },
    get: (c) => c.session.idleTimeoutMs,
    expected: 15 * 60_000,
  },
  {
    name: "SESSION_ABSOLUTE_TIMEOUT",
    env: { SESSION_ABSOLUTE_TIMEOUT: "60" },
    get: (c) => c.session.absoluteTimeoutMs,
    expected: 60 * 60_000,
  },
  {
    name: "SESSION_ABSOLUTE_TIMEOUT equal to the idle timeout",
    env: { SESSION_TIMEOUT: "20", SESSION_ABSOLUTE_TIMEOUT: "20" },
    get: (c) => c.session.absoluteTimeoutMs,
    expected: 20 * 60_000,
  },
  {
    name: "unset absolute timeout is never shorter than the idle timeout",
    env: { SESSION_TIMEOUT: "600" },
    get: (c) => c.session.absoluteTimeoutMs,
    expected: 600 * 60_000,
  },
  {
    name: "SESSION_COOKIE_NAME",
    env: { SESSION_COOKIE_NAME: "__Host-approuter_session" },
    get: (c) => c.session.cookieName,
    expected: "__Host-approuter_session",
  },
  {
    name: "memory bounds",
    env: { SESSION_MEMORY_MAX_ENTRIES: "500", SESSION_MEMORY_MAX_BYTES: "1048576" },
    get: (c) => c.session.memory,
    expected: { maxEntries: 500, maxBytes: 1048576 },
  },
  {
    name: "numeric wrangler [vars] values",
    env: { SESSION_TIMEOUT: 20 as unknown as string },
    get: (c) => c.session.idleTimeoutMs,
    expected: 20 * 60_000,
  },
];

describe("loadConfig: configuration", () => {
  it.each(configRows)("$name", (row) => {
    const result = load(row);
    if (!result.ok) expect.fail(formatProblems(result.problems));
    expect(row.get(result.config)).toEqual(row.expected);
  });
});

describe("redactedSummary", () => {
  it("counts the secrets and shows no secret", () => {
    const result = load({
      name: "summary",
      env: {
        ...withRedis,
        EXT_SESSION_MGT: ext({ previousSessionSecrets: [SECRET_B] }),
        destinations: JSON.stringify([
          { name: "backend", url: `https://user:${VCAP_PASSWORD}@backend.example.com/api?key=${TOKEN}` },
        ]),
      },
    });
    if (!result.ok) expect.fail(formatProblems(result.problems));
    const summary = redactedSummary(result.config);
    const text = JSON.stringify(summary);
    for (const secret of ALL_SECRETS) expect(text).not.toContain(secret);
    expect(summary.externalSession).toEqual({
      instanceName: "approuter-redis",
      storageType: "redis",
      secrets: 2,
      store: "upstash",
      upstashUrl: UPSTASH_URL,
      retryTimeoutMs: 2000,
      backOffMultiplier: 50,
      revalidateAfterMs: 5000,
    });
    expect(summary.destinations).toEqual([
      { name: "backend", url: "https://backend.example.com/api", timeoutMs: 30000, forwardAuthToken: false },
    ]);
    expect(summary.xsApp).toEqual({ authenticationMethod: "route", routes: 1 });
  });

  it("without an external tier", () => {
    const result = load({ name: "summary" });
    if (!result.ok) expect.fail(formatProblems(result.problems));
    expect(redactedSummary(result.config).externalSession).toBeUndefined();
  });
});

describe("identity providers (VCAP_SERVICES xsuaa / identity)", () => {
  const xsApp = {
    routes: [
      { source: "^/a", destination: "backend", authenticationType: "xsuaa" },
      { source: "^/b", destination: "backend", authenticationType: "ias" },
    ],
  };

  it("finds both bindings and keeps what login needs", () => {
    const result = loadConfig({ destinations: DESTINATIONS, VCAP_SERVICES: withIdp() } as Env, xsApp);
    if (!result.ok) expect.fail(formatProblems(result.problems));
    expect(result.config.identityProviders.xsuaa).toMatchObject({
      label: "xsuaa",
      kind: "xsuaa",
      url: "https://uaa.example.com",
      clientId: "app",
      clientSecret: "uaa-client-secret",
    });
    expect(result.config.identityProviders.xsuaa?.scope).toBeUndefined(); // XSUAA: no scope unless configured
    expect(result.config.identityProviders.identity?.url).toBe("https://ias.example.com");
  });

  it("names each route whose provider is not bound", () => {
    const result = loadConfig(
      { destinations: DESTINATIONS, VCAP_SERVICES: JSON.stringify({ xsuaa: IDP_BINDINGS.xsuaa }) } as Env,
      xsApp,
    );
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(formatProblems(result.problems)).toBe(
      'xs-app.json.routes[1].authenticationType: needs an IAS binding in VCAP_SERVICES (a service whose label contains "identity")',
    );
  });

  it("reports broken credentials by path without their values", () => {
    const vcap = JSON.stringify({
      xsuaa: [
        {
          name: "uaa",
          tags: ["xsuaa"],
          credentials: { url: "not a url", clientid: "app", clientsecret: "" },
        },
      ],
      identity: IDP_BINDINGS.identity,
    });
    const result = loadConfig({ destinations: DESTINATIONS, VCAP_SERVICES: vcap } as Env, xsApp);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const text = formatProblems(result.problems);
    expect(text).toContain("VCAP_SERVICES.xsuaa[0].credentials.url");
    expect(text).toContain("VCAP_SERVICES.xsuaa[0].credentials.clientsecret");
    expect(text).not.toContain("not a url");
  });

  it("needs no provider when every route is public", () => {
    const result = loadConfig({ destinations: DESTINATIONS } as Env, {
      routes: [{ source: "^/", destination: "backend", authenticationType: "none" }],
    });
    expect(result.ok).toBe(true);
  });
});

describe("scopesFor (SAP: a method without an entry and without default is refused)", () => {
  const byMethod: RouteScope = { GET: ["read"], POST: ["write", "admin"] };
  it.each([
    [undefined, "GET", undefined],
    [{ default: ["a"] }, "DELETE", ["a"]],
    [byMethod, "GET", ["read"]],
    [byMethod, "get", ["read"]],
    [byMethod, "POST", ["write", "admin"]],
    [byMethod, "DELETE", null],
    [{ ...byMethod, default: ["guest"] }, "DELETE", ["guest"]],
    [{ ...byMethod, default: ["guest"] }, "GET", ["read"]],
  ] as const)("%j, %s → %j", (scope, method, expected) => {
    expect(scopesFor(scope as RouteScope | undefined, method)).toEqual(expected);
  });
});
