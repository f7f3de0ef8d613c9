/**
 * What a destination from the destination service adds to the upstream request: its
 * headers (authentication and `sap-client` replace the client's; `URL.headers.*` only where
 * the client sent none, as SAP's router does) and its `URL.queries.*` (only where the
 * request has no such parameter). Nothing to do for destinations of the variable.
 */
import type { Destination } from "../config/types.js";

export function applyDestinationHeaders(
  headers: Headers,
  incoming: Headers,
  destination: Destination,
  /** A header of the incoming request that counts as not sent (the router's own, dropped). */
  dropped?: string,
): void {
  for (const { name, value } of destination.defaultHeaders ?? [])
    if (!incoming.has(name) || (dropped !== undefined && name.toLowerCase() === dropped))
      headers.set(name, value);
  for (const { name, value } of destination.headers ?? []) headers.set(name, value);
}

/** `url` (destination URL + target) with the destination's query parameters the request lacks appended. */
export function withDestinationQueries(url: string, destination: Destination): string {
  const queries = destination.queries;
  if (queries === undefined || queries.length === 0) return url;
  const mark = url.indexOf("?");
  const present = new URLSearchParams(mark === -1 ? "" : url.slice(mark + 1));
  let result = url;
  for (const { name, value } of queries) {
    if (present.has(name)) continue;
    result += `${result.includes("?") ? "&" : "?"}${encodeURIComponent(name)}=${encodeURIComponent(value)}`;
  }
  return result;
}
