import type { RouteScope } from "../config/types.js";

/**
 * Whether granted scopes satisfy a route's `scope` for this method, as SAP's router
 * decides: any one listed scope suffices; a method the route lists no scopes for (and no
 * `default`) is refused; `$XSAPPNAME` stands for the XSUAA app name.
 */
export function scopeAllows(
  scope: RouteScope | undefined,
  method: string,
  granted: readonly string[],
  xsappname: string | undefined,
): boolean {
  const needed = scopesFor(scope, method);
  if (needed === undefined) return true;
  if (needed === null) return false;
  if (needed.length === 0) return true;
  return needed.some((s) => granted.includes(xsappname ? s.replaceAll("$XSAPPNAME", xsappname) : s));
}

/**
 * The scopes a request with `method` needs on a route: undefined when the route has no
 * `scope` (authentication suffices), the list (any one suffices), or null when SAP refuses
 * the method outright (an object `scope` with neither the method nor `default`).
 */
export function scopesFor(scope: RouteScope | undefined, method: string): string[] | null | undefined {
  if (scope === undefined) return undefined;
  return scope[method.toUpperCase() as keyof RouteScope] ?? scope.default ?? null;
}
