/**
 * The compatibility cases: one configuration (xs-app.json, destinations, environment)
 * and a sequence of requests each. Public routes only (no identity provider is available
 * to SAP's router here). compat/record.mjs replays them against SAP's router and writes
 * what it observed to test/compat/expectations.json; test/node/compat.test.ts replays the
 * recorded cases against ours.
 *
 * Destination URLs are placeholders: `{backend}` (the recording backend), `{unreachable}`
 * (a port nothing listens on). Request header values may use `{token}` (the last CSRF
 * token the router returned in this case) and `{session}` (the router's session cookie pair
 * from the case's cookie jar). The `x-compat-backend` request header selects the backend's
 * answer (compat/lib.mjs). Requests send the jar's cookies unless `jar: false`.
 *
 * `destinationService` (optional): destinations of a destination service (the simulator,
 * scripts/sim/destination.mjs, bound as VCAP_SERVICES `destination`), URLs with the same
 * placeholders; both routers look them up there.
 */

const B = "x-compat-backend";
const backendOnly = [{ name: "backend", url: "{backend}" }];

/** A route to the backend. @param {string | object} source @param {string} target @param {object} [more] */
const toBackend = (source, target, more = {}) => ({ source, target, destination: "backend", ...more });
const catchAll = toBackend("^/(.*)$", "/$1");

/** X-Forwarded-* headers a client sends itself. */
const spoofedForwarding = {
  "x-forwarded-host": "spoofed.example",
  "x-forwarded-proto": "gopher",
  "x-forwarded-for": "10.1.2.3",
  "x-forwarded-path": "/spoofed",
};

/** An xs-app.json without login. @param {object[]} routes @param {object} [more] */
const publicApp = (routes, more = {}) => ({ authenticationMethod: "none", routes, ...more });

/**
 * A request of a case; `more`: body, note, jar.
 * @param {string} method @param {string} path @param {Record<string, string>} [headers] @param {object} [more]
 */
const req = (method, path, headers = {}, more = {}) => ({
  method,
  path,
  ...(Object.keys(headers).length > 0 ? { headers } : {}),
  ...more,
});
/** @param {string} path @param {Record<string, string>} [headers] @param {object} [more] */
const get = (path, headers, more) => req("GET", path, headers, more);
/** A CSRF token fetch. @param {string} path @param {string} [note] */
const fetchToken = (path, note) => get(path, { "x-csrf-token": "fetch" }, note ? { note } : {});
/** A text/plain body. @param {string} method @param {string} path @param {string} body @param {Record<string, string>} [headers] @param {object} [more] */
const text = (method, path, body, headers = {}, more = {}) =>
  req(method, path, { "content-type": "text/plain", ...headers }, { body, ...more });
/** A CORS preflight. @param {string} path @param {string} origin @param {string} method @param {string} [headers] */
const preflight = (path, origin, method, headers) =>
  req("OPTIONS", path, {
    origin,
    "access-control-request-method": method,
    ...(headers ? { "access-control-request-headers": headers } : {}),
  });

export const cases = [
  {
    id: "route-order",
    title: "routes are tried in order; the first whose source matches wins",
    xsApp: publicApp([
      toBackend("^/api/special/(.*)$", "/special/$1"),
      toBackend("^/api/(.*)$", "/generic/$1"),
      toBackend("^/(.*)$", "/fallback/$1"),
    ]),
    destinations: backendOnly,
    requests: [get("/api/special/x"), get("/api/other/y"), get("/elsewhere")],
  },
  {
    id: "target-substitution",
    title: "$1/$2 substitution, targets with and without a leading slash, destinations with a base path",
    xsApp: publicApp([
      toBackend("^/noslash/(.*)$", "$1"),
      toBackend("^/slash/(.*)$", "/$1"),
      toBackend("^/prefixed/(.*)$", "/v2/$1"),
      { source: "^/notarget/(.*)$", destination: "backend" },
      { source: "^/based/(.*)$", target: "$1", destination: "based" },
      { source: "^/basedslash/(.*)$", target: "/$1", destination: "basedslash" },
      toBackend("^/two/([^/]*)/([^/]*)$", "/$2/$1"),
      toBackend("^/empty/(.*)$", "$1"),
    ]),
    destinations: [
      { name: "backend", url: "{backend}" },
      { name: "based", url: "{backend}/base" },
      { name: "basedslash", url: "{backend}/base/" },
    ],
    requests: [
      get("/noslash/a/b"),
      get("/slash/a/b"),
      get("/prefixed/a"),
      get("/notarget/a"),
      get("/based/a/b"),
      get("/basedslash/a"),
      get("/two/x/y"),
      get("/empty/"),
    ],
  },
  {
    id: "query-string",
    title: "the source is matched against path and query; what happens to the query on rewriting",
    xsApp: publicApp([
      toBackend("^/q/(.*)$", "/$1"),
      toBackend("^/pathonly/([^?]*)", "/v2/$1"),
      toBackend("^/app/(.*)$", "/index.html"),
      toBackend("^/s\\?mode=special", "/special"),
      toBackend("^/s(.*)$", "/normal$1"),
    ]),
    destinations: backendOnly,
    requests: [
      get("/q/x?y=1&z=2"),
      get("/pathonly/x?y=1"),
      get("/app/a?b=1"),
      get("/s?mode=special"),
      get("/s?mode=special&x=1"),
      get("/s?mode=other"),
      get("/q/enc?a=%20b&c=%2F&d=%C3%BC"),
      get("/q/x?"),
    ],
  },
  {
    id: "case-sensitivity",
    title: "source matching is case-sensitive unless source.matchCase is false",
    xsApp: publicApp([
      toBackend("^/Api/(.*)$", "/upper/$1"),
      toBackend("^/api/(.*)$", "/lower/$1"),
      toBackend({ path: "^/ci/(.*)$", matchCase: false }, "/ci/$1"),
    ]),
    destinations: backendOnly,
    requests: [get("/api/x"), get("/Api/x"), get("/API/x"), get("/CI/x"), get("/ci/x")],
  },
  {
    id: "http-methods",
    title: "httpMethods: a route for other methods is skipped; 405 with Allow when only such routes match",
    xsApp: publicApp([
      toBackend("^/m/(.*)$", "/get/$1", { httpMethods: ["GET"] }),
      toBackend("^/m/(.*)$", "/post/$1", { httpMethods: ["POST"] }),
      toBackend("^/only/(.*)$", "/only/$1", { httpMethods: ["PUT", "GET"] }),
    ]),
    destinations: backendOnly,
    requests: [
      get("/m/x"),
      req("POST", "/m/x", { "content-type": "application/json" }, { body: '{"a":1}' }),
      req("DELETE", "/m/x"),
      req("HEAD", "/m/x"),
      text("PATCH", "/only/x", "p"),
      text("PUT", "/only/x", "p"),
      req("OPTIONS", "/only/x"),
      get("/nomatch"),
    ],
  },
  {
    id: "http-methods-fallthrough",
    title: "a later route takes the methods an earlier matching route excludes",
    xsApp: publicApp([
      toBackend("^/f/(.*)$", "/f-get/$1", { httpMethods: ["GET"] }),
      toBackend("^/(.*)$", "/all/$1"),
    ]),
    destinations: backendOnly,
    requests: [get("/f/x"), text("POST", "/f/x", "b"), req("DELETE", "/f/x")],
  },
  {
    id: "no-match",
    title: "404 when no route matches",
    xsApp: publicApp([toBackend("^/api/(.*)$", "/$1")]),
    destinations: backendOnly,
    requests: [get("/nothing"), text("POST", "/nothing", "x"), get("/api")],
  },
  {
    id: "csrf-public",
    title:
      "x-csrf-token on a public route (authenticationMethod none): session, cookie, token, state-changing requests",
    xsApp: publicApp([catchAll]),
    destinations: backendOnly,
    requests: [
      get("/data", {}, { note: "no session, nothing asked" }),
      fetchToken("/data", "token fetch without a session"),
      fetchToken("/data", "second fetch with the cookie"),
      req("HEAD", "/data", { "x-csrf-token": "Fetch" }, { note: "HEAD fetch, header value case" }),
      get("/data", { cookie: "other=1" }, { note: "router cookie stripped, others kept" }),
      text("POST", "/data", "no-token", {}, { note: "POST without token" }),
      text("POST", "/data", "token", { "x-csrf-token": "{token}" }, { note: "POST with token" }),
      text("POST", "/data", "wrong", { "x-csrf-token": "wrong" }, { note: "POST with a wrong token" }),
      req("DELETE", "/data", {}, { jar: false, note: "DELETE without session or token" }),
      req("POST", "/data", { "x-csrf-token": "fetch" }, { note: "fetch on a POST" }),
    ],
  },
  {
    id: "csrf-route-none",
    title: "authenticationMethod route with authenticationType none routes; csrfProtection false",
    xsApp: {
      authenticationMethod: "route",
      routes: [
        toBackend("^/nocsrf/(.*)$", "/$1", { authenticationType: "none", csrfProtection: false }),
        toBackend("^/(.*)$", "/$1", { authenticationType: "none" }),
      ],
    },
    destinations: backendOnly,
    requests: [
      fetchToken("/data"),
      text("POST", "/data", "no-token"),
      text("POST", "/data", "token", { "x-csrf-token": "{token}" }),
      fetchToken("/nocsrf/data"),
      text("POST", "/nocsrf/data", "x", { "x-csrf-token": "anything" }),
    ],
  },
  {
    id: "logout-default",
    title: "logout endpoint without logoutMethod (the default method and CSRF rule), with a logoutPage",
    xsApp: publicApp([catchAll], { logout: { logoutEndpoint: "/logout", logoutPage: "/bye.html" } }),
    destinations: backendOnly,
    requests: [
      fetchToken("/data", "start a session"),
      req("POST", "/logout", { "x-csrf-token": "{token}" }, { note: "POST with session and token" }),
      get("/logout", {}, { note: "GET with session, no token" }),
      fetchToken("/data", "after logout: a new session?"),
    ],
  },
  {
    id: "logout-post",
    title: "logout endpoint with logoutMethod POST: CSRF protected, redirect to logoutPage, cookie cleared",
    xsApp: publicApp([catchAll], {
      logout: { logoutEndpoint: "/logout", logoutMethod: "POST", logoutPage: "/bye.html" },
    }),
    destinations: backendOnly,
    requests: [
      get("/logout", {}, { note: "wrong method, no session" }),
      req("POST", "/logout", {}, { note: "no session, no token" }),
      fetchToken("/data", "start a session"),
      req("POST", "/logout", {}, { note: "session, no token" }),
      fetchToken("/logout", "token fetch on the logout endpoint"),
      req("POST", "/logout", { "x-csrf-token": "{token}" }, { note: "session and token" }),
      fetchToken("/data", "after logout: a new session"),
    ],
  },
  {
    id: "logout-get",
    title: "logout endpoint with logoutMethod GET (SAP refuses csrfProtection with GET) and no logoutPage",
    xsApp: publicApp([catchAll], { logout: { logoutEndpoint: "/do/logout", logoutMethod: "GET" } }),
    destinations: backendOnly,
    requests: [
      fetchToken("/data"),
      req("POST", "/do/logout"),
      get("/do/logout"),
      get("/do/logout", {}, { note: "again, without a session" }),
    ],
  },
  {
    id: "x-forwarded",
    title:
      "X-Forwarded-* headers to the backend, client-sent values, setXForwardedHeaders false; client Authorization on a public route",
    xsApp: publicApp([{ source: "^/noxf/(.*)$", target: "/$1", destination: "noxf" }, catchAll]),
    destinations: [
      { name: "backend", url: "{backend}" },
      { name: "noxf", url: "{backend}", setXForwardedHeaders: false },
    ],
    requests: [
      get("/xf/path?q=1", { authorization: "Basic Y2xpZW50OnNlY3JldA==" }),
      get("/xf/path?q=1", spoofedForwarding),
      get("/noxf/path?q=1", spoofedForwarding),
      get("/noxf/path?q=1"),
    ],
  },
  {
    id: "hop-by-hop",
    title: "hop-by-hop headers in both directions",
    xsApp: publicApp([catchAll]),
    destinations: backendOnly,
    observe: {
      backend: ["proxy-authorization", "te", "public", "x-hop-req", "x-plain"],
      // Keep-Alive is not observable through Miniflare's client (dropped before the test sees it).
      response: ["proxy-authenticate", "public", "x-hop-resp"],
    },
    requests: [
      get("/hop", { "proxy-authorization": "Basic eDp5", te: "trailers", public: "GET", "x-plain": "1" }),
      get("/hop", { [B]: "hop-by-hop" }),
    ],
  },
  {
    id: "backend-session-cookies",
    title:
      "a backend's session cookies (no expiry) are kept in the router session and replayed; persistent ones reach the browser",
    xsApp: publicApp([catchAll]),
    destinations: backendOnly,
    requests: [
      get("/set", { [B]: "set-cookies" }),
      get("/echo"),
      fetchToken("/echo", "the session is the router's usual session"),
      get("/clear", { [B]: "clear-session-cookie" }),
      get("/echo"),
    ],
  },
  {
    id: "backend-jsessionid",
    title: "a backend session cookie named like the router's (JSESSIONID)",
    xsApp: publicApp([catchAll]),
    destinations: backendOnly,
    requests: [
      fetchToken("/data"),
      get("/set", { [B]: "set-jsessionid" }),
      get("/echo"),
      fetchToken("/data", "is the router session intact?"),
    ],
  },
  {
    id: "backend-redirects",
    title: "Location of backend redirects",
    xsApp: publicApp([{ source: "^/based/(.*)$", target: "/$1", destination: "based" }, catchAll]),
    destinations: [
      { name: "backend", url: "{backend}" },
      { name: "based", url: "{backend}/base" },
    ],
    requests: [
      get("/r", { [B]: "redirect-abs" }),
      get("/r", { [B]: "redirect-rel" }),
      get("/r", { [B]: "redirect-ext" }),
      get("/based/r", { [B]: "redirect-abs-base" }),
      get("/based/r", { [B]: "redirect-abs" }),
    ],
  },
  {
    id: "x-frame-options-default",
    title: "X-Frame-Options: SAMEORIGIN by default; the backend's own value; router errors",
    xsApp: publicApp([toBackend("^/x(.*)$", "/x$1")]),
    destinations: backendOnly,
    requests: [get("/x"), get("/x", { [B]: "xfo-deny" }), get("/x", { [B]: "status-500" }), get("/nothing")],
  },
  {
    id: "send-xframeoptions-false",
    title: "SEND_XFRAMEOPTIONS=false",
    xsApp: publicApp([toBackend("^/x(.*)$", "/x$1")]),
    destinations: backendOnly,
    env: { SEND_XFRAMEOPTIONS: "false" },
    requests: [get("/x"), get("/nothing")],
  },
  {
    id: "response-headers",
    title: "xs-app.json responseHeaders; a header the backend sends too",
    xsApp: publicApp([toBackend("^/x(.*)$", "/x$1")], {
      responseHeaders: [
        { name: "Content-Security-Policy", value: "frame-ancestors 'self'" },
        { name: "X-Custom", value: "router" },
      ],
    }),
    destinations: backendOnly,
    observe: { response: ["content-security-policy", "x-custom"] },
    requests: [get("/x"), get("/x", { [B]: "custom-headers" }), get("/nothing")],
  },
  {
    id: "http-headers-env",
    title:
      "httpHeaders environment variable, overridden by responseHeaders of the same name; X-Frame-Options configured",
    xsApp: publicApp([toBackend("^/x(.*)$", "/x$1")], {
      responseHeaders: [{ name: "X-Custom", value: "router" }],
    }),
    destinations: backendOnly,
    env: {
      httpHeaders: JSON.stringify([
        { "X-Env-Header": "env" },
        { "X-Custom": "env" },
        { "X-Frame-Options": "DENY" },
      ]),
    },
    observe: { response: ["x-env-header", "x-custom"] },
    requests: [get("/x"), get("/nothing")],
  },
  {
    id: "welcome-file",
    title: "welcomeFile: redirect of /, token fetch on /, X-Forwarded-Path",
    xsApp: publicApp([catchAll], { welcomeFile: "/index.html" }),
    destinations: backendOnly,
    requests: [
      get("/"),
      get("/?a=1"),
      req("HEAD", "/"),
      text("POST", "/", "x"),
      fetchToken("/"),
      get("/", { "x-forwarded-path": "/prefix/" }),
      get("/other"),
    ],
  },
  {
    id: "welcome-file-relative",
    title: "welcomeFile without a leading slash",
    xsApp: publicApp([catchAll], { welcomeFile: "index.html" }),
    destinations: backendOnly,
    requests: [get("/")],
  },
  {
    id: "cors-xs-app",
    title: "CORS per xs-app.json cors: preflights and actual requests, allowed and refused",
    xsApp: publicApp([catchAll], {
      cors: [
        {
          uriPattern: "^/api/(.*)$",
          allowedOrigin: [{ host: "allowed.example", protocol: "https" }],
          allowedMethods: ["GET", "POST"],
          allowedHeaders: ["Content-Type", "X-Custom"],
          exposeHeaders: ["X-Exposed"],
          maxAge: 600,
          allowedCredentials: true,
        },
      ],
    }),
    destinations: backendOnly,
    requests: [
      preflight("/api/x", "https://allowed.example", "POST", "content-type"),
      preflight("/api/x", "https://allowed.example", "POST", "x-other"),
      preflight("/api/x", "https://allowed.example", "DELETE"),
      preflight("/api/x", "https://evil.example", "GET"),
      get("/api/x", { origin: "https://allowed.example", [B]: "expose" }),
      get("/api/x", { origin: "https://evil.example" }),
      text("PUT", "/api/x", "x", { origin: "https://allowed.example" }),
      get("/other", { origin: "https://evil.example" }),
      preflight("/other", "https://evil.example", "GET"),
      get("/api/x"),
    ],
  },
  {
    id: "cors-env",
    title: "CORS environment variable with a wildcard origin, no credentials, default methods/headers/maxAge",
    xsApp: publicApp([catchAll]),
    destinations: backendOnly,
    env: {
      CORS: JSON.stringify([
        { uriPattern: "^/pub/(.*)$", allowedOrigin: [{ host: "*" }], allowedCredentials: false },
      ]),
    },
    requests: [
      preflight("/pub/x", "https://any.example", "GET"),
      get("/pub/x", { origin: "http://any.example:8080" }),
      req("DELETE", "/pub/x", { origin: "https://any.example" }),
      get("/pub/x", { origin: "null" }),
    ],
  },
  {
    id: "session-cookie-name",
    title: "SESSION_COOKIE_NAME",
    xsApp: publicApp([catchAll]),
    destinations: backendOnly,
    env: { SESSION_COOKIE_NAME: "MY_SESSION" },
    sessionCookieName: "MY_SESSION",
    requests: [
      fetchToken("/data"),
      get(
        "/data",
        { cookie: "JSESSIONID=other" },
        {
          note: "the router's cookie is stripped, a JSESSIONID is not (SAP does not find its session again without Redis under a custom name: no token fetch here)",
        },
      ),
    ],
  },
  {
    id: "cookies-samesite-none",
    title: "COOKIES SameSite None",
    xsApp: publicApp([catchAll]),
    destinations: backendOnly,
    env: { COOKIES: JSON.stringify({ SameSite: "None" }) },
    requests: [fetchToken("/data")],
  },
  {
    id: "passthrough",
    title: "backend statuses, bodies and methods passed through; an unreachable destination",
    xsApp: publicApp([{ source: "^/down/(.*)$", target: "/$1", destination: "down" }, catchAll]),
    destinations: [
      { name: "backend", url: "{backend}" },
      { name: "down", url: "{unreachable}" },
    ],
    requests: [
      req("POST", "/created", { [B]: "status-201", "content-type": "application/json" }, { body: '{"n":1}' }),
      req("DELETE", "/gone", { [B]: "status-204" }),
      get("/missing", { [B]: "status-404" }),
      text("PATCH", "/p", "patch-body"),
      req("PUT", "/p", { "content-type": "application/octet-stream" }, { body: "put-body" }),
      get("/down/x"),
    ],
  },
  {
    id: "replace",
    title: "replace on a localDir route: vars and services, escaping, missing values, sections, pathSuffixes",
    xsApp: publicApp([
      {
        source: "^/web/(.*)$",
        target: "$1",
        localDir: "resources",
        replace: {
          pathSuffixes: ["index.html", "/abc/main.html", ".json"],
          vars: ["TITLE", "CDN", "MISSING_VAR"],
          services: { ui5: { tag: "ui5" }, dest: "my-backend-info" },
        },
      },
    ]),
    destinations: backendOnly,
    env: {
      TITLE: `Tom & "Jerry" <b>'s/=\``,
      CDN: "https://cdn.example/ui5?a=1&b=2",
      VCAP_SERVICES: JSON.stringify({
        sapui5_service: [
          {
            name: "sapui5",
            label: "sapui5_service",
            tags: ["ui5"],
            credentials: { url: "http://sapui5url/<x>", versions: ["1.120", "1.108"] },
          },
        ],
        "user-provided": [
          {
            name: "my-backend-info",
            label: "user-provided",
            tags: [],
            credentials: { uri: "https://info.example", clientid: "c&1" },
          },
        ],
      }),
    },
    files: {
      "resources/index.html": [
        "<html>",
        "  <head>",
        "    <title>{{TITLE}}</title>",
        '    <script src="{{{CDN}}}/sap-ui-core.js"></script>',
        '    <script src="{{& CDN}}"></script>',
        '    <link href="{{ui5.url}}" data-raw="{{{ui5.url}}}">',
        "  </head>",
        "  {{! a comment on its own line }}",
        '  <body data-missing="{{MISSING_VAR}}" data-unknown="{{NOT_LISTED}}" data-dest="{{dest.uri}}|{{dest.clientid}}">',
        "    {{#ui5}}",
        "    <p>in section: {{url}}</p>",
        "    {{/ui5}}",
        "    {{#ui5.versions}}<i>{{.}}</i>{{/ui5.versions}}",
        "    {{^MISSING_VAR}}no value{{/MISSING_VAR}} {{TITLE.length}}",
        "  </body>",
        "</html>",
        "",
      ].join("\n"),
      "resources/abc/main.html": "<p>{{TITLE}}</p>\n",
      "resources/xabc/main.html": "<p>{{TITLE}}</p>\n",
      "resources/config.json": '{ "cdn": "{{{CDN}}}", "title": "{{TITLE}}" }\n',
      "resources/app.js": "var title = '{{TITLE}}';\n",
    },
    observe: { body: true, response: ["content-type"] },
    requests: [
      get("/web/index.html"),
      get("/web/abc/main.html"),
      get(
        "/web/xabc/main.html",
        {},
        {
          note: "not a suffix match (/abc/main.html needs the folder abc): served as is",
        },
      ),
      get("/web/config.json"),
      get("/web/app.js", {}, { note: "not listed: served as is, placeholders kept" }),
    ],
  },
  {
    id: "whitelist-service",
    title:
      "whitelistService with CJ_PROTECT_WHITELIST: SAP's JSON answer by parentOrigin; other methods and paths go to the routes",
    xsApp: publicApp([catchAll], { whitelistService: { endpoint: "/whitelist/service" } }),
    destinations: backendOnly,
    env: {
      CJ_PROTECT_WHITELIST: JSON.stringify([
        { protocol: "https", host: "*.example.com" },
        { host: "partner.test", port: 8443 },
      ]),
    },
    observe: { body: true, response: ["content-type"] },
    requests: [
      get("/whitelist/service?parentOrigin=https://app.example.com"),
      get("/whitelist/service?parentOrigin=http://app.example.com"),
      get("/whitelist/service?parentOrigin=https://example.com"),
      get("/whitelist/service?parentOrigin=http://partner.test:8443"),
      get("/whitelist/service?parentOrigin=http://partner.test"),
      get("/whitelist/service"),
      get("/whitelist/service?parentOrigin=https://a.example.com&parentOrigin=https://b.example.com"),
      get("/whitelist/service/sub?parentOrigin=https://app.example.com"),
      get("/whitelist/servicex"),
    ],
  },
  {
    id: "whitelist-service-inactive",
    title: "whitelistService without CJ_PROTECT_WHITELIST: inactive, framing allowed",
    xsApp: publicApp([catchAll], { whitelistService: { endpoint: "/whitelist/service" } }),
    destinations: backendOnly,
    observe: { body: true, response: ["content-type"] },
    requests: [get("/whitelist/service?parentOrigin=https://app.example.com")],
  },
  {
    id: "plugins",
    title: "plugins variable: routes before xs-app.json's, listed by pluginMetadataEndpoint",
    xsApp: publicApp([catchAll], { pluginMetadataEndpoint: "/metadata" }),
    destinations: backendOnly,
    env: {
      plugins: JSON.stringify([
        {
          name: "reports",
          source: "^/reports/(.*)$",
          target: "/plugin/$1",
          destination: "backend",
          authenticationType: "none",
        },
      ]),
    },
    observe: { body: true, response: ["content-type"] },
    requests: [get("/metadata"), get("/reports/r1")],
  },
  {
    id: "dynamic-destination-path",
    title:
      'dynamic destination "$1" from the route source: destinations of the variable, unknown and odd names',
    xsApp: {
      authenticationMethod: "none",
      routes: [
        { source: "^/dyn/([^/]+)/(.*)$", target: "/$2", destination: "$1" },
        { source: "^/(.*)$", target: "/fallback/$1", destination: "backend" },
      ],
    },
    destinations: [
      { name: "backend", url: "{backend}" },
      { name: "other", url: "{backend}/other" },
    ],
    requests: [
      { method: "GET", path: "/dyn/backend/a/b?x=1" },
      { method: "POST", path: "/dyn/other/c", headers: { "content-type": "text/plain" }, body: "p" },
      { method: "GET", path: "/dyn/nowhere/c", note: "no such destination, no destination service: SAP 500" },
      { method: "GET", path: "/dyn/a%20b/c", note: "not a destination name" },
      { method: "GET", path: "/dyn/$1/c", note: "a name with $ (SAP refuses it by name)" },
    ],
  },
  {
    id: "127-dynamic-host",
    title:
      'dynamic destination "*" from the host with DESTINATION_HOST_PATTERN (the pattern takes "127" from SAP\'s 127.0.0.1:<port> and from this case\'s host 127-dynamic-host.compat.test)',
    xsApp: {
      authenticationMethod: "none",
      routes: [{ source: "^/h/(.*)$", target: "/$1", destination: "*" }],
    },
    destinations: [{ name: "127", url: "{backend}/host" }],
    env: { DESTINATION_HOST_PATTERN: "^([0-9]+)[.-]" },
    requests: [{ method: "GET", path: "/h/x?y=1" }],
  },
  {
    id: "dynamic-host-unmatched",
    title: 'dynamic destination "*": a host DESTINATION_HOST_PATTERN does not match',
    xsApp: {
      authenticationMethod: "none",
      routes: [
        { source: "^/h/(.*)$", target: "/$1", destination: "*" },
        { source: "^/(.*)$", target: "/fallback/$1", destination: "backend" },
      ],
    },
    destinations: backendOnly,
    env: { DESTINATION_HOST_PATTERN: "^nomatch-([a-z]+)\\." },
    requests: [
      { method: "GET", path: "/h/x", note: "SAP: the route does not apply, and no later route is tried" },
    ],
  },
  {
    id: "dynamic-destination-service",
    title:
      'dynamic destination "$1" with the destination service: only destinations with HTML5.DynamicDestination true',
    xsApp: {
      authenticationMethod: "none",
      routes: [
        { source: "^/dyn/([^/]+)/(.*)$", target: "/$2", destination: "$1" },
        { source: "^/static/(.*)$", target: "/$1", destination: "closed" },
      ],
    },
    destinations: [{ name: "from-variable", url: "{backend}/variable" }],
    destinationService: [
      {
        Name: "open",
        URL: "{backend}/open",
        Type: "HTTP",
        ProxyType: "Internet",
        Authentication: "NoAuthentication",
        "HTML5.DynamicDestination": "true",
      },
      {
        Name: "open-basic",
        URL: "{backend}/basic",
        Type: "HTTP",
        ProxyType: "Internet",
        Authentication: "BasicAuthentication",
        User: "bob",
        Password: "bob-password",
        "HTML5.DynamicDestination": "true",
      },
      {
        Name: "closed",
        URL: "{backend}/closed",
        Type: "HTTP",
        ProxyType: "Internet",
        Authentication: "NoAuthentication",
      },
    ],
    requests: [
      { method: "GET", path: "/dyn/open/a?x=1" },
      { method: "GET", path: "/dyn/open-basic/b" },
      { method: "GET", path: "/dyn/closed/c", note: "without HTML5.DynamicDestination: refused" },
      { method: "GET", path: "/static/d", note: "the same destination on a static route is served" },
      { method: "GET", path: "/dyn/nowhere/e", note: "unknown to the service" },
      { method: "GET", path: "/dyn/from-variable/f", note: "the variable needs no flag" },
    ],
  },
];
