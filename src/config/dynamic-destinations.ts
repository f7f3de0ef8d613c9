/**
 * Start-up checks of dynamic destinations (SAP's router): a route `destination` that is a
 * template (`"$1"` from the route's `source`, `"*"` from the host through
 * `DESTINATION_HOST_PATTERN`). Resolved per request in src/destinations/dynamic.ts.
 */
import type { ConfigProblem } from "./types.js";

/** SAP: `"*"` (from the host) or a name starting with `$` (from the source). */
export function isDynamicTemplate(destination: string): boolean {
  return destination === "*" || destination.startsWith("$");
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
      : '"*" takes the destination name from the host: set DESTINATION_HOST_PATTERN ' +
          "(a regular expression with a capturing group)";
  if (!destination.startsWith("$"))
    return /[$*]/.test(destination)
      ? 'a destination name must not contain "$" or "*" ' +
          '(a dynamic destination starts with "$", e.g. "$1", or is "*")'
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
