/**
 * CORS with SAP's semantics (lib/middleware/cors-middleware.js, README "Cross-Origin
 * Resource Sharing configuration"):
 * - Only a request with an `Origin` other than the router's own origin is concerned.
 * - The first rule whose `uriPattern` matches path + query (and `hostPattern`, when set,
 *   the host name or host name:port) applies; xs-app.json rules come before the `CORS`
 *   variable's (`effectiveCorsRules`). No rule: not the router's business.
 * - Preflight (OPTIONS with Access-Control-Request-Method): 403 when the origin, the
 *   method or one of the requested headers is not allowed; else answered by the router.
 * - Actual request: 403 when the origin or the method is not allowed; else the response
 *   gets Access-Control-Allow-Origin (`*` only for a `{ host: "*" }` rule without
 *   credentials, else the origin), -Allow-Credentials, -Expose-Headers.
 * Differences: the preflight answer is 204 (SAP: 200); `Vary: Origin` is sent whenever
 * the answer depends on the origin (SAP omits it, letting caches mix origins); an
 * unusable `Origin` (`null`, with a path or `%`) is refused only where a rule applies
 * (SAP refuses it on every route).
 *
 * Pure: no Hono; rules come validated from the configuration.
 */
import type { CorsRule, OriginRule } from "../config/types.js";
import { errorPage, type ErrorCode } from "./pages.js";

/** SAP's order: xs-app.json `cors` first, then the `CORS` variable. */
export function effectiveCorsRules(
  xsAppCors: readonly CorsRule[],
  envCors: readonly CorsRule[],
): readonly CorsRule[] {
  return [...xsAppCors, ...envCors];
}

export type CorsDecision =
  /** Not a cross-origin request, or no rule applies: add nothing. */
  | { kind: "none" }
  /** Send this 403 instead of handling the request. */
  | { kind: "reject"; response: Response }
  /** Handle the request, then add these headers to its response (`mergeCorsHeaders`). */
  | { kind: "allow"; headers: Headers };

/**
 * The router's answer to a CORS preflight that a rule applies to (204 with the
 * Access-Control-* headers, or 403); null for anything else, which goes on as usual.
 */
export function corsPreflight(request: Request, rules: readonly CorsRule[]): Response | null {
  const requestedMethod = request.headers.get("access-control-request-method");
  if (request.method.toUpperCase() !== "OPTIONS" || requestedMethod === null) return null;
  const found = applicableRule(request, rules);
  if (found === null) return null;
  const { rule, origin } = found;
  if (origin === null) return forbidden("CORS_INVALID_ORIGIN");
  if (!originAllowed(rule.allowedOrigin, origin)) return forbidden("CORS_ORIGIN_NOT_ALLOWED");
  if (!includesIgnoreCase(rule.allowedMethods, requestedMethod.trim()))
    return forbidden("CORS_METHOD_NOT_ALLOWED");
  const requestedHeaders = (request.headers.get("access-control-request-headers") ?? "")
    .split(",")
    .map((h) => h.trim())
    .filter((h) => h !== "");
  if (!requestedHeaders.every((h) => includesIgnoreCase(rule.allowedHeaders, h)))
    return forbidden("CORS_HEADERS_NOT_ALLOWED");

  const headers = allowOriginHeaders(rule, origin);
  headers.set("access-control-allow-methods", requestedMethod.trim());
  headers.set("access-control-allow-headers", rule.allowedHeaders.join(", "));
  if (rule.maxAge > 0) headers.set("access-control-max-age", String(rule.maxAge));
  return new Response(null, { status: 204, headers });
}

/** For a request that is not a preflight: whether to refuse it, and the headers its response gets. */
export function corsHeaders(request: Request, rules: readonly CorsRule[]): CorsDecision {
  const found = applicableRule(request, rules);
  if (found === null) return { kind: "none" };
  const { rule, origin } = found;
  if (origin === null) return { kind: "reject", response: forbidden("CORS_INVALID_ORIGIN") };
  if (!originAllowed(rule.allowedOrigin, origin))
    return { kind: "reject", response: forbidden("CORS_ORIGIN_NOT_ALLOWED") };
  if (!includesIgnoreCase(rule.allowedMethods, request.method))
    return { kind: "reject", response: forbidden("CORS_METHOD_NOT_ALLOWED") };
  const headers = allowOriginHeaders(rule, origin);
  if (rule.exposeHeaders.length > 0)
    headers.set("access-control-expose-headers", rule.exposeHeaders.join(", "));
  return { kind: "allow", headers };
}

/**
 * Puts the CORS headers on a (mutable) response's headers: Access-Control-* replace what
 * the backend sent (the router's rule is authoritative), `Vary` is appended to.
 */
export function mergeCorsHeaders(target: Headers, cors: Headers): void {
  for (const [name, value] of cors) {
    if (name === "vary") {
      const current = target.get("vary");
      const has = current
        ?.split(",")
        .some((v) => v.trim() === "*" || v.trim().toLowerCase() === value.toLowerCase());
      if (!has) target.set("vary", current ? `${current}, ${value}` : value);
    } else {
      target.set(name, value);
    }
  }
}

/**
 * SAP's allow-list test (lib/utils/whitelist-utils.js) on an Origin's scheme, host and
 * port: `protocol` and `port`, when given, must equal the origin's (its port defaults to
 * 80/443 for http/https); `host` `*` matches any host, `*.example.com` any subdomain
 * (not example.com itself), anything else the host exactly, case-insensitive.
 */
export function originAllowed(allowed: readonly OriginRule[], origin: string): boolean {
  const parsed = parseOrigin(origin);
  if (parsed === null) return false;
  return allowed.some((rule) => {
    if (rule.protocol !== undefined && rule.protocol !== parsed.protocol) return false;
    if (rule.port !== undefined && rule.port !== parsed.port) return false;
    if (rule.host === "*") return true;
    if (rule.host.startsWith("*.")) {
      const suffix = rule.host.slice(1);
      return parsed.hostname.length > suffix.length && parsed.hostname.endsWith(suffix);
    }
    return parsed.hostname === rule.host;
  });
}

interface ParsedOrigin {
  protocol: string;
  hostname: string;
  /** Explicit, or the scheme's default for http/https; undefined otherwise. */
  port: number | undefined;
}

const DEFAULT_PORTS: Record<string, number> = { http: 80, https: 443 };

/** `scheme://host[:port]` and nothing more (SAP refuses origins containing `%`); else null. */
function parseOrigin(origin: string): ParsedOrigin | null {
  if (!/^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#@%\\\s]+$/.test(origin)) return null;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return null;
  }
  if (url.hostname === "") return null;
  const protocol = url.protocol.slice(0, -1);
  return {
    protocol,
    hostname: url.hostname,
    port: url.port === "" ? DEFAULT_PORTS[protocol] : Number(url.port),
  };
}

/** The rule for a cross-origin request and its (parsed-or-null) origin; null when not concerned. */
function applicableRule(
  request: Request,
  rules: readonly CorsRule[],
): { rule: CorsRule; origin: string | null } | null {
  const origin = request.headers.get("origin");
  if (origin === null) return null;
  const url = new URL(request.url);
  if (origin.toLowerCase() === url.origin.toLowerCase()) return null; // same origin: not CORS
  const pathAndQuery = url.pathname + url.search;
  const hosts = [
    url.hostname,
    `${url.hostname}:${url.port === "" ? (DEFAULT_PORTS[url.protocol.slice(0, -1)] ?? "") : url.port}`,
  ];
  const rule = rules.find(
    (r) =>
      test(r.uriPattern, pathAndQuery) &&
      (r.hostPattern === undefined || hosts.some((h) => test(r.hostPattern!, h))),
  );
  if (rule === undefined) return null;
  return { rule, origin: parseOrigin(origin) === null ? null : origin };
}

/** One test, independent of `lastIndex` (a configured `g`/`y` flag cannot make it flaky). */
function test(pattern: RegExp, input: string): boolean {
  pattern.lastIndex = 0;
  const result = pattern.test(input);
  pattern.lastIndex = 0;
  return result;
}

function allowOriginHeaders(rule: CorsRule, origin: string): Headers {
  const headers = new Headers();
  const anyOrigin = rule.allowedOrigin.some(
    (o) => o.host === "*" && o.protocol === undefined && o.port === undefined,
  );
  if (anyOrigin && !rule.allowedCredentials) {
    headers.set("access-control-allow-origin", "*");
  } else {
    headers.set("access-control-allow-origin", origin);
    headers.set("vary", "Origin");
  }
  if (rule.allowedCredentials) headers.set("access-control-allow-credentials", "true");
  return headers;
}

function includesIgnoreCase(list: readonly string[], value: string): boolean {
  const wanted = value.toLowerCase();
  return list.some((item) => item.toLowerCase() === wanted);
}

function forbidden(code: ErrorCode): Response {
  return errorPage(403, code);
}
