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
 * the raw text on. Pure: no I/O. The templates themselves are checked at start-up
 * (src/config/dynamic-destinations.ts).
 */
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
