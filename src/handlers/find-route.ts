/**
 * The first step of serving a request: which routes apply (an app of the HTML5 repository
 * named by the first path segment brings its own, else xs-app.json's), the welcome file
 * for `/`, then the route decision on the canonical path (src/routing/decide.ts).
 */
import type { Context } from "hono";
import type { RouteConfig, XsAppConfig } from "../config/types.js";
import type { AppSelection, Html5Router } from "../html5/index.js";
import { errorPage } from "../http/pages.js";
import { waitUntilOf } from "../http/wait-until.js";
import type { Logger } from "../log.js";
import { decideRoute } from "../routing/decide.js";
import type { SessionEnv } from "../session/middleware.js";
import { welcomeRedirect } from "../static/local-dir.js";

export interface FoundRoute {
  kind: "route";
  route: RouteConfig;
  /** Path and query for the route's target (from route matching). */
  target: string;
  /**
   * The path the route was decided on, forwarded: the canonical one, the welcome file's (SAP) or the app's.
   */
  forwardedPath: string;
  /** Path and query the route's `source` matched: a dynamic destination ("$1") takes its name from it. */
  matchedPathAndQuery: string;
  /** The HTML5 repository's choice, which its routes are served with. */
  selection: AppSelection;
  /** The request's URL, parsed once here for the steps after. */
  url: URL;
}

/** Without the HTML5 repository every request routes with xs-app.json (one object for all). */
const CENTRAL: AppSelection = Object.freeze({ kind: "central" });

export type RouteFinding = FoundRoute | { kind: "answer"; response: Response };

/**
 * The route, or the answer instead (a redirect, a repository failure, no route: 400, 404,
 * 405). Asks the HTML5 repository only when it is bound; without it nothing is awaited.
 */
export function findRoute(
  c: Context<SessionEnv>,
  options: { xsApp: XsAppConfig; html5?: Html5Router | undefined; log?: Logger | undefined },
): RouteFinding | Promise<RouteFinding> {
  const { html5 } = options;
  if (!html5) return routeFor(c, CENTRAL, options);
  return html5.select(c.req.raw, waitUntilOf(c)).then((selection) => routeFor(c, selection, options));
}

function routeFor(
  c: Context<SessionEnv>,
  selection: AppSelection,
  options: { xsApp: XsAppConfig; log?: Logger | undefined },
): RouteFinding {
  const { xsApp, log } = options;
  if (selection.kind === "answer") return selection;
  const url = new URL(c.req.url);
  const app = selection.kind === "app" ? selection : undefined;
  let pathname = url.pathname;
  let search: string;
  const welcome = !app && pathname === "/" ? welcomeRedirect(c.req.raw, xsApp.welcomeFile) : null;
  if (welcome?.kind === "redirect") return { kind: "answer", response: welcome.response };
  if (app) {
    pathname = app.pathname;
    search = app.search;
  } else if (welcome?.kind === "rewrite") {
    const at = welcome.pathAndQuery.indexOf("?");
    pathname = at === -1 ? welcome.pathAndQuery : welcome.pathAndQuery.slice(0, at);
    search = at === -1 ? "" : welcome.pathAndQuery.slice(at);
  } else {
    search = url.search;
  }

  // Decided on the canonical path, which is also what is forwarded (src/routing/decide.ts).
  const match = decideRoute(app?.routes ?? xsApp.routes, pathname, search, c.req.method);
  switch (match.kind) {
    case "route":
      return {
        kind: "route",
        route: match.route,
        target: match.target,
        forwardedPath: app?.fullPath ?? match.path,
        matchedPathAndQuery: match.path + search,
        selection,
        url,
      };
    case "refused":
      log?.("route.path_refused.warn", { reason: match.reason });
      return { kind: "answer", response: errorPage(400, "PATH_REFUSED") };
    case "none":
      return { kind: "answer", response: errorPage(404, "ROUTE_NOT_FOUND") };
    case "method-not-allowed":
      return {
        kind: "answer",
        response: errorPage(405, "METHOD_NOT_ALLOWED", { allow: match.allow.join(", ") }),
      };
    case "invalid-target":
      return { kind: "answer", response: errorPage(400, "INVALID_TARGET") };
  }
}
