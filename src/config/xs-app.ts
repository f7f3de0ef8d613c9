/**
 * `xs-app.json`: the SAP routing descriptor (bundled with the Worker, or the `XS_APP`
 * variable), checked against SAP's own schema (`@sap/approuter` 23,
 * lib/configuration/schemas/xs-app-schema.json) so that a file SAP accepts is accepted
 * here, except for what cannot work at the edge, which is named:
 * - "not supported at the edge": `service` routes other than SAP's user API
 *   (`sap-approuter-userapi`) and the HTML5 application repository (`html5-apps-repo-rt`,
 *   when bound) (+ `endpoint`, top-level `services`),
 *   `authenticationType: "basic"`.
 * - "not supported yet": `stateProtection: false`.
 * Dynamic destinations (`"$1"`, `"*"`) are checked here (a group `source` has; `*` needs
 * `DESTINATION_HOST_PATTERN`) and resolved per request (src/destinations/dynamic.ts).
 * Anything else unknown is rejected as such. Accepted but without effect, and listed in
 * `ignored` (one start-up warning): `compression.minSize` and
 * `compression.compressResponseMixedTypeContent` (Cloudflare decides compression at the
 * edge), `scope` on public routes and `cacheControl` on routes without `localDir` (SAP
 * ignores both too). Differences from SAP: `compression.enabled: false` asks Cloudflare not
 * to compress (src/http/no-compression.ts); `errorPage[].status` must be 100–599; an empty
 * `allowedOrigin` is a problem (SAP reads it as "any origin"). `replace` views are resolved
 * against the environment by `loadConfig` (src/static/replace.ts).
 */
import * as v from "valibot";
import type {
  DestinationLogoutConfig,
  ErrorPageTarget,
  RouteConfig,
  RouteScope,
  XsAppConfig,
} from "./types.js";
import { nearestName, validate, type Checked } from "./problems.js";
import {
  HTTP_METHODS,
  assetPath,
  boolean,
  crossCheck,
  httpMethod,
  integer,
  jsonObject,
  nonEmptyString,
  positiveInteger,
  regExpSource,
  string,
  strictObject,
} from "./schemas.js";
import { corsRules, headerValue, responseHeaderEntry } from "./http-schemas.js";
import { dynamicTemplateProblem, isDynamicTemplate } from "./dynamic-destinations.js";

export { HTTP_METHODS };

/** Path prefix of problems in the bundled descriptor. */
export const BUNDLED = "xs-app.json";

const EDGE = "not supported at the edge";
const NOT_YET = "not supported yet";

/** SAP's user API, answered by src/auth/user-api.ts. */
export const USER_API_SERVICE = "sap-approuter-userapi";
/** The HTML5 application repository (src/html5), when bound. */
export const HTML5_REPO_SERVICE = "html5-apps-repo-rt";
const HTML5_REPO_UNBOUND =
  "needs the HTML5 application repository bound (VCAP_SERVICES: service html5-apps-repo, plan app-runtime)";

const authenticationType = v.pipe(
  string,
  v.check((type) => type !== "basic", EDGE),
  v.picklist(["xsuaa", "ias", "none"], 'must be one of "xsuaa", "ias", "none"'),
);

const endpointPath = v.pipe(string, v.startsWith("/", "must start with /"));

/**
 * SAP `relative-uri`: no scheme, no host; stored with a leading `/` (SAP joins it to the destination URL).
 */
const relativePath = v.pipe(
  nonEmptyString,
  v.check(
    (p) => !/^[a-z][a-z0-9+.-]*:/i.test(p) && !p.startsWith("//"),
    "must be a relative path (no scheme, no host)",
  ),
  v.transform((p) => (p.startsWith("/") ? p : `/${p}`)),
);

/** A `pathSuffixes` entry: SAP `relative-uri`, kept as written (matched with endsWith). */
const relativeSuffix = v.pipe(
  nonEmptyString,
  v.check(
    (p) => !/^[a-z][a-z0-9+.-]*:/i.test(p) && !p.startsWith("//"),
    "must be a relative path (no scheme, no host)",
  ),
);

/** A scope list: one scope, or a non-empty array (any one suffices). */
const scopeList = v.union(
  [
    v.pipe(
      nonEmptyString,
      v.transform((s) => [s]),
    ),
    v.pipe(v.array(nonEmptyString), v.minLength(1, "must not be empty")),
  ],
  "must be a string, an array of strings or an object by HTTP method",
);

const optionalScopes = v.optional(scopeList);

/** SAP `scope`: a list, or an object by upper-case method (SAP's key list) with `default`. */
const scope = v.lazy((input) =>
  typeof input === "object" && input !== null && !Array.isArray(input)
    ? v.pipe(
        strictObject({
          GET: optionalScopes,
          HEAD: optionalScopes,
          POST: optionalScopes,
          PUT: optionalScopes,
          DELETE: optionalScopes,
          CONNECT: optionalScopes,
          OPTIONS: optionalScopes,
          TRACE: optionalScopes,
          PATCH: optionalScopes,
          default: optionalScopes,
        }),
        v.check((o) => Object.keys(o).length > 0, "must not be empty"),
        v.transform(
          (o): RouteScope => Object.fromEntries(Object.entries(o).filter(([, list]) => list !== undefined)),
        ),
      )
    : v.pipe(
        scopeList,
        v.transform((list): RouteScope => ({ default: list })),
      ),
);

/** `unknown destination "x"`, with the nearest defined name when it looks like a typo (names, never URLs). */
function unknownDestination(name: string, known: ReadonlySet<string> | undefined): string {
  const near = known === undefined ? undefined : nearestName(name, [...known]);
  const hint = near === undefined ? "" : `; did you mean ${JSON.stringify(near)}?`;
  return `unknown destination ${JSON.stringify(name)}${hint}`;
}

/**
 * A route's `service`: SAP's user API, or the HTML5 application repository when it is bound
 * (src/html5); other services (business services) cannot be reached from the edge.
 */
function serviceName(html5Repo: boolean) {
  return v.pipe(
    string,
    v.check(
      (name) => name === USER_API_SERVICE || (name === HTML5_REPO_SERVICE && html5Repo),
      (issue) => (issue.input === HTML5_REPO_SERVICE ? HTML5_REPO_UNBOUND : EDGE),
    ),
    v.picklist([USER_API_SERVICE, HTML5_REPO_SERVICE]),
  );
}

/** SAP `compression` (also the `COMPRESSION` variable, which overrides it). */
export const compressionSchema = strictObject({
  enabled: v.optional(boolean),
  minSize: v.optional(positiveInteger),
  compressResponseMixedTypeContent: v.optional(boolean),
});

/**
 * SAP `replace`: which files (`pathSuffixes`), which variables, which service bindings (@sap/xsenv queries).
 */
const replaceSchema = strictObject({
  pathSuffixes: v.array(relativeSuffix, "must be an array of path suffixes"),
  vars: v.optional(v.array(nonEmptyString, "must be an array of variable names"), []),
  services: v.optional(
    v.pipe(
      jsonObject,
      v.record(
        v.string(),
        v.union(
          [nonEmptyString, v.pipe(jsonObject, v.record(v.string(), v.unknown()))],
          "must be a service instance name or a query object ({ label, tag, name, plan })",
        ),
      ),
    ),
    {},
  ),
});

function routeSchema(
  destinationNames: ReadonlySet<string> | undefined,
  html5Repo: boolean,
  hostPattern: boolean,
) {
  // SAP fills "$1" from the source and "*" from the host (DESTINATION_HOST_PATTERN) at
  // request time (src/destinations/dynamic.ts); any other name must exist.
  const destination = v.pipe(
    nonEmptyString,
    v.rawCheck<string>(({ dataset, addIssue }) => {
      if (!dataset.typed || dataset.value === "") return; // an empty name is reported as such, not as unknown
      const name = dataset.value;
      const problem =
        dynamicTemplateProblem(name, undefined, hostPattern) ??
        (isDynamicTemplate(name) || destinationNames === undefined || destinationNames.has(name)
          ? undefined
          : unknownDestination(name, destinationNames));
      if (problem !== undefined) addIssue({ message: problem });
    }),
  );
  return v.pipe(
    strictObject({
      source: regExpSource,
      target: v.optional(nonEmptyString),
      destination: v.optional(destination),
      localDir: v.optional(assetPath('must be a folder inside the static assets (no "..", no backslash)')),
      service: v.optional(serviceName(html5Repo)),
      endpoint: v.optional(v.never(EDGE)),
      // SAP: the provider's destination (true) or the subscriber's; without multitenancy
      // both are the router's own subaccount's, the only ones it reads.
      preferLocal: v.optional(boolean),
      httpMethods: v.optional(
        v.pipe(v.array(httpMethod, "must be an array of HTTP methods"), v.minLength(1, "must not be empty")),
      ),
      authenticationType: v.optional(authenticationType),
      csrfProtection: v.optional(boolean, true),
      scope: v.optional(scope),
      cacheControl: v.optional(headerValue),
      identityProvider: v.optional(nonEmptyString),
      // SAP: the request's `sap_idp` replaces identityProvider (src/auth/authenticate.ts).
      dynamicIdentityProvider: v.optional(boolean),
      // SAP: placeholder replacement in static files (src/static/replace.ts).
      replace: v.optional(replaceSchema),
      setBackendSessionCookies: v.optional(boolean, false),
    }),
    // Exactly one of destination / localDir / service; service is reported on its own.
    crossCheck(
      ["destination", "localDir", "service"],
      (route) =>
        route.destination !== undefined || route.localDir !== undefined || route.service !== undefined,
      "destination",
      "missing required property",
    ),
    crossCheck(
      ["destination", "source"],
      (route) =>
        route.destination === undefined ||
        dynamicTemplateProblem(route.destination, route.source, true) === undefined,
      "destination",
      "names a capturing group that source does not have",
    ),
    crossCheck(
      ["destination", "localDir"],
      (route) => route.destination === undefined || route.localDir === undefined,
      "localDir",
      "not allowed together with destination",
    ),
    // SAP lets its user API answer first and ignores the rest; here the ambiguity is named.
    crossCheck(
      ["service", "destination", "localDir"],
      (route) =>
        route.service === undefined || (route.destination === undefined && route.localDir === undefined),
      "service",
      "not allowed together with destination or localDir",
    ),
    crossCheck(
      ["localDir", "httpMethods"],
      (route) => route.localDir === undefined || route.httpMethods === undefined,
      "httpMethods",
      "not allowed with localDir (localDir routes serve GET and HEAD only)",
    ),
    crossCheck(
      ["replace", "localDir"],
      (route) => route.replace === undefined || route.localDir !== undefined,
      "replace",
      "only allowed with localDir",
    ),
    crossCheck(
      ["identityProvider", "authenticationType"],
      (route) => route.identityProvider === undefined || route.authenticationType !== "none",
      "identityProvider",
      'only allowed with authenticationType "xsuaa" or "ias"',
    ),
    v.transform(
      (route): RouteConfig => ({
        source: route.source,
        ...(route.target !== undefined && { target: route.target }),
        // "" for a localDir route; never empty otherwise (a route without either has a problem).
        destination: route.destination ?? "",
        ...(route.httpMethods !== undefined && { httpMethods: route.httpMethods }),
        authenticationType: route.authenticationType ?? "xsuaa",
        ...(route.authenticationType === undefined && { authenticationTypeImplicit: true as const }),
        csrfProtection: route.csrfProtection,
        ...(route.localDir !== undefined && { localDir: route.localDir }),
        ...(route.service !== undefined && { service: route.service }),
        ...(route.cacheControl !== undefined && { cacheControl: route.cacheControl }),
        ...(route.scope !== undefined && { scope: route.scope }),
        ...(route.identityProvider !== undefined && { identityProvider: route.identityProvider }),
        ...(route.dynamicIdentityProvider === true && { dynamicIdentityProvider: true }),
        ...(route.replace !== undefined && { replace: route.replace }),
        setBackendSessionCookies: route.setBackendSessionCookies,
      }),
    ),
  );
}

const destinationOptions = v.pipe(
  strictObject({
    logoutPath: v.optional(relativePath),
    logoutMethod: v.optional(
      v.picklist(["GET", "POST", "PUT"], 'must be one of "GET", "POST", "PUT"'),
      "POST",
    ),
  }),
  v.transform(
    (d): DestinationLogoutConfig => ({
      ...(d.logoutPath !== undefined && { logoutPath: d.logoutPath }),
      logoutMethod: d.logoutMethod,
    }),
  ),
);

const httpStatus = integer("must be an HTTP status code (100–599)", 100, 599);

const errorPageEntry = v.pipe(
  strictObject({
    // The transform stays outside the union: a failed branch with a transform counts as
    // untyped, and its precise problem would give way to the union's message.
    status: v.pipe(
      v.union(
        [
          httpStatus,
          v.pipe(
            v.array(httpStatus),
            v.minLength(1, "must not be empty"),
            v.check((list) => new Set(list).size === list.length, "must not repeat a status"),
          ),
        ],
        "must be an HTTP status code or an array of them",
      ),
      v.transform((status) => (Array.isArray(status) ? status : [status])),
    ),
    file: v.optional(assetPath('must be a file inside the static assets (no "..", no backslash)')),
    // SAP: the error answered with a redirect to this path (a page of an HTML5 app, say).
    path: v.optional(
      v.pipe(
        relativePath,
        // It becomes a Location header; a backslash would make browsers read `/\x` as `//x`.
        v.check(
          (p) => !/[\u0000-\u001f\u007f\\]/.test(p),
          "must not contain a backslash or control characters",
        ),
      ),
    ),
  }),
  crossCheck(
    ["file", "path"],
    (entry) => entry.file !== undefined || entry.path !== undefined,
    "file",
    "missing required property",
  ),
  // SAP's schema: one of the two (oneOf).
  crossCheck(
    ["file", "path"],
    (entry) => entry.file === undefined || entry.path === undefined,
    "path",
    "cannot be combined with file (one of them: a file to serve or a path to redirect to)",
  ),
);

function xsAppSchema(
  destinationNames: ReadonlySet<string> | undefined,
  html5Repo: boolean,
  hostPattern: boolean,
) {
  return v.pipe(
    strictObject({
      welcomeFile: v.optional(
        v.pipe(
          nonEmptyString,
          // Prefixed with "/" as SAP does; "//x" would redirect off-site.
          v.transform((file) => (file.startsWith("/") ? file : `/${file}`)),
          v.check((file) => !/^\/[/\\]|[\u0000-\u001f\u007f\\]/.test(file), "must be a path on this router"),
        ),
      ),
      authenticationMethod: v.optional(v.picklist(["route", "none"], 'must be "route" or "none"'), "route"),
      stateProtection: v.optional(
        v.pipe(
          boolean,
          v.check((on) => on, `false is ${NOT_YET} (state protection is always on)`),
        ),
      ),
      sessionTimeout: v.optional(positiveInteger),
      routes: v.optional(
        v.array(routeSchema(destinationNames, html5Repo, hostPattern), "must be an array"),
        [],
      ),
      login: v.optional(strictObject({ callbackEndpoint: v.optional(endpointPath, "/login/callback") }), {}),
      logout: v.optional(
        strictObject({
          logoutEndpoint: v.optional(endpointPath),
          logoutPage: v.optional(nonEmptyString),
          logoutMethod: v.optional(v.picklist(["GET", "POST"], 'must be "GET" or "POST"'), "GET"),
          csrfProtection: v.optional(boolean, true),
          backChannelLogoutEndpoint: v.optional(endpointPath),
        }),
      ),
      destinations: v.optional(v.pipe(jsonObject, v.record(v.string(), destinationOptions)), {}),
      services: v.optional(v.never(EDGE)),
      responseHeaders: v.optional(v.array(responseHeaderEntry, "must be an array of { name, value }"), []),
      errorPage: v.optional(v.array(errorPageEntry, "must be an array of { status, file }"), []),
      cors: v.optional(corsRules),
      compression: v.optional(compressionSchema),
      websockets: v.optional(strictObject({ enabled: boolean }), { enabled: false }),
      pluginMetadataEndpoint: v.optional(endpointPath),
      whitelistService: v.optional(strictObject({ endpoint: endpointPath })),
    }),
    // SAP: each `destinations` entry must exist and be used by some route.
    v.rawCheck(({ dataset, addIssue }) => {
      const input = dataset.value as { destinations?: unknown; routes?: unknown };
      if (
        typeof input.destinations !== "object" ||
        input.destinations === null ||
        Array.isArray(input.destinations)
      )
        return;
      // No `routes` counts as none (SAP); `routes` of the wrong type is reported on its own.
      const routes: unknown[] | undefined =
        input.routes === undefined ? [] : Array.isArray(input.routes) ? input.routes : undefined;
      const used = new Set(
        routes?.map((r) =>
          typeof r === "object" && r !== null ? (r as { destination?: unknown }).destination : undefined,
        ),
      );
      for (const name of Object.keys(input.destinations)) {
        let message: string | undefined;
        if (destinationNames !== undefined && !destinationNames.has(name))
          message = unknownDestination(name, destinationNames);
        else if (routes !== undefined && !used.has(name)) message = "not used by any route";
        if (message === undefined) continue;
        const destinations = input.destinations as Record<string, unknown>;
        addIssue({
          message,
          path: [
            {
              type: "object",
              origin: "value",
              input: dataset.value as Record<string, unknown>,
              key: "destinations",
              value: destinations,
            },
            { type: "object", origin: "value", input: destinations, key: name, value: destinations[name] },
          ],
        });
      }
    }),
    v.transform((xs): XsAppConfig => {
      const errorPage = new Map<number, ErrorPageTarget>();
      for (const entry of xs.errorPage) {
        // Exactly one of them: the checks above report anything else, and the transform does not run then.
        const target: ErrorPageTarget =
          entry.file !== undefined ? { file: entry.file } : { path: entry.path! };
        for (const status of entry.status) errorPage.set(status, target);
      }
      return {
        ...(xs.welcomeFile !== undefined && { welcomeFile: xs.welcomeFile }),
        authenticationMethod: xs.authenticationMethod,
        ...(xs.sessionTimeout !== undefined && { sessionTimeout: xs.sessionTimeout }),
        routes: xs.routes.map((route) => {
          const type = xs.authenticationMethod === "none" ? "none" : route.authenticationType;
          // SAP ignores scopes on public routes (and logs a warning).
          const { scope: _ignored, ...rest } = route;
          return type === "none" ? { ...rest, authenticationType: type } : route;
        }),
        login: { callbackEndpoint: xs.login.callbackEndpoint },
        ...(xs.logout !== undefined && {
          logout: {
            ...(xs.logout.logoutEndpoint !== undefined && { logoutEndpoint: xs.logout.logoutEndpoint }),
            ...(xs.logout.logoutPage !== undefined && { logoutPage: xs.logout.logoutPage }),
            logoutMethod: xs.logout.logoutMethod,
            csrfProtection: xs.logout.csrfProtection,
            ...(xs.logout.backChannelLogoutEndpoint !== undefined && {
              backChannelLogoutEndpoint: xs.logout.backChannelLogoutEndpoint,
            }),
          },
        }),
        destinations: new Map(Object.entries(xs.destinations)),
        responseHeaders: xs.responseHeaders,
        cors: xs.cors ?? [],
        errorPage,
        websockets: { enabled: xs.websockets.enabled },
        ...(xs.whitelistService !== undefined && { whitelistService: xs.whitelistService }),
        ...(xs.pluginMetadataEndpoint !== undefined && { pluginMetadataEndpoint: xs.pluginMetadataEndpoint }),
        compression: { enabled: xs.compression?.enabled ?? true },
        ignored: [
          ...ignoredSettings(xs.compression),
          ...xs.routes.flatMap((r, i) => ignoredRouteSettings(r, i, xs.authenticationMethod)),
        ],
      };
    }),
  );
}

/**
 * The keys a `plugins` entry may have (SAP plugins-schema.json): a route's, without
 * `localDir`, `replace`, `cacheControl`.
 */
const pluginKeys = strictObject({
  name: nonEmptyString,
  source: v.unknown(),
  destination: v.unknown(),
  target: v.optional(v.unknown()),
  csrfProtection: v.optional(v.unknown()),
  authenticationType: v.optional(v.unknown()),
  scope: v.optional(v.unknown()),
});

/**
 * SAP's `plugins` variable (JSON array): routes put before xs-app.json's (SAP
 * `mergePluginsIntoRoutes`), each with a `name` and a `destination`. Problems are named
 * `plugins[i]…`.
 */
export function parsePlugins(
  input: unknown,
  destinationNames: ReadonlySet<string> | undefined,
  options: { destinationHostPattern?: boolean } = {},
): Checked<RouteConfig[]> {
  if (!Array.isArray(input))
    return { ok: false, problems: [{ path: "plugins", message: "must be an array of routes with a name" }] };
  const route = routeSchema(destinationNames, false, options.destinationHostPattern === true);
  const routes: RouteConfig[] = [];
  const problems: Checked<unknown> & { ok: false } = { ok: false, problems: [] };
  for (const [i, plugin] of input.entries()) {
    const keys = validate(pluginKeys, plugin, `plugins[${i}]`);
    if (!keys.ok) {
      problems.problems.push(...keys.problems);
      continue;
    }
    const { name: _name, ...rest } = plugin as Record<string, unknown>;
    const checked = validate(route, rest, `plugins[${i}]`);
    if (checked.ok) routes.push(checked.value);
    else problems.problems.push(...checked.problems);
  }
  return problems.problems.length > 0 ? problems : { ok: true, value: routes };
}

/** xs-app.json settings accepted but without effect here, with the reason (logged once at start-up). */
function ignoredSettings(
  compression: { minSize?: number; compressResponseMixedTypeContent?: boolean } | undefined,
): string[] {
  const ignored: string[] = [];
  const why = "Cloudflare decides compression at the edge";
  if (compression?.minSize !== undefined) ignored.push(`compression.minSize (${why})`);
  if (compression?.compressResponseMixedTypeContent !== undefined)
    ignored.push(`compression.compressResponseMixedTypeContent (${why})`);
  return ignored;
}

/** Route settings SAP accepts and ignores (with a warning); named here once. */
function ignoredRouteSettings(
  route: RouteConfig,
  index: number,
  authenticationMethod: "route" | "none",
): string[] {
  const ignored: string[] = [];
  if (route.scope !== undefined && (authenticationMethod === "none" || route.authenticationType === "none"))
    ignored.push(`routes[${index}].scope (the route is public)`);
  if (route.cacheControl !== undefined && route.localDir === undefined)
    ignored.push(`routes[${index}].cacheControl (only localDir routes; SAP ignores it too)`);
  return ignored;
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
  options: { html5Repo?: boolean; destinationHostPattern?: boolean } = {},
): Checked<XsAppConfig> {
  return validate(
    xsAppSchema(destinationNames, options.html5Repo === true, options.destinationHostPattern === true),
    input,
    prefix,
  );
}
