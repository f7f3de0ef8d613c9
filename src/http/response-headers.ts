/**
 * Headers the router adds to every response, as SAP's router does
 * (lib/middleware/additional-headers-middleware.js):
 * 1. `X-Frame-Options: SAMEORIGIN`, unless SEND_XFRAMEOPTIONS is false or an
 *    X-Frame-Options is configured below;
 * 2. the `httpHeaders` variable, in order;
 * 3. xs-app.json `responseHeaders`: an entry replaces the `httpHeaders` entries of the
 *    same name (case-insensitive), others are appended.
 * A header the response already carries (from the backend or the static assets) is left
 * as it is: SAP sets these before the backend's headers, which then win (with
 * MERGE_CSP_HEADERS a backend's Content-Security-Policy is sent with the configured one:
 * `appendMergedCsp`, on the proxy path only, as in SAP). Several configured entries of one
 * name are all sent (appended).
 *
 * Pure: no Hono. The plan is computed and checked once (`planResponseHeaders`), then
 * applied per response.
 */
import type { HeaderEntry } from "../config/types.js";
import { HOP_BY_HOP_HEADERS } from "./hop-by-hop.js";

/**
 * Headers configuration must never set: cookies (SAP rejects `set-cookie` and `cookie`;
 * a configured Set-Cookie could overwrite the session cookie), framing and connection
 * headers the runtime owns (RFC 9110 §7.6.1 hop-by-hop, plus Host and Content-Length).
 */
export const UNCONFIGURABLE_HEADERS: ReadonlySet<string> = new Set([
  "set-cookie",
  "cookie",
  "host",
  "content-length",
  ...HOP_BY_HOP_HEADERS,
]);

export interface ResponseHeaderOptions {
  /** SEND_XFRAMEOPTIONS. */
  sendXFrameOptions: boolean;
  /** The `httpHeaders` variable. */
  httpHeaders: readonly HeaderEntry[];
  /** xs-app.json `responseHeaders`. */
  responseHeaders: readonly HeaderEntry[];
}

/** The headers to add, in order; built by `planResponseHeaders`. */
export interface ResponseHeaderPlan {
  readonly entries: readonly Readonly<HeaderEntry>[];
  /** The entries by lower-cased name (first appearance first), so a response needs no lower-casing. */
  readonly byName: readonly { readonly name: string; readonly entries: readonly Readonly<HeaderEntry>[] }[];
}

/**
 * Merges the configuration once. Throws a TypeError for a header configuration must not
 * set or an invalid name/value: the configuration schemas reject those, so it is a bug.
 */
export function planResponseHeaders(options: ResponseHeaderOptions): ResponseHeaderPlan {
  const fromXsApp = new Set(options.responseHeaders.map((h) => h.name.toLowerCase()));
  const entries = [
    ...options.httpHeaders.filter((h) => !fromXsApp.has(h.name.toLowerCase())),
    ...options.responseHeaders,
  ];
  const probe = new Headers();
  for (const { name, value } of entries) {
    if (UNCONFIGURABLE_HEADERS.has(name.toLowerCase()))
      throw new TypeError("planResponseHeaders: header cannot be configured");
    probe.append(name, value); // throws for an invalid name or value
  }
  const hasFrameOptions = entries.some((h) => h.name.toLowerCase() === "x-frame-options");
  if (options.sendXFrameOptions && !hasFrameOptions)
    entries.unshift({ name: "X-Frame-Options", value: "SAMEORIGIN" });
  const frozen = entries.map((h) => Object.freeze({ ...h }));
  const byName = new Map<string, Readonly<HeaderEntry>[]>();
  for (const entry of frozen) {
    const name = entry.name.toLowerCase();
    byName.set(name, [...(byName.get(name) ?? []), entry]);
  }
  return { entries: frozen, byName: [...byName].map(([name, entries]) => ({ name, entries })) };
}

/** Adds the planned headers to `headers` (which must be mutable), leaving the ones already present alone. */
export function applyResponseHeaders(headers: Headers, plan: ResponseHeaderPlan): void {
  // Headers iterate sorted by name, so appending name by name sends what appending in plan order would.
  for (const { name, entries } of plan.byName) {
    if (headers.has(name)) continue;
    for (const entry of entries) headers.append(entry.name, entry.value);
  }
}

const CSP = "content-security-policy";

/**
 * MERGE_CSP_HEADERS: the configured Content-Security-Policy values (`httpHeaders`, or
 * `responseHeaders` where it names one) that a backend's own policy is sent with.
 */
export function configuredCsp(plan: ResponseHeaderPlan): readonly string[] {
  return plan.byName.find((h) => h.name === CSP)?.entries.map((e) => e.value) ?? [];
}

/**
 * Adds `values` to a backend response's own Content-Security-Policy (SAP sends both;
 * browsers enforce each). A response without one gets the configured policy from
 * `applyResponseHeaders` like any other. `headers` must be mutable.
 */
export function appendMergedCsp(headers: Headers, values: readonly string[]): void {
  if (!headers.has(CSP)) return;
  for (const value of values) headers.append(CSP, value);
}
