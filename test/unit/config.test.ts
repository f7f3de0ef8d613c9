import { describe, expect, it } from "vitest";
import type { Env } from "../../src/env.js";
import { formatProblems, loadConfig, redactedSummary, type RouterConfig } from "../../src/config/index.js";

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
  return JSON.stringify({ instanceName: "approuter-redis", storageType: "redis", sessionSecret: SECRET_A, ...props });
}

function binding(name: string, credentials: unknown, label = "redis") {
  return { [label]: [{ name, label, credentials }] };
}

const VCAP = JSON.stringify(binding("approuter-redis", { url: UPSTASH_URL, token: TOKEN, password: VCAP_PASSWORD }));

const DESTINATIONS = JSON.stringify([{ name: "backend", url: "https://backend.example.com/" }]);

const XS_APP = { routes: [{ source: "^/api/(.*)$", target: "$1", destination: "backend" }] };

const route = (props: Record<string, unknown>) => ({ routes: [{ source: "^/", destination: "backend", ...props }] });

interface Row {
  name: string;
  env?: Partial<Env>;
  /** The bundled xs-app.json; default XS_APP. */
  xsApp?: unknown;
}

/** Identity-provider bindings, so that routes which require login have a provider. */
const IDP_BINDINGS = {
  xsuaa: [{ name: "uaa", label: "xsuaa", credentials: { url: "https://uaa.example.com", clientid: "app", clientsecret: "uaa-client-secret" } }],
  identity: [{ name: "ias", label: "identity", credentials: { url: "https://ias.example.com", clientid: "app", clientsecret: "ias-client-secret" } }],
};

/** VCAP_SERVICES with the identity providers added to `services`. */
const withIdp = (services: Record<string, unknown> = {}) => JSON.stringify({ ...IDP_BINDINGS, ...services });

/** Adds the identity providers to a row's VCAP_SERVICES when it is a JSON object without them. */
function addIdp(vcap: unknown): unknown {
  if (vcap === undefined) return withIdp();
  try {
    const parsed: unknown = JSON.parse(String(vcap));
    if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed) && !("xsuaa" in parsed) && !("identity" in parsed)) {
      return withIdp(parsed as Record<string, unknown>);
    }
  } catch {
    // not JSON: the row tests exactly that
  }
  return vcap;
}

function load(row: Row) {
  const env: Env = { destinations: DESTINATIONS, ...row.env };
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

const problemRows: ProblemRow[] = [
  // ── EXT_SESSION_MGT ──
  {
    name: "EXT_SESSION_MGT not JSON (content not echoed)",
    env: { EXT_SESSION_MGT: `{"sessionSecret": "${SECRET_A}"`, VCAP_SERVICES: VCAP },
    problems: [`EXT_SESSION_MGT: ${MUST_BE_JSON}`],
  },
  { name: "EXT_SESSION_MGT an array", env: { EXT_SESSION_MGT: "[]" }, problems: ["EXT_SESSION_MGT: must be an object"] },
  { name: "EXT_SESSION_MGT a number", env: { EXT_SESSION_MGT: "42" }, problems: ["EXT_SESSION_MGT: must be an object"] },
  { name: "EXT_SESSION_MGT null", env: { EXT_SESSION_MGT: "null" }, problems: ["EXT_SESSION_MGT: must be an object"] },
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
      "EXT_SESSION_MGT.sesionSecret: unknown property",
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
    env: { EXT_SESSION_MGT: ext({ previousSessionSecrets: [SECRET_B, SHORT_SECRET, 5] }), VCAP_SERVICES: VCAP },
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
  { name: "no binding and no UPSTASH_* variables", env: { EXT_SESSION_MGT: ext() }, problems: [`EXT_SESSION_MGT.instanceName: ${NO_BINDING}`] },
  {
    name: "binding under another name only",
    env: { EXT_SESSION_MGT: ext(), VCAP_SERVICES: JSON.stringify(binding("other-redis", { url: UPSTASH_URL, token: TOKEN })) },
    problems: [`EXT_SESSION_MGT.instanceName: ${NO_BINDING}`],
  },
  {
    name: "missing credentials reported together with other EXT_SESSION_MGT problems",
    env: { EXT_SESSION_MGT: ext({ sessionSecret: SHORT_SECRET }) },
    problems: ["EXT_SESSION_MGT.sessionSecret: must be at least 64 characters", `EXT_SESSION_MGT.instanceName: ${NO_BINDING}`],
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
  { name: "VCAP_SERVICES an array", env: { EXT_SESSION_MGT: ext(), VCAP_SERVICES: "[]" }, problems: ["VCAP_SERVICES: must be an object"] },
  {
    name: "VCAP_SERVICES label not an array",
    env: { EXT_SESSION_MGT: ext(), VCAP_SERVICES: JSON.stringify({ redis: {} }) },
    problems: ["VCAP_SERVICES.redis: must be an array of service bindings"],
  },
  {
    name: "binding credentials with a bad url and an empty token",
    env: { EXT_SESSION_MGT: ext(), VCAP_SERVICES: JSON.stringify(binding("approuter-redis", { url: `ftp://${VCAP_PASSWORD}@host`, token: "" }, "user-provided")) },
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
    env: { EXT_SESSION_MGT: ext(), UPSTASH_REDIS_REST_URL: "eu1.upstash.io", UPSTASH_REDIS_REST_TOKEN: TOKEN },
    problems: [`UPSTASH_REDIS_REST_URL: ${HTTP_URL}`],
  },

  // ── destinations ──
  { name: "destinations not JSON", env: { destinations: "[{" }, xsApp: {}, problems: [`destinations: ${MUST_BE_JSON}`] },
  { name: "destinations not an array", env: { destinations: "{}" }, xsApp: {}, problems: ["destinations: must be an array"] },
  {
    name: "destination without name and url",
    env: { destinations: JSON.stringify([{}]) },
    xsApp: {},
    problems: ["destinations[0].name: missing required property", "destinations[0].url: missing required property"],
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
        { name: "backend", url: "https://a", forwardAuthToken: "yes", timeout: 0, setXForwardedHeaders: 1, strictSSL: "no" },
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
        { name: "backend", url: "https://a", proxyType: "OnPremise", proxyHost: "h", proxyPort: 8080, IASDependencyName: "d" },
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
    name: "xs-app.json unknown top-level property",
    xsApp: { ...XS_APP, routs: [] },
    problems: ["xs-app.json.routs: unknown property"],
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
      "xs-app.json.responseHeaders: must be an array of objects",
      "xs-app.json.errorPage: must be an array of objects",
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
    problems: ["xs-app.json.routes[0].source: must be a regular expression (a string) or an object { path, matchCase }"],
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
    name: "route destination empty",
    xsApp: route({ destination: "" }),
    problems: ["xs-app.json.routes[0].destination: must not be empty"],
  },
  {
    name: "route localDir not supported yet (no missing-destination problem)",
    xsApp: { routes: [{ source: "^/", localDir: "resources" }] },
    problems: ["xs-app.json.routes[0].localDir: not supported yet"],
  },
  {
    name: "route service not supported at the edge",
    xsApp: { routes: [{ source: "^/", service: "com.sap.html5.repository" }] },
    problems: ["xs-app.json.routes[0].service: not supported at the edge"],
  },
  {
    name: "route httpMethods with an unknown method",
    xsApp: route({ httpMethods: ["GET", "FETCH", 3] }),
    problems: [`xs-app.json.routes[0].httpMethods[1]: ${METHODS}`, "xs-app.json.routes[0].httpMethods[2]: must be a string"],
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
    xsApp: route({ csrfProtection: "no", scope: 5, cacheControl: 1, identityProvider: false, replace: "x", setBackendSessionCookies: 1, target: 2 }),
    problems: [
      "xs-app.json.routes[0].target: must be a string",
      "xs-app.json.routes[0].csrfProtection: must be true or false",
      "xs-app.json.routes[0].scope: must be a string, an array of strings or an object",
      "xs-app.json.routes[0].cacheControl: must be a string",
      "xs-app.json.routes[0].identityProvider: must be a string",
      "xs-app.json.routes[0].replace: must be an object",
      "xs-app.json.routes[0].setBackendSessionCookies: must be true or false",
    ],
  },
  {
    name: "route unknown properties",
    xsApp: route({ foo: 1, endpoint: "x" }),
    problems: ["xs-app.json.routes[0].foo: unknown property", "xs-app.json.routes[0].endpoint: unknown property"],
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

  // ── session variables ──
  ...["0", "-5", "1.5", "abc", "15m", "1e3", "99999999999999999999"].map((value) => ({
    name: `SESSION_TIMEOUT ${JSON.stringify(value)}`,
    env: { SESSION_TIMEOUT: value },
    problems: [`SESSION_TIMEOUT: ${POSITIVE_INTEGER}`],
  })),
  { name: "SESSION_ABSOLUTE_TIMEOUT 0", env: { SESSION_ABSOLUTE_TIMEOUT: "0" }, problems: [`SESSION_ABSOLUTE_TIMEOUT: ${POSITIVE_INTEGER}`] },
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
    problems: [`SESSION_MEMORY_MAX_ENTRIES: ${POSITIVE_INTEGER}`, `SESSION_MEMORY_MAX_BYTES: ${POSITIVE_INTEGER}`],
  },

  // ── every part at once ──
  {
    name: "problems from every part are all reported",
    env: {
      EXT_SESSION_MGT: ext({ sessionSecret: SHORT_SECRET, previousSessionSecrets: [SECRET_B], extra: TOKEN }),
      VCAP_SERVICES: JSON.stringify(binding("approuter-redis", { url: UPSTASH_URL, token: "" })),
      destinations: JSON.stringify([{ name: "backend", url: "https://a", timeout: -1 }, { url: "https://b" }]),
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
  { name: "blank EXT_SESSION_MGT: memory tier only", env: { EXT_SESSION_MGT: "  " }, get: (c) => c.externalSession, expected: undefined },
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
    get: (c) => c.externalSession && [c.externalSession.storageType, c.externalSession.externalStoreFilePath, c.externalSession.upstash],
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
        destination: [{ name: "dest", credentials: { clientid: "x" } }],
        ...binding("approuter-redis", { url: UPSTASH_URL, token: TOKEN }, "user-provided"),
      }),
    },
    get: (c) => c.externalSession?.upstash,
    expected: { url: UPSTASH_URL, token: TOKEN },
  },
  {
    name: "UPSTASH_REDIS_REST_* when there is no binding (trimmed)",
    env: { EXT_SESSION_MGT: ext(), UPSTASH_REDIS_REST_URL: ` ${UPSTASH_URL}\n`, UPSTASH_REDIS_REST_TOKEN: `${TOKEN}\n` },
    get: (c) => c.externalSession?.upstash,
    expected: { url: UPSTASH_URL, token: TOKEN },
  },
  {
    name: "the binding wins over UPSTASH_REDIS_REST_*",
    env: { ...withRedis, UPSTASH_REDIS_REST_URL: "https://other.upstash.io", UPSTASH_REDIS_REST_TOKEN: "other" },
    get: (c) => c.externalSession?.upstash?.url,
    expected: UPSTASH_URL,
  },

  // ── destinations ──
  { name: "no destinations variable: empty map", env: { destinations: undefined }, xsApp: {}, get: (c) => c.destinations.size, expected: 0 },
  {
    name: "destination defaults, trailing slash removed",
    get: (c) => c.destinations.get("backend"),
    expected: { name: "backend", url: "https://backend.example.com", forwardAuthToken: false, timeoutMs: 30000, setXForwardedHeaders: true },
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
    expected: { name: "backend", url: "http://backend.internal:8080/api", forwardAuthToken: true, timeoutMs: 5000, setXForwardedHeaders: false },
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
    expected: { authenticationMethod: "route", routes: [], login: { callbackEndpoint: "/login/callback" } },
  },
  { name: "no xs-app.json at all", xsApp: undefined, get: (c) => c.xsApp.routes, expected: [] },
  {
    name: "xs-app.json top-level settings",
    xsApp: {
      welcomeFile: "/index.html",
      authenticationMethod: "none",
      sessionTimeout: 30,
      login: { callbackEndpoint: "/cb" },
      logout: { logoutEndpoint: "/do/logout", logoutPage: "/bye.html", logoutMethod: "GET", csrfProtection: false },
    },
    get: (c) => c.xsApp,
    expected: {
      welcomeFile: "/index.html",
      authenticationMethod: "none",
      sessionTimeout: 30,
      routes: [],
      login: { callbackEndpoint: "/cb" },
      logout: { logoutEndpoint: "/do/logout", logoutPage: "/bye.html", logoutMethod: "GET", csrfProtection: false },
    },
  },
  { name: "logout defaults", xsApp: { logout: {} }, get: (c) => c.xsApp.logout, expected: { logoutMethod: "POST", csrfProtection: true } },
  {
    name: "accepted but unused properties",
    xsApp: {
      ...route({ scope: ["$XSAPPNAME.read"], cacheControl: "no-store", identityProvider: "idp", replace: { pathSuffixes: [] }, setBackendSessionCookies: true }),
      destinations: { backend: { logoutPath: "/logout", logoutMethod: "GET" } },
      responseHeaders: [{ name: "X-Frame-Options", value: "DENY" }],
      errorPage: [{ status: 404, file: "/404.html" }],
      cors: [{ uriPattern: "^/", allowedOrigin: [{ host: "a.com" }] }],
      compression: { enabled: true },
      websockets: { enabled: false },
    },
    get: (c) => c.xsApp.routes.length,
    expected: 1,
  },
  {
    name: "route defaults",
    get: (c) => c.xsApp.routes[0],
    expected: { source: /^\/api\/(.*)$/, target: "$1", destination: "backend", authenticationType: "xsuaa", csrfProtection: true },
  },
  {
    name: "route settings",
    xsApp: route({ httpMethods: ["get", "Post"], authenticationType: "ias", csrfProtection: false }),
    get: (c) => c.xsApp.routes[0],
    expected: { source: /^\//, destination: "backend", httpMethods: ["GET", "POST"], authenticationType: "ias", csrfProtection: false },
  },
  {
    name: "route source is case-sensitive",
    get: (c) => [c.xsApp.routes[0]?.source.test("/api/x"), c.xsApp.routes[0]?.source.test("/API/x")],
    expected: [true, false],
  },
  { name: "route source object form, matchCase false → flag i", xsApp: route({ source: { path: "^/a", matchCase: false } }), get: (c) => c.xsApp.routes[0]?.source.flags, expected: "i" },
  { name: "route source object form, matchCase default", xsApp: route({ source: { path: "^/a" } }), get: (c) => c.xsApp.routes[0]?.source.flags, expected: "" },
  {
    name: 'authenticationMethod "none" makes every route "none"',
    xsApp: { authenticationMethod: "none", routes: [{ source: "^/", destination: "backend", authenticationType: "ias" }] },
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

  // ── session variables ──
  {
    name: "session defaults",
    get: (c) => c.session,
    expected: { cookieName: "JSESSIONID", idleTimeoutMs: 15 * 60_000, absoluteTimeoutMs: 480 * 60_000, memory: { maxEntries: 10000, maxBytes: 67108864 } },
  },
  { name: "xs-app.json sessionTimeout → idle timeout", xsApp: { sessionTimeout: 30 }, get: (c) => c.session.idleTimeoutMs, expected: 30 * 60_000 },
  {
    name: "SESSION_TIMEOUT overrides xs-app.json sessionTimeout",
    env: { SESSION_TIMEOUT: "45" },
    xsApp: { sessionTimeout: 30 },
    get: (c) => c.session.idleTimeoutMs,
    expected: 45 * 60_000,
  },
  { name: "blank SESSION_TIMEOUT takes the default", env: { SESSION_TIMEOUT: " " }, get: (c) => c.session.idleTimeoutMs, expected: 15 * 60_000 },
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
  { name: "SESSION_COOKIE_NAME", env: { SESSION_COOKIE_NAME: "__Host-approuter_session" }, get: (c) => c.session.cookieName, expected: "__Host-approuter_session" },
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
        destinations: JSON.stringify([{ name: "backend", url: `https://user:${VCAP_PASSWORD}@backend.example.com/api?key=${TOKEN}` }]),
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
  const xsApp = { routes: [{ source: "^/a", destination: "backend", authenticationType: "xsuaa" }, { source: "^/b", destination: "backend", authenticationType: "ias" }] };

  it("finds both bindings and keeps what login needs", () => {
    const result = loadConfig({ destinations: DESTINATIONS, VCAP_SERVICES: withIdp() } as Env, xsApp);
    if (!result.ok) expect.fail(formatProblems(result.problems));
    expect(result.config.identityProviders.xsuaa).toEqual({ label: "xsuaa", issuer: "https://uaa.example.com", clientId: "app", clientSecret: "uaa-client-secret", scope: "openid" });
    expect(result.config.identityProviders.identity?.issuer).toBe("https://ias.example.com");
  });

  it("names each route whose provider is not bound", () => {
    const result = loadConfig({ destinations: DESTINATIONS, VCAP_SERVICES: JSON.stringify({ xsuaa: IDP_BINDINGS.xsuaa }) } as Env, xsApp);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(formatProblems(result.problems)).toBe('xs-app.json.routes[1].authenticationType: needs a "identity" service binding in VCAP_SERVICES');
  });

  it("reports broken credentials by path without their values", () => {
    const vcap = JSON.stringify({ xsuaa: [{ name: "uaa", credentials: { url: "not a url", clientid: "app", clientsecret: "" } }], identity: IDP_BINDINGS.identity });
    const result = loadConfig({ destinations: DESTINATIONS, VCAP_SERVICES: vcap } as Env, xsApp);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const text = formatProblems(result.problems);
    expect(text).toContain("VCAP_SERVICES.xsuaa[0].credentials.url");
    expect(text).toContain("VCAP_SERVICES.xsuaa[0].credentials.clientsecret");
    expect(text).not.toContain("not a url");
  });

  it("needs no provider when every route is public", () => {
    const result = loadConfig({ destinations: DESTINATIONS } as Env, { routes: [{ source: "^/", destination: "backend", authenticationType: "none" }] });
    expect(result.ok).toBe(true);
  });
});
