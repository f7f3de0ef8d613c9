/**
 * Dynamic destinations, as SAP's router has them (lib/middleware/path-rewriter.js,
 * destination-token-handler.js): a route `destination` that starts with `$` is a template
 * filled from the route's `source` (`"$1"`: the first capturing group; like SAP, the match
 * in the path and query is replaced by the template), and `"*"` takes the name from the
 * request's host with `DESTINATION_HOST_PATTERN` (its first capturing group). The name is
 * then looked up like any other (src/destinations/index.ts): the `destinations` variable
 * first (SAP lets any of those be used dynamically), then the destination service, where
 * only destinations with `HTML5.DynamicDestination: true` may be reached this way.
 *
 * Beyond SAP: a name is checked before any lookup (letters, digits, `-`, `_`, `.`, at most
 * 200 characters, not only dots), so a request cannot steer the lookup URL; SAP passes
 * the raw text on. Pure: no I/O.
 */
import type { ConfigProblem } from "../config/types.js";
import { replaceFirst } from "../routing/match.js";

/** What a dynamic route needs from the request: the route's source and what it matched, and the host. */
export interface DynamicRequest {
  source: RegExp;
  /** The canonical path and query the route was matched on. */
  pathAndQuery: string;
  /** The router's host as the request names it (`URL.host`: with a port when not the default). */
  host: string;
}

export type DynamicName =
  | { ok: true; name: string }
  | { ok: false; code: "DESTINATION_HOST_UNMATCHED"; reason: "no-host-pattern" | "host-not-matched" }
  | { ok: false; code: "DYNAMIC_DESTINATION_REFUSED"; reason: "invalid-name" };

/** Destination service names and those of the variable that can be reached dynamically. */
const NAME = /^[A-Za-z0-9_.-]{1,200}$/;

/** SAP: `"*"` (from the host) or a name starting with `$` (from the source). */
export function isDynamicTemplate(destination: string): boolean {
  return destination === "*" || destination.startsWith("$");
}

/** The destination name a dynamic route's `template` gives for this request. */
export function dynamicDestinationName(
  template: string,
  request: DynamicRequest,
  hostPattern: RegExp | undefined,
): DynamicName {
  let name: string | null | undefined;
  if (template === "*") {
    if (hostPattern === undefined)
      return { ok: false, code: "DESTINATION_HOST_UNMATCHED", reason: "no-host-pattern" };
    name = hostPattern.exec(request.host)?.[1];
    if (!name) return { ok: false, code: "DESTINATION_HOST_UNMATCHED", reason: "host-not-matched" };
  } else {
    name = replaceFirst(request.pathAndQuery, request.source, template);
  }
  if (name === null || !NAME.test(name) || /^\.+$/.test(name))
    return { ok: false, code: "DYNAMIC_DESTINATION_REFUSED", reason: "invalid-name" };
  return { ok: true, name };
}

/** Capturing groups of a regular expression (that compiles). */
function groupCount(source: RegExp): number {
  return new RegExp(`(?:${source.source})|`).exec("")!.length - 1;
}

/**
 * A problem with a route's dynamic `destination`, or undefined: a `$` template must name a
 * group of `source` (`$1`…`$9`), a `*` needs `DESTINATION_HOST_PATTERN`; `$` or `*` elsewhere
 * in a name is refused (SAP accepts it at start-up and fails every request).
 */
export function dynamicTemplateProblem(
  destination: string,
  source: RegExp | undefined,
  hostPattern: boolean,
): string | undefined {
  if (destination === "*")
    return hostPattern
      ? undefined
      : '"*" takes the destination name from the host: set DESTINATION_HOST_PATTERN (a regular expression with a capturing group)';
  if (!destination.startsWith("$"))
    return /[$*]/.test(destination)
      ? 'a destination name must not contain "$" or "*" (a dynamic destination starts with "$", e.g. "$1", or is "*")'
      : undefined;
  const groups = [...destination.matchAll(/\$([1-9])/g)].map((m) => Number(m[1]));
  if (groups.length === 0) return 'a dynamic destination names a group of source: "$1" … "$9"';
  if (source !== undefined) {
    const count = groupCount(source);
    const missing = groups.find((g) => g > count);
    if (missing !== undefined)
      return `names group ${missing}, but source has ${count === 0 ? "none" : `only ${count}`}`;
  }
  return undefined;
}

/**
 * `DESTINATION_HOST_PATTERN` (SAP): a regular expression over the request's host whose first
 * capturing group is the destination name of `"*"` routes.
 */
export function parseDestinationHostPattern(value: unknown): {
  pattern?: RegExp;
  problems: ConfigProblem[];
} {
  if (value === undefined || value === "") return { problems: [] };
  const path = "DESTINATION_HOST_PATTERN";
  if (typeof value !== "string")
    return { problems: [{ path, message: "must be a regular expression (a string)" }] };
  let pattern: RegExp;
  try {
    pattern = new RegExp(value);
  } catch {
    return { problems: [{ path, message: "invalid regular expression" }] };
  }
  if (groupCount(pattern) < 1)
    return { problems: [{ path, message: "must have a capturing group (the destination name)" }] };
  return { pattern, problems: [] };
}
