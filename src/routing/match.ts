import type { RouteConfig } from "../config/types.js";

/**
 * Route matching and target rewriting, as the SAP application router does it:
 * routes are tried in order and the first whose `source` matches the path plus query
 * (`/api/x?y=1`) and accepts the method wins.
 *
 * Pure: no Hono, no I/O. The caller passes the raw (still percent-encoded) path and query
 * of the request URL, e.g. `url.pathname + url.search`.
 */
export type RouteMatch =
  | {
      kind: "route";
      route: RouteConfig;
      index: number;
      /** Path and query to send upstream; starts with `/`, never contains control characters. */
      target: string;
    }
  /** Some route matched the path but none accepted the method: answer 405 with `Allow`. */
  | { kind: "method-not-allowed"; allow: string[] }
  /** The first matching route rewrote the URL into something unsafe to send: answer 400. */
  | { kind: "invalid-target"; route: RouteConfig; index: number }
  | { kind: "none" };

const NO_ROUTE: RouteMatch = Object.freeze({ kind: "none" });

export function matchRoute(routes: readonly RouteConfig[], pathAndQuery: string, method: string): RouteMatch {
  // Methods are compared upper-case: `fetch` only normalises the standard methods
  // (`patch` stays lower-case), while the configuration holds upper-case names.
  const wanted = method.toUpperCase();
  let allow: string[] | undefined; // only when a route refuses the method

  for (let index = 0; index < routes.length; index++) {
    const route = routes[index]!;
    const match = execOnce(route.source, pathAndQuery);
    if (match === null) continue;

    if (route.httpMethods !== undefined && !route.httpMethods.includes(wanted)) {
      // SAP: a route that excludes the method is skipped; later routes may still take it.
      // No implicit HEAD for GET: only what the route lists.
      allow ??= [];
      for (const m of route.httpMethods) if (!allow.includes(m)) allow.push(m);
      continue;
    }

    const rewritten = route.target === undefined ? pathAndQuery : rewrite(pathAndQuery, match, route.target);
    // SAP joins the target to the destination URL with a "/": `"target": "$1"` is common.
    const target = rewritten.startsWith("/") ? rewritten : `/${rewritten}`;
    if (!isSafeTarget(target)) return { kind: "invalid-target", route, index };
    return { kind: "route", route, index, target };
  }

  return allow ? { kind: "method-not-allowed", allow: allow.sort() } : NO_ROUTE;
}

/** One match, independent of `lastIndex` even if the configured RegExp carries `g` or `y`. */
function execOnce(source: RegExp, input: string): RegExpExecArray | null {
  source.lastIndex = 0;
  const match = source.exec(input);
  source.lastIndex = 0;
  return match;
}

/**
 * `input.replace(source, template)` with the router's substitution rules (below), or null
 * when `source` does not match: SAP derives a dynamic destination's name this way too.
 */
export function replaceFirst(input: string, source: RegExp, template: string): string | null {
  const match = execOnce(source, input);
  return match === null ? null : rewrite(input, match, template);
}

/**
 * `pathAndQuery.replace(source, target)` for the first match, with one difference in
 * the substitutions: only `$1`…`$9` are special (one digit each; `$10` is `$1` then `0`);
 * a group that did not participate or does not exist becomes the empty string. `$&`, `$$`,
 * `` $` ``, `$'` and `$<name>` are copied literally.
 *
 * Exactly as SAP's router (`url.replace(source, target)`): what the match did not cover
 * stays, query included; a match that took the query in and a target that does not give it
 * back drops it (`^/app/(.*)$` → `/index.html`: `/app/a?b=1` → `/index.html`).
 */
function rewrite(pathAndQuery: string, match: RegExpExecArray, template: string): string {
  const start = match.index;
  const end = start + match[0].length;
  const parts = templateParts(template);
  let replaced = parts[0]!;
  for (let i = 1; i < parts.length; i += 2) replaced += (match[Number(parts[i])] ?? "") + parts[i + 1]!;
  return pathAndQuery.slice(0, start) + replaced + pathAndQuery.slice(end);
}

/** Templates come from the configuration: each is split once per isolate, not per request. */
const TEMPLATES = new Map<string, readonly string[]>();

/** `template` split at its `$1`…`$9`: literal, digit, literal, …, literal. */
function templateParts(template: string): readonly string[] {
  let parts = TEMPLATES.get(template);
  if (parts === undefined) {
    parts = template.split(/\$([1-9])/);
    TEMPLATES.set(template, parts);
  }
  return parts;
}

/** A `.` or `..` segment, literal or `%2e`, between `/`, `\\`, `%2F`, `%5C` or the ends. */
const DOT_SEGMENT = /(?:^|[/\\]|%2f|%5c)(?:\.|%2e){1,2}(?=$|[/\\]|%2f|%5c)/i;

/**
 * The rewritten target is concatenated to the destination URL and ends up in the request
 * line, so it must start with `/`, must not contain control characters (CR/LF would allow
 * header or request-line injection; tabs and newlines are silently dropped by URL parsers),
 * no `#` (a fragment is never sent; it would silently cut off the path or query), no
 * percent-encoded control characters in the path, and no `.`/`..` path segments (literal
 * or `%2e`-encoded, with `/`, `\`, `%2F` or `%5C` as separator), which URL parsers or
 * backends resolve and which would escape the destination's base path.
 */
export function isSafeTarget(target: string): boolean {
  if (!target.startsWith("/")) return false;
  if (/[\u0000-\u001f\u007f#]/.test(target)) return false;
  const queryAt = target.indexOf("?");
  const path = queryAt === -1 ? target : target.slice(0, queryAt);
  // Encoded control characters have no business in a path, and a backend that decodes
  // them may log or split on them (an encoded CR/LF in the query is ordinary form data).
  if (/%(?:[01][0-9a-f]|7f)/i.test(path)) return false;
  // A backend that decodes %2F or %5C before resolving dot segments would leave the base path.
  return !DOT_SEGMENT.test(path);
}
