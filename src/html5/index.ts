/**
 * SAP's "dynamic routing" with the HTML5 application repository: when the repository is
 * bound, a request whose first path segment is an app key (app-key.ts) is routed with that
 * app's own xs-app.json from the repository, on the path without the app key and cache
 * buster; an app the repository does not have (503) falls back to the central xs-app.json,
 * as in SAP. The descriptor is cached per isolate for 300 s (SAP's cache) and refreshed in
 * the background after that (served up to 10 minutes old), one fetch per app at a time.
 * `html5-apps-repo-rt` routes serve the app's files from the repository, streamed, with
 * SAP's caching headers: the route's `cacheControl` unless the repository sends its own
 * `Cache-Control`, and `public, max-age=31536000` for cache-buster paths without either.
 * Failures are error pages with stable codes, never a 500; the log says why, without secrets.
 * Apps of bound business services (business-services.ts) are served the same way, under
 * their prefix, with the service's `x-app-host-id`.
 */
import { LABEL_FOR } from "../config/identity.js";
import type {
  BusinessService,
  ConfigProblem,
  Html5RepoBinding,
  RouteConfig,
  RouterConfig,
  XsAppConfig,
} from "../config/types.js";
import { parseXsApp } from "../config/xs-app.js";
import { RefreshingCache, type Lifetime, type Loaded } from "../destinations/cache.js";
import { errorPage } from "../http/pages.js";
import type { Logger } from "../log.js";
import { canonicalizePath } from "../routing/canonical-path.js";
import { isDirectRouted, splitAppPath, type AppKey } from "./app-key.js";
import { Html5RepoClient, type Failure } from "./client.js";

export type AppSelection =
  /**
   * Route with the central xs-app.json; `missingApp`: the first segment names an app the
   * repository does not have.
   */
  | { kind: "central"; missingApp?: AppKey }
  /** Route with the app's own routes, on `pathname` (the path in the app). */
  | {
      kind: "app";
      key: AppKey;
      routes: readonly RouteConfig[];
      pathname: string;
      search: string;
      cacheBuster: boolean;
      fullPath: string;
    }
  /** Answer this (welcome redirect, repository failure). */
  | { kind: "answer"; response: Response };

export interface Html5Router {
  select(request: Request, waitUntil: (work: Promise<unknown>) => void): Promise<AppSelection>;
  /** Serves an `html5-apps-repo-rt` route's `target` (path and query from route matching). */
  serve(request: Request, route: RouteConfig, target: string, selection: AppSelection): Promise<Response>;
  /** Calls made to the repository and its XSUAA (tests, status). */
  readonly calls: { token: number; xsApp: number; file: number };
}

export interface Html5Options {
  binding: Html5RepoBinding;
  config: RouterConfig;
  fetch: typeof fetch;
  now: () => number;
  log: Logger;
  /** Per-isolate cache bound (apps). Default 500. */
  maxApps?: number;
}

type Outcome =
  | { kind: "app"; xsApp: XsAppConfig }
  | { kind: "not-found" }
  | {
      kind: "failed";
      status: number;
      code: "HTML5_APP_CONFIG_INVALID" | "HTML5_REPO_UNAVAILABLE" | "HTML5_REPO_REFUSED";
    };

/** SAP caches an app's xs-app.json (and "no such app") for 300 s. */
const APP_CONFIG: Lifetime = { freshMs: 300_000, usableMs: 600_000 };
const NOT_FOUND: Lifetime = { freshMs: 300_000, usableMs: 300_000 };
/** A broken descriptor is asked again soon (the app may be redeployed). */
const SHORT: Lifetime = { freshMs: 10_000, usableMs: 10_000 };
/** An outage where nothing is cached is answered from memory this long. */
const OUTAGE: Lifetime = { freshMs: 2_000, usableMs: 2_000 };
const CACHE_BUSTER_CONTROL = "public, max-age=31536000";
/** What an app's xs-app.json may say that only the central one decides here (logged once per load). */
const CENTRAL_ONLY = [
  "login",
  "logout",
  "errorPage",
  "cors",
  "responseHeaders",
  "websockets",
  "sessionTimeout",
  "destinations",
];

export function createHtml5Router(options: Html5Options): Html5Router {
  const { config, log, now } = options;
  const client = new Html5RepoClient(options.binding, { fetch: options.fetch, now });
  const cache = new RefreshingCache<Outcome>({ now, maxEntries: options.maxApps ?? 500 });
  const knownDestinations = config.destinationService ? undefined : new Set(config.destinations.keys());
  const own = options.binding.ownSapCloudServices;
  const direct = options.binding.directRoutingUriPatterns ?? [];
  const businessServices = options.binding.businessServices ?? new Map<string, BusinessService>();

  /** The business service an app key's prefix names (not the router's own), or undefined. */
  function businessServiceOf(key: AppKey): BusinessService | undefined {
    const prefix = key.appPrefix;
    return prefix === undefined || own.includes(prefix) ? undefined : businessServices.get(prefix);
  }

  async function load(key: AppKey, service: BusinessService | undefined): Promise<Loaded<Outcome>> {
    const app = key.appKeyWithoutPrefix;
    const answer = await client.xsApp(app, service?.appHostId);
    switch (answer.kind) {
      case "not-found":
        return { value: { kind: "not-found" }, keep: NOT_FOUND };
      case "no-xs-app":
        log("html5.app.invalid", { app, problems: ["the app in the repository has no xs-app.json"] });
        return { value: { kind: "failed", status: 502, code: "HTML5_APP_CONFIG_INVALID" }, keep: SHORT };
      case "refused":
        log("html5.repo.error", { app, reason: "refused", status: answer.status });
        return { value: { kind: "failed", status: 502, code: "HTML5_REPO_REFUSED" }, keep: SHORT };
      case "unavailable":
        logFailure(app, answer);
        return { value: failureOutcome(answer), keepIfNone: OUTAGE };
      case "found": {
        const parsed = parseAppXsApp(answer.text, `${app}/xs-app.json`);
        if (!parsed.ok) {
          log("html5.app.invalid", { app, problems: parsed.problems.map((p) => `${p.path}: ${p.message}`) });
          return { value: { kind: "failed", status: 502, code: "HTML5_APP_CONFIG_INVALID" }, keep: SHORT };
        }
        if (parsed.ignored.length > 0)
          log("html5.app.ignored.warn", {
            app,
            properties: parsed.ignored,
            reason: "only the central xs-app.json sets these",
          });
        const xsApp = service?.xsappname ? withXsAppName(parsed.value, service.xsappname) : parsed.value;
        return { value: { kind: "app", xsApp }, keep: APP_CONFIG };
      }
    }
  }

  /** The app's descriptor, checked like the central one plus what an app cannot use here. */
  function parseAppXsApp(
    text: string,
    prefix: string,
  ): { ok: true; value: XsAppConfig; ignored: string[] } | { ok: false; problems: ConfigProblem[] } {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return { ok: false, problems: [{ path: prefix, message: "is not valid JSON" }] };
    }
    const parsed = parseXsApp(json, prefix, knownDestinations, {
      html5Repo: true,
      destinationHostPattern: config.destinationHostPattern !== undefined,
    });
    if (!parsed.ok) return parsed;
    const problems: ConfigProblem[] = [];
    parsed.value.routes.forEach((route, i) => {
      // SAP: mixing local files with the repository is not supported.
      if (route.localDir !== undefined)
        problems.push({
          path: `${prefix}.routes[${i}].localDir`,
          message: "not supported in an app of the HTML5 application repository",
        });
      if (
        route.authenticationType !== "none" &&
        !config.identityProviders[LABEL_FOR[route.authenticationType]]
      ) {
        problems.push({
          path: `${prefix}.routes[${i}].authenticationType`,
          message: `needs a "${LABEL_FOR[route.authenticationType]}" service binding in VCAP_SERVICES`,
        });
      }
    });
    if (problems.length > 0) return { ok: false, problems };
    const ignored =
      typeof json === "object" && json !== null ? CENTRAL_ONLY.filter((name) => name in json) : [];
    return { ok: true, value: parsed.value, ignored };
  }

  function logFailure(app: string, failure: Failure): void {
    log("html5.repo.error", {
      app,
      reason: failure.reason,
      ...(failure.status !== undefined && { status: failure.status }),
    });
  }

  return {
    get calls() {
      return client.calls;
    },

    async select(request, waitUntil) {
      const url = new URL(request.url);
      const canonical = canonicalizePath(url.pathname);
      if (!canonical.ok) return { kind: "central" }; // refused by route decision
      const split = splitAppPath(canonical.path, own);
      if (split === null) return { kind: "central" };
      // DIRECT_ROUTING_URI_PATTERNS: central, without asking the repository (SAP).
      if (isDirectRouted(split.key.entireKey, direct)) return { kind: "central" };
      // A prefix that is neither the router's own nor a bound business service: central routing
      // (SAP: "Service Tag unknown").
      const service = businessServiceOf(split.key);
      if (split.key.appPrefix !== undefined && !own.includes(split.key.appPrefix) && service === undefined)
        return { kind: "central" };
      // A business service's apps are its own: the same name elsewhere is another app.
      const cacheKey = service
        ? `${service.appHostId}\u0000${split.key.appKeyWithoutPrefix}`
        : split.key.appKeyWithoutPrefix;
      const outcome = await cache.get(cacheKey, () => load(split.key, service), waitUntil);
      if (outcome.kind === "not-found") return { kind: "central", missingApp: split.key };
      if (outcome.kind === "failed")
        return { kind: "answer", response: errorPage(outcome.status, outcome.code) };
      const { xsApp } = outcome;
      let pathname = split.path;
      let search = url.search;
      const welcome = xsApp.welcomeFile;
      if (pathname === "/" && welcome !== undefined && welcome !== "/" && !welcome.startsWith("/?")) {
        // SAP: the welcome file of the app, under the app key; a CSRF token fetch gets it in place.
        if (request.headers.get("x-csrf-token")?.trim().toLowerCase() !== "fetch") {
          return {
            kind: "answer",
            response: new Response(null, {
              status: 302,
              headers: { location: `/${split.key.entireKey}${welcome}` },
            }),
          };
        }
        const at = welcome.indexOf("?");
        [pathname, search] = at === -1 ? [welcome, ""] : [welcome.slice(0, at), welcome.slice(at)];
      }
      return {
        kind: "app",
        key: split.key,
        routes: xsApp.routes,
        pathname,
        search,
        cacheBuster: split.cacheBuster !== undefined,
        fullPath: canonical.path,
      };
    },

    async serve(request, route, target, selection) {
      const method = request.method.toUpperCase();
      if (method !== "GET" && method !== "HEAD")
        return errorPage(405, "METHOD_NOT_ALLOWED", { allow: "GET, HEAD" });
      if (selection.kind === "central" && selection.missingApp) return errorPage(404, "HTML5_APP_NOT_FOUND");
      const app = selection.kind === "app" ? selection : undefined;
      const path = app ? `/${app.key.appKeyWithoutPrefix}${target}` : target;
      const answer = await client.file(path, request, app && businessServiceOf(app.key)?.appHostId);
      const name = app?.key.appKeyWithoutPrefix ?? "(central)";
      if (answer.kind !== "response") {
        logFailure(name, answer);
        const failed = failureOutcome(answer);
        return errorPage(failed.status, failed.code);
      }
      const { response } = answer;
      if (response.status >= 500 || response.status === 403 || response.status === 400) {
        await response.body?.cancel();
        log("html5.repo.error", { app: name, reason: "status", status: response.status });
        return response.status >= 500
          ? errorPage(503, "HTML5_REPO_UNAVAILABLE")
          : errorPage(502, "HTML5_REPO_REFUSED");
      }
      if (response.ok || response.status === 304) {
        // SAP sets the route's value first and copies the repository's headers over it.
        if (!response.headers.has("cache-control")) {
          if (route.cacheControl !== undefined) response.headers.set("cache-control", route.cacheControl);
          else if (app?.cacheBuster) response.headers.set("cache-control", CACHE_BUSTER_CONTROL);
        }
      }
      return response;
    },
  };
}

/** `$XSAPPNAME` in a business service app's scopes is that service's xsappname (SAP), not the router's. */
function withXsAppName(xsApp: XsAppConfig, xsappname: string): XsAppConfig {
  const replace = (scopes: string[] | undefined) => scopes?.map((s) => s.replaceAll("$XSAPPNAME", xsappname));
  return {
    ...xsApp,
    routes: xsApp.routes.map((route) =>
      route.scope === undefined
        ? route
        : {
            ...route,
            scope: Object.fromEntries(
              Object.entries(route.scope).map(([method, scopes]) => [method, replace(scopes)]),
            ),
          },
    ),
  };
}

function failureOutcome(failure: Failure): Outcome & { kind: "failed" } {
  return failure.reason === "unauthorized"
    ? { kind: "failed", status: 502, code: "HTML5_REPO_REFUSED" }
    : { kind: "failed", status: 503, code: "HTML5_REPO_UNAVAILABLE" };
}
