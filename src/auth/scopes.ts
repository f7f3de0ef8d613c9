/**
 * Route `scope` as SAP's router reads it: a string, a list (any one suffices), or an
 * object by HTTP method with `default`. `$XSAPPNAME` stands for the XSUAA app name.
 */
export type ScopeSpec = string | string[] | { [method: string]: string | string[] | undefined };

export function requiredScopes(spec: ScopeSpec | undefined, method: string, xsappname: string | undefined): string[] {
  if (spec === undefined) return [];
  let chosen: string | string[] | undefined;
  if (typeof spec === "string" || Array.isArray(spec)) chosen = spec;
  else chosen = spec[method.toUpperCase()] ?? spec.default;
  const list = chosen === undefined ? [] : Array.isArray(chosen) ? chosen : [chosen];
  return list.map((s) => (xsappname ? s.replaceAll("$XSAPPNAME", xsappname) : s));
}

export function hasAnyScope(granted: readonly string[], required: readonly string[]): boolean {
  return required.length === 0 || required.some((s) => granted.includes(s));
}
