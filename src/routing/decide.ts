import type { RouteConfig } from "../config/types.js";
import { canonicalizePath, type PathRefusal } from "./canonical-path.js";
import { matchRoute, type RouteMatch } from "./match.js";

/**
 * The route decision for a request: the path is canonicalized once (canonical-path.ts),
 * routes are matched on the canonical path plus the original query (SAP matches both),
 * and the target built from it is what is forwarded, so the decision and the backend
 * read the same path.
 *
 * A path with `;` parameters is kept as it is (SAP Gateway needs `;v=2`, `;o=ALIAS`),
 * but only when a backend that strips them (Tomcat, Spring, Jetty) would be routed the
 * same way: `/api/admin;x/users` is `/api/admin/users` to Tomcat, so when that path would
 * take another route the request is refused.
 */
export type RouteDecision =
  | (RouteMatch & { path: string })
  | { kind: "refused"; reason: PathRefusal | "ambiguous-path-parameters" };

export function decideRoute(
  routes: readonly RouteConfig[],
  pathname: string,
  search: string,
  method: string,
): RouteDecision {
  const canonical = canonicalizePath(pathname);
  if (!canonical.ok) return { kind: "refused", reason: canonical.reason };
  const match = matchRoute(routes, canonical.path + search, method);
  if (
    canonical.withoutParams !== undefined &&
    !sameDecision(match, matchRoute(routes, canonical.withoutParams + search, method))
  ) {
    return { kind: "refused", reason: "ambiguous-path-parameters" };
  }
  return { ...match, path: canonical.path };
}

function sameDecision(a: RouteMatch, b: RouteMatch): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind === "route" || a.kind === "invalid-target") return a.index === (b as typeof a).index;
  if (a.kind === "method-not-allowed") return a.allow.join() === (b as typeof a).allow.join();
  return true;
}
