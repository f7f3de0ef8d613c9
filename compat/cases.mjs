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

const catchAll = { source: "^/(.*)$", target: "/$1", destination: "backend" };
const backendOnly = [{ name: "backend", url: "{backend}" }];
const B = "x-compat-backend";

export const cases = [
  {
    id: "route-order",
    title: "routes are tried in order; the first whose source matches wins",
    xsApp: {
      authenticationMethod: "none",
      routes: [
        { source: "^/api/special/(.*)$", target: "/special/$1", destination: "backend" },
        { source: "^/api/(.*)$", target: "/generic/$1", destination: "backend" },
        { source: "^/(.*)$", target: "/fallback/$1", destination: "backend" },
      ],
    },
    destinations: backendOnly,
    requests: [
      { method: "GET", path: "/api/special/x" },
      { method: "GET", path: "/api/other/y" },
      { method: "GET", path: "/elsewhere" },
    ],
  },
  {
    id: "target-substitution",
    title: "$1/$2 substitution, targets with and without a leading slash, destinations with a base path",
    xsApp: {
      authenticationMethod: "none",
      routes: [
        { source: "^/noslash/(.*)$", target: "$1", destination: "backend" },
        { source: "^/slash/(.*)$", target: "/$1", destination: "backend" },
        { source: "^/prefixed/(.*)$", target: "/v2/$1", destination: "backend" },
        { source: "^/notarget/(.*)$", destination: "backend" },
        { source: "^/based/(.*)$", target: "$1", destination: "based" },
        { source: "^/basedslash/(.*)$", target: "/$1", destination: "basedslash" },
        { source: "^/two/([^/]*)/([^/]*)$", target: "/$2/$1", destination: "backend" },
        { source: "^/empty/(.*)$", target: "$1", destination: "backend" },
      ],
    },
    destinations: [
      { name: "backend", url: "{backend}" },
      { name: "based", url: "{backend}/base" },
      { name: "basedslash", url: "{backend}/base/" },
    ],
    requests: [
      { method: "GET", path: "/noslash/a/b" },
      { method: "GET", path: "/slash/a/b" },
      { method: "GET", path: "/prefixed/a" },
      { method: "GET", path: "/notarget/a" },
      { method: "GET", path: "/based/a/b" },
      { method: "GET", path: "/basedslash/a" },
      { method: "GET", path: "/two/x/y" },
      { method: "GET", path: "/empty/" },
    ],
  },
  {
    id: "query-string",
    title: "the source is matched against path and query; what happens to the query on rewriting",
    xsApp: {
      authenticationMethod: "none",
      routes: [
        { source: "^/q/(.*)$", target: "/$1", destination: "backend" },
        { source: "^/pathonly/([^?]*)", target: "/v2/$1", destination: "backend" },
        { source: "^/app/(.*)$", target: "/index.html", destination: "backend" },
        { source: "^/s\\?mode=special", target: "/special", destination: "backend" },
        { source: "^/s(.*)$", target: "/normal$1", destination: "backend" },
      ],
    },
    destinations: backendOnly,
    requests: [
      { method: "GET", path: "/q/x?y=1&z=2" },
      { method: "GET", path: "/pathonly/x?y=1" },
      { method: "GET", path: "/app/a?b=1" },
      { method: "GET", path: "/s?mode=special" },
      { method: "GET", path: "/s?mode=special&x=1" },
      { method: "GET", path: "/s?mode=other" },
      { method: "GET", path: "/q/enc?a=%20b&c=%2F&d=%C3%BC" },
      { method: "GET", path: "/q/x?" },
    ],
  },
  {
    id: "case-sensitivity",
    title: "source matching is case-sensitive unless source.matchCase is false",
    xsApp: {
      authenticationMethod: "none",
      routes: [
        { source: "^/Api/(.*)$", target: "/upper/$1", destination: "backend" },
        { source: "^/api/(.*)$", target: "/lower/$1", destination: "backend" },
        { source: { path: "^/ci/(.*)$", matchCase: false }, target: "/ci/$1", destination: "backend" },
      ],
    },
    destinations: backendOnly,
    requests: [
      { method: "GET", path: "/api/x" },
      { method: "GET", path: "/Api/x" },
      { method: "GET", path: "/API/x" },
      { method: "GET", path: "/CI/x" },
      { method: "GET", path: "/ci/x" },
    ],
  },
  {
    id: "http-methods",
    title: "httpMethods: a route for other methods is skipped; 405 with Allow when only such routes match",
    xsApp: {
      authenticationMethod: "none",
      routes: [
        { source: "^/m/(.*)$", httpMethods: ["GET"], target: "/get/$1", destination: "backend" },
        { source: "^/m/(.*)$", httpMethods: ["POST"], target: "/post/$1", destination: "backend" },
        { source: "^/only/(.*)$", httpMethods: ["PUT", "GET"], target: "/only/$1", destination: "backend" },
      ],
    },
    destinations: backendOnly,
    requests: [
      { method: "GET", path: "/m/x" },
      { method: "POST", path: "/m/x", headers: { "content-type": "application/json" }, body: '{"a":1}' },
      { method: "DELETE", path: "/m/x" },
      { method: "HEAD", path: "/m/x" },
      { method: "PATCH", path: "/only/x", headers: { "content-type": "text/plain" }, body: "p" },
      { method: "PUT", path: "/only/x", headers: { "content-type": "text/plain" }, body: "p" },
      { method: "OPTIONS", path: "/only/x" },
      { method: "GET", path: "/nomatch" },
    ],
  },
  {
    id: "http-methods-fallthrough",
    title: "a later route takes the methods an earlier matching route excludes",
    xsApp: {
      authenticationMethod: "none",
      routes: [
        { source: "^/f/(.*)$", httpMethods: ["GET"], target: "/f-get/$1", destination: "backend" },
        { source: "^/(.*)$", target: "/all/$1", destination: "backend" },
      ],
    },
    destinations: backendOnly,
    requests: [
      { method: "GET", path: "/f/x" },
      { method: "POST", path: "/f/x", headers: { "content-type": "text/plain" }, body: "b" },
      { method: "DELETE", path: "/f/x" },
    ],
  },
  {
    id: "no-match",
    title: "404 when no route matches",
    xsApp: {
      authenticationMethod: "none",
      routes: [{ source: "^/api/(.*)$", target: "/$1", destination: "backend" }],
    },
    destinations: backendOnly,
    requests: [
      { method: "GET", path: "/nothing" },
      { method: "POST", path: "/nothing", headers: { "content-type": "text/plain" }, body: "x" },
      { method: "GET", path: "/api" },
    ],
  },
  {
    id: "csrf-public",
    title:
      "x-csrf-token on a public route (authenticationMethod none): session, cookie, token, state-changing requests",
    xsApp: { authenticationMethod: "none", routes: [catchAll] },
    destinations: backendOnly,
    requests: [
      { method: "GET", path: "/data", note: "no session, nothing asked" },
      {
        method: "GET",
        path: "/data",
        headers: { "x-csrf-token": "fetch" },
        note: "token fetch without a session",
      },
      {
        method: "GET",
        path: "/data",
        headers: { "x-csrf-token": "fetch" },
        note: "second fetch with the cookie",
      },
      {
        method: "HEAD",
        path: "/data",
        headers: { "x-csrf-token": "Fetch" },
        note: "HEAD fetch, header value case",
      },
      {
        method: "GET",
        path: "/data",
        headers: { cookie: "other=1" },
        note: "router cookie stripped, others kept",
      },
      {
        method: "POST",
        path: "/data",
        headers: { "content-type": "text/plain" },
        body: "no-token",
        note: "POST without token",
      },
      {
        method: "POST",
        path: "/data",
        headers: { "content-type": "text/plain", "x-csrf-token": "{token}" },
        body: "token",
        note: "POST with token",
      },
      {
        method: "POST",
        path: "/data",
        headers: { "content-type": "text/plain", "x-csrf-token": "wrong" },
        body: "wrong",
        note: "POST with a wrong token",
      },
      { method: "DELETE", path: "/data", jar: false, note: "DELETE without session or token" },
      { method: "POST", path: "/data", headers: { "x-csrf-token": "fetch" }, note: "fetch on a POST" },
    ],
  },
  {
    id: "csrf-route-none",
    title: "authenticationMethod route with authenticationType none routes; csrfProtection false",
    xsApp: {
      authenticationMethod: "route",
      routes: [
        {
          source: "^/nocsrf/(.*)$",
          target: "/$1",
          destination: "backend",
          authenticationType: "none",
          csrfProtection: false,
        },
        { source: "^/(.*)$", target: "/$1", destination: "backend", authenticationType: "none" },
      ],
    },
    destinations: backendOnly,
    requests: [
      { method: "GET", path: "/data", headers: { "x-csrf-token": "fetch" } },
      { method: "POST", path: "/data", headers: { "content-type": "text/plain" }, body: "no-token" },
      {
        method: "POST",
        path: "/data",
        headers: { "content-type": "text/plain", "x-csrf-token": "{token}" },
        body: "token",
      },
      { method: "GET", path: "/nocsrf/data", headers: { "x-csrf-token": "fetch" } },
      {
        method: "POST",
        path: "/nocsrf/data",
        headers: { "content-type": "text/plain", "x-csrf-token": "anything" },
        body: "x",
      },
    ],
  },
  {
    id: "logout-default",
    title: "logout endpoint without logoutMethod (the default method and CSRF rule), with a logoutPage",
    xsApp: {
      authenticationMethod: "none",
      routes: [catchAll],
      logout: { logoutEndpoint: "/logout", logoutPage: "/bye.html" },
    },
    destinations: backendOnly,
    requests: [
      { method: "GET", path: "/data", headers: { "x-csrf-token": "fetch" }, note: "start a session" },
      {
        method: "POST",
        path: "/logout",
        headers: { "x-csrf-token": "{token}" },
        note: "POST with session and token",
      },
      { method: "GET", path: "/logout", note: "GET with session, no token" },
      {
        method: "GET",
        path: "/data",
        headers: { "x-csrf-token": "fetch" },
        note: "after logout: a new session?",
      },
    ],
  },
  {
    id: "logout-post",
    title: "logout endpoint with logoutMethod POST: CSRF protected, redirect to logoutPage, cookie cleared",
    xsApp: {
      authenticationMethod: "none",
      routes: [catchAll],
      logout: { logoutEndpoint: "/logout", logoutMethod: "POST", logoutPage: "/bye.html" },
    },
    destinations: backendOnly,
    requests: [
      { method: "GET", path: "/logout", note: "wrong method, no session" },
      { method: "POST", path: "/logout", note: "no session, no token" },
      { method: "GET", path: "/data", headers: { "x-csrf-token": "fetch" }, note: "start a session" },
      { method: "POST", path: "/logout", note: "session, no token" },
      {
        method: "GET",
        path: "/logout",
        headers: { "x-csrf-token": "fetch" },
        note: "token fetch on the logout endpoint",
      },
      { method: "POST", path: "/logout", headers: { "x-csrf-token": "{token}" }, note: "session and token" },
      {
        method: "GET",
        path: "/data",
        headers: { "x-csrf-token": "fetch" },
        note: "after logout: a new session",
      },
    ],
  },
  {
    id: "logout-get",
    title: "logout endpoint with logoutMethod GET (SAP refuses csrfProtection with GET) and no logoutPage",
    xsApp: {
      authenticationMethod: "none",
      routes: [catchAll],
      logout: { logoutEndpoint: "/do/logout", logoutMethod: "GET" },
    },
    destinations: backendOnly,
    requests: [
      { method: "GET", path: "/data", headers: { "x-csrf-token": "fetch" } },
      { method: "POST", path: "/do/logout" },
      { method: "GET", path: "/do/logout" },
      { method: "GET", path: "/do/logout", note: "again, without a session" },
    ],
  },
  {
    id: "x-forwarded",
    title:
      "X-Forwarded-* headers to the backend, client-sent values, setXForwardedHeaders false; client Authorization on a public route",
    xsApp: {
      authenticationMethod: "none",
      routes: [
        { source: "^/noxf/(.*)$", target: "/$1", destination: "noxf" },
        { source: "^/(.*)$", target: "/$1", destination: "backend" },
      ],
    },
    destinations: [
      { name: "backend", url: "{backend}" },
      { name: "noxf", url: "{backend}", setXForwardedHeaders: false },
    ],
    requests: [
      { method: "GET", path: "/xf/path?q=1", headers: { authorization: "Basic Y2xpZW50OnNlY3JldA==" } },
      {
        method: "GET",
        path: "/xf/path?q=1",
        headers: {
          "x-forwarded-host": "spoofed.example",
          "x-forwarded-proto": "gopher",
          "x-forwarded-for": "10.1.2.3",
          "x-forwarded-path": "/spoofed",
        },
      },
      {
        method: "GET",
        path: "/noxf/path?q=1",
        headers: {
          "x-forwarded-host": "spoofed.example",
          "x-forwarded-proto": "gopher",
          "x-forwarded-for": "10.1.2.3",
          "x-forwarded-path": "/spoofed",
        },
      },
      { method: "GET", path: "/noxf/path?q=1" },
    ],
  },
  {
    id: "hop-by-hop",
    title: "hop-by-hop headers in both directions",
    xsApp: { authenticationMethod: "none", routes: [catchAll] },
    destinations: backendOnly,
    observe: {
      backend: ["proxy-authorization", "te", "public", "x-hop-req", "x-plain"],
      // Keep-Alive is not observable through Miniflare's client (dropped before the test sees it).
      response: ["proxy-authenticate", "public", "x-hop-resp"],
    },
    requests: [
      {
        method: "GET",
        path: "/hop",
        headers: { "proxy-authorization": "Basic eDp5", te: "trailers", public: "GET", "x-plain": "1" },
      },
      { method: "GET", path: "/hop", headers: { [B]: "hop-by-hop" } },
    ],
  },
  {
    id: "backend-session-cookies",
    title:
      "a backend's session cookies (no expiry) are kept in the router session and replayed; persistent ones reach the browser",
    xsApp: { authenticationMethod: "none", routes: [catchAll] },
    destinations: backendOnly,
    requests: [
      { method: "GET", path: "/set", headers: { [B]: "set-cookies" } },
      { method: "GET", path: "/echo" },
      {
        method: "GET",
        path: "/echo",
        headers: { "x-csrf-token": "fetch" },
        note: "the session is the router's usual session",
      },
      { method: "GET", path: "/clear", headers: { [B]: "clear-session-cookie" } },
      { method: "GET", path: "/echo" },
    ],
  },
  {
    id: "backend-jsessionid",
    title: "a backend session cookie named like the router's (JSESSIONID)",
    xsApp: { authenticationMethod: "none", routes: [catchAll] },
    destinations: backendOnly,
    requests: [
      { method: "GET", path: "/data", headers: { "x-csrf-token": "fetch" } },
      { method: "GET", path: "/set", headers: { [B]: "set-jsessionid" } },
      { method: "GET", path: "/echo" },
      {
        method: "GET",
        path: "/data",
        headers: { "x-csrf-token": "fetch" },
        note: "is the router session intact?",
      },
    ],
  },
  {
    id: "backend-redirects",
    title: "Location of backend redirects",
    xsApp: {
      authenticationMethod: "none",
      routes: [
        { source: "^/based/(.*)$", target: "/$1", destination: "based" },
        { source: "^/(.*)$", target: "/$1", destination: "backend" },
      ],
    },
    destinations: [
      { name: "backend", url: "{backend}" },
      { name: "based", url: "{backend}/base" },
    ],
    requests: [
      { method: "GET", path: "/r", headers: { [B]: "redirect-abs" } },
      { method: "GET", path: "/r", headers: { [B]: "redirect-rel" } },
      { method: "GET", path: "/r", headers: { [B]: "redirect-ext" } },
      { method: "GET", path: "/based/r", headers: { [B]: "redirect-abs-base" } },
      { method: "GET", path: "/based/r", headers: { [B]: "redirect-abs" } },
    ],
  },
  {
    id: "x-frame-options-default",
    title: "X-Frame-Options: SAMEORIGIN by default; the backend's own value; router errors",
    xsApp: {
      authenticationMethod: "none",
      routes: [{ source: "^/x(.*)$", target: "/x$1", destination: "backend" }],
    },
    destinations: backendOnly,
    requests: [
      { method: "GET", path: "/x" },
      { method: "GET", path: "/x", headers: { [B]: "xfo-deny" } },
      { method: "GET", path: "/x", headers: { [B]: "status-500" } },
      { method: "GET", path: "/nothing" },
    ],
  },
  {
    id: "send-xframeoptions-false",
    title: "SEND_XFRAMEOPTIONS=false",
    xsApp: {
      authenticationMethod: "none",
      routes: [{ source: "^/x(.*)$", target: "/x$1", destination: "backend" }],
    },
    destinations: backendOnly,
    env: { SEND_XFRAMEOPTIONS: "false" },
    requests: [
      { method: "GET", path: "/x" },
      { method: "GET", path: "/nothing" },
    ],
  },
  {
    id: "response-headers",
    title: "xs-app.json responseHeaders; a header the backend sends too",
    xsApp: {
      authenticationMethod: "none",
      routes: [{ source: "^/x(.*)$", target: "/x$1", destination: "backend" }],
      responseHeaders: [
        { name: "Content-Security-Policy", value: "frame-ancestors 'self'" },
        { name: "X-Custom", value: "router" },
      ],
    },
    destinations: backendOnly,
    observe: { response: ["content-security-policy", "x-custom"] },
    requests: [
      { method: "GET", path: "/x" },
      { method: "GET", path: "/x", headers: { [B]: "custom-headers" } },
      { method: "GET", path: "/nothing" },
    ],
  },
  {
    id: "http-headers-env",
    title:
      "httpHeaders environment variable, overridden by responseHeaders of the same name; X-Frame-Options configured",
    xsApp: {
      authenticationMethod: "none",
      routes: [{ source: "^/x(.*)$", target: "/x$1", destination: "backend" }],
      responseHeaders: [{ name: "X-Custom", value: "router" }],
    },
    destinations: backendOnly,
    env: {
      httpHeaders: JSON.stringify([
        { "X-Env-Header": "env" },
        { "X-Custom": "env" },
        { "X-Frame-Options": "DENY" },
      ]),
    },
    observe: { response: ["x-env-header", "x-custom"] },
    requests: [
      { method: "GET", path: "/x" },
      { method: "GET", path: "/nothing" },
    ],
  },
  {
    id: "welcome-file",
    title: "welcomeFile: redirect of /, token fetch on /, X-Forwarded-Path",
    xsApp: { authenticationMethod: "none", welcomeFile: "/index.html", routes: [catchAll] },
    destinations: backendOnly,
    requests: [
      { method: "GET", path: "/" },
      { method: "GET", path: "/?a=1" },
      { method: "HEAD", path: "/" },
      { method: "POST", path: "/", headers: { "content-type": "text/plain" }, body: "x" },
      { method: "GET", path: "/", headers: { "x-csrf-token": "fetch" } },
      { method: "GET", path: "/", headers: { "x-forwarded-path": "/prefix/" } },
      { method: "GET", path: "/other" },
    ],
  },
  {
    id: "welcome-file-relative",
    title: "welcomeFile without a leading slash",
    xsApp: { authenticationMethod: "none", welcomeFile: "index.html", routes: [catchAll] },
    destinations: backendOnly,
    requests: [{ method: "GET", path: "/" }],
  },
  {
    id: "cors-xs-app",
    title: "CORS per xs-app.json cors: preflights and actual requests, allowed and refused",
    xsApp: {
      authenticationMethod: "none",
      routes: [catchAll],
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
    },
    destinations: backendOnly,
    requests: [
      {
        method: "OPTIONS",
        path: "/api/x",
        headers: {
          origin: "https://allowed.example",
          "access-control-request-method": "POST",
          "access-control-request-headers": "content-type",
        },
      },
      {
        method: "OPTIONS",
        path: "/api/x",
        headers: {
          origin: "https://allowed.example",
          "access-control-request-method": "POST",
          "access-control-request-headers": "x-other",
        },
      },
      {
        method: "OPTIONS",
        path: "/api/x",
        headers: { origin: "https://allowed.example", "access-control-request-method": "DELETE" },
      },
      {
        method: "OPTIONS",
        path: "/api/x",
        headers: { origin: "https://evil.example", "access-control-request-method": "GET" },
      },
      { method: "GET", path: "/api/x", headers: { origin: "https://allowed.example", [B]: "expose" } },
      { method: "GET", path: "/api/x", headers: { origin: "https://evil.example" } },
      {
        method: "PUT",
        path: "/api/x",
        headers: { origin: "https://allowed.example", "content-type": "text/plain" },
        body: "x",
      },
      { method: "GET", path: "/other", headers: { origin: "https://evil.example" } },
      {
        method: "OPTIONS",
        path: "/other",
        headers: { origin: "https://evil.example", "access-control-request-method": "GET" },
      },
      { method: "GET", path: "/api/x" },
    ],
  },
  {
    id: "cors-env",
    title: "CORS environment variable with a wildcard origin, no credentials, default methods/headers/maxAge",
    xsApp: { authenticationMethod: "none", routes: [catchAll] },
    destinations: backendOnly,
    env: {
      CORS: JSON.stringify([
        { uriPattern: "^/pub/(.*)$", allowedOrigin: [{ host: "*" }], allowedCredentials: false },
      ]),
    },
    requests: [
      {
        method: "OPTIONS",
        path: "/pub/x",
        headers: { origin: "https://any.example", "access-control-request-method": "GET" },
      },
      { method: "GET", path: "/pub/x", headers: { origin: "http://any.example:8080" } },
      { method: "DELETE", path: "/pub/x", headers: { origin: "https://any.example" } },
      { method: "GET", path: "/pub/x", headers: { origin: "null" } },
    ],
  },
  {
    id: "session-cookie-name",
    title: "SESSION_COOKIE_NAME",
    xsApp: { authenticationMethod: "none", routes: [catchAll] },
    destinations: backendOnly,
    env: { SESSION_COOKIE_NAME: "MY_SESSION" },
    sessionCookieName: "MY_SESSION",
    requests: [
      { method: "GET", path: "/data", headers: { "x-csrf-token": "fetch" } },
      {
        method: "GET",
        path: "/data",
        headers: { cookie: "JSESSIONID=other" },
        note: "the router's cookie is stripped, a JSESSIONID is not (SAP does not find its session again without Redis under a custom name: no token fetch here)",
      },
    ],
  },
  {
    id: "cookies-samesite-none",
    title: "COOKIES SameSite None",
    xsApp: { authenticationMethod: "none", routes: [catchAll] },
    destinations: backendOnly,
    env: { COOKIES: JSON.stringify({ SameSite: "None" }) },
    requests: [{ method: "GET", path: "/data", headers: { "x-csrf-token": "fetch" } }],
  },
  {
    id: "passthrough",
    title: "backend statuses, bodies and methods passed through; an unreachable destination",
    xsApp: {
      authenticationMethod: "none",
      routes: [
        { source: "^/down/(.*)$", target: "/$1", destination: "down" },
        { source: "^/(.*)$", target: "/$1", destination: "backend" },
      ],
    },
    destinations: [
      { name: "backend", url: "{backend}" },
      { name: "down", url: "{unreachable}" },
    ],
    requests: [
      {
        method: "POST",
        path: "/created",
        headers: { [B]: "status-201", "content-type": "application/json" },
        body: '{"n":1}',
      },
      { method: "DELETE", path: "/gone", headers: { [B]: "status-204" } },
      { method: "GET", path: "/missing", headers: { [B]: "status-404" } },
      { method: "PATCH", path: "/p", headers: { "content-type": "text/plain" }, body: "patch-body" },
      {
        method: "PUT",
        path: "/p",
        headers: { "content-type": "application/octet-stream" },
        body: "put-body",
      },
      { method: "GET", path: "/down/x" },
    ],
  },
  {
    id: "replace",
    title: "replace on a localDir route: vars and services, escaping, missing values, sections, pathSuffixes",
    xsApp: {
      authenticationMethod: "none",
      routes: [
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
      ],
    },
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
      { method: "GET", path: "/web/index.html" },
      { method: "GET", path: "/web/abc/main.html" },
      {
        method: "GET",
        path: "/web/xabc/main.html",
        note: "not a suffix match (/abc/main.html needs the folder abc): served as is",
      },
      { method: "GET", path: "/web/config.json" },
      { method: "GET", path: "/web/app.js", note: "not listed: served as is, placeholders kept" },
    ],
  },
  {
    id: "whitelist-service",
    title:
      "whitelistService with CJ_PROTECT_WHITELIST: SAP's JSON answer by parentOrigin; other methods and paths go to the routes",
    xsApp: {
      authenticationMethod: "none",
      whitelistService: { endpoint: "/whitelist/service" },
      routes: [catchAll],
    },
    destinations: backendOnly,
    env: {
      CJ_PROTECT_WHITELIST: JSON.stringify([
        { protocol: "https", host: "*.example.com" },
        { host: "partner.test", port: 8443 },
      ]),
    },
    observe: { body: true, response: ["content-type"] },
    requests: [
      { method: "GET", path: "/whitelist/service?parentOrigin=https://app.example.com" },
      { method: "GET", path: "/whitelist/service?parentOrigin=http://app.example.com" },
      { method: "GET", path: "/whitelist/service?parentOrigin=https://example.com" },
      { method: "GET", path: "/whitelist/service?parentOrigin=http://partner.test:8443" },
      { method: "GET", path: "/whitelist/service?parentOrigin=http://partner.test" },
      { method: "GET", path: "/whitelist/service" },
      {
        method: "GET",
        path: "/whitelist/service?parentOrigin=https://a.example.com&parentOrigin=https://b.example.com",
      },
      { method: "GET", path: "/whitelist/service/sub?parentOrigin=https://app.example.com" },
      { method: "GET", path: "/whitelist/servicex" },
    ],
  },
  {
    id: "whitelist-service-inactive",
    title: "whitelistService without CJ_PROTECT_WHITELIST: inactive, framing allowed",
    xsApp: {
      authenticationMethod: "none",
      whitelistService: { endpoint: "/whitelist/service" },
      routes: [catchAll],
    },
    destinations: backendOnly,
    observe: { body: true, response: ["content-type"] },
    requests: [{ method: "GET", path: "/whitelist/service?parentOrigin=https://app.example.com" }],
  },
  {
    id: "plugins",
    title: "plugins variable: routes before xs-app.json's, listed by pluginMetadataEndpoint",
    xsApp: { authenticationMethod: "none", pluginMetadataEndpoint: "/metadata", routes: [catchAll] },
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
    requests: [
      { method: "GET", path: "/metadata" },
      { method: "GET", path: "/reports/r1" },
    ],
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
