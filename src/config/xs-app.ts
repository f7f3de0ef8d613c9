/**
 * `xs-app.json`: the SAP routing descriptor (bundled with the Worker, or the `XS_APP`
 * variable). This covers the subset the router implements; properties SAP defines but
 * the router does not use yet (`destinations`, `responseHeaders`, `errorPage`, `cors`,
 * `compression`, `websockets`; per route `scope`, `cacheControl`, `identityProvider`,
 * `replace`, `setBackendSessionCookies`) are accepted with a loose shape check and
 * dropped. Anything else is rejected as unknown. To support a property: add it to the
 * schema and to the `transform` that builds `XsAppConfig`/`RouteConfig`.
 */
import * as v from "valibot";
import type { RouteConfig, XsAppConfig } from "./types.js";
import { validate, type Checked } from "./problems.js";
import { boolean, crossCheck, jsonObject, nonEmptyString, positiveInteger, string, strictObject } from "./schemas.js";

/** Path prefix of problems in the bundled descriptor. */
export const BUNDLED = "xs-app.json";

export const HTTP_METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"] as const;

function isRegExp(source: string): boolean {
  try {
    new RegExp(source);
    return true;
  } catch {
    return false;
  }
}

const regExpCheck = v.check(isRegExp, "invalid regular expression");

/** SAP string form: a regular expression, case-sensitive. */
const sourceString = v.pipe(
  v.string("must be a regular expression (a string) or an object { path, matchCase }"),
  regExpCheck,
  v.transform((source) => new RegExp(source)),
);

/** SAP object form: `{ path, matchCase }`; `matchCase: false` → flag `i`. */
const sourceObject = v.pipe(
  strictObject({ path: v.pipe(string, regExpCheck), matchCase: v.optional(boolean, true) }),
  v.transform((source) => new RegExp(source.path, source.matchCase ? "" : "i")),
);

const source = v.lazy((input) => (typeof input === "object" && input !== null ? sourceObject : sourceString));

const httpMethod = v.pipe(
  string,
  v.toUpperCase(),
  v.picklist(HTTP_METHODS, `must be an HTTP method (${HTTP_METHODS.join(", ")})`),
);

const authenticationType = v.pipe(
  string,
  v.check((type) => type !== "basic", "not supported at the edge"),
  v.picklist(["xsuaa", "ias", "none"], 'must be one of "xsuaa", "ias", "none"'),
);

const endpointPath = v.pipe(string, v.startsWith("/", "must start with /"));

function routeSchema(destinationNames: ReadonlySet<string> | undefined) {
  const destination = v.pipe(
    nonEmptyString,
    v.check(
      // An empty name is reported as such, not as unknown.
      (name) => destinationNames === undefined || name === "" || destinationNames.has(name),
      (issue) => `unknown destination ${JSON.stringify(issue.input)}`,
    ),
  );
  return v.pipe(
    strictObject({
      source,
      target: v.optional(string),
      destination: v.optional(destination),
      localDir: v.optional(v.never("not supported yet")),
      service: v.optional(v.never("not supported at the edge")),
      httpMethods: v.optional(
        v.pipe(v.array(httpMethod, "must be an array of HTTP methods"), v.minLength(1, "must not be empty")),
      ),
      authenticationType: v.optional(authenticationType, "xsuaa"),
      csrfProtection: v.optional(boolean, true),
      // Accepted, not used yet:
      scope: v.optional(v.union([string, v.array(string), jsonObject], "must be a string, an array of strings or an object")),
      cacheControl: v.optional(string),
      identityProvider: v.optional(string),
      replace: v.optional(jsonObject),
      setBackendSessionCookies: v.optional(boolean),
    }),
    // Exactly one of destination / localDir / service; the latter two are reported on their own.
    crossCheck(
      ["destination", "localDir", "service"],
      (route) => route.destination !== undefined || route.localDir !== undefined || route.service !== undefined,
      "destination",
      "missing required property",
    ),
    v.transform(
      (route): RouteConfig => ({
        source: route.source,
        ...(route.target !== undefined && { target: route.target }),
        // Never empty here: a route without a destination has a problem.
        destination: route.destination ?? "",
        ...(route.httpMethods !== undefined && { httpMethods: route.httpMethods }),
        authenticationType: route.authenticationType,
        csrfProtection: route.csrfProtection,
      }),
    ),
  );
}

function xsAppSchema(destinationNames: ReadonlySet<string> | undefined) {
  const arrayOfObjects = v.array(jsonObject, "must be an array of objects");
  return v.pipe(
    strictObject({
      welcomeFile: v.optional(string),
      authenticationMethod: v.optional(v.picklist(["route", "none"], 'must be "route" or "none"'), "route"),
      sessionTimeout: v.optional(positiveInteger),
      routes: v.optional(v.array(routeSchema(destinationNames), "must be an array"), []),
      login: v.optional(strictObject({ callbackEndpoint: v.optional(endpointPath, "/login/callback") }), {}),
      logout: v.optional(
        strictObject({
          logoutEndpoint: v.optional(endpointPath),
          logoutPage: v.optional(nonEmptyString),
          logoutMethod: v.optional(v.picklist(["GET", "POST"], 'must be "GET" or "POST"'), "POST"),
          csrfProtection: v.optional(boolean, true),
        }),
      ),
      // Accepted, not used yet:
      destinations: v.optional(v.pipe(jsonObject, v.record(v.string(), jsonObject))),
      responseHeaders: v.optional(arrayOfObjects),
      errorPage: v.optional(arrayOfObjects),
      cors: v.optional(arrayOfObjects),
      compression: v.optional(jsonObject),
      websockets: v.optional(jsonObject),
    }),
    v.transform(
      (xs): XsAppConfig => ({
        ...(xs.welcomeFile !== undefined && { welcomeFile: xs.welcomeFile }),
        authenticationMethod: xs.authenticationMethod,
        ...(xs.sessionTimeout !== undefined && { sessionTimeout: xs.sessionTimeout }),
        routes: xs.routes.map((route) =>
          xs.authenticationMethod === "none" ? { ...route, authenticationType: "none" } : route,
        ),
        login: { callbackEndpoint: xs.login.callbackEndpoint },
        ...(xs.logout !== undefined && {
          logout: {
            ...(xs.logout.logoutEndpoint !== undefined && { logoutEndpoint: xs.logout.logoutEndpoint }),
            ...(xs.logout.logoutPage !== undefined && { logoutPage: xs.logout.logoutPage }),
            logoutMethod: xs.logout.logoutMethod,
            csrfProtection: xs.logout.csrfProtection,
          },
        }),
      }),
    ),
  );
}

/**
 * Validates an xs-app.json object. `prefix` names its origin in problems (`xs-app.json`
 * or `XS_APP`). `destinationNames`: the names in the `destinations` variable every route
 * destination must be one of; undefined skips that cross-check (the variable itself is
 * unusable and already reported).
 */
export function parseXsApp(
  input: unknown,
  prefix: string,
  destinationNames: ReadonlySet<string> | undefined,
): Checked<XsAppConfig> {
  return validate(xsAppSchema(destinationNames), input, prefix);
}
