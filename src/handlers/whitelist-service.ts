/**
 * SAP's informational endpoints configured in xs-app.json (lib/middleware/
 * whitelist-service-middleware.js, plugin-middleware.js, lib/bootstrap.js):
 *
 * - `whitelistService.endpoint`: the clickjacking allow-list service UI5 asks whether the
 *   page that frames the app may do so. `GET <endpoint>?parentOrigin=<origin>` answers
 *   `{ version: "1.0", active: true, origin, framing }` with `framing` true when the origin
 *   is on `CJ_PROTECT_WHITELIST`; without that variable `{ version: "1.0", active: false,
 *   framing: true }`; without exactly one `parentOrigin`, `origin: "null"`, `framing: false`.
 * - `pluginMetadataEndpoint`: `GET` answers the `plugins` variable's routes as JSON
 *   (`source` as the regular expression's source, two-space indented, as SAP prints them).
 *
 * As in SAP: only GET is answered (other methods go on to the routes); the endpoint is a
 * path prefix (connect's `app.use`: case-insensitive, followed by nothing, `/` or `.`);
 * both run after login and authorization, so a route whose `source` matches the endpoint
 * and requires authentication requires it here too. Origins are compared as the CORS
 * allow-lists are (src/http/cors.ts `originAllowed`).
 */
import type { MiddlewareHandler } from "hono";
import type { Authenticator } from "../auth/types.js";
import type { OriginRule, RouteConfig } from "../config/types.js";
import type { SessionEnv } from "../session/middleware.js";
import { originAllowed } from "../http/cors.js";
import { guardLikeRoute } from "./route-guard.js";

/**
 * connect's mount test: `path` is `endpoint` or below it (`/`, `.`), case-insensitive; a
 * trailing `/` of the endpoint ignored.
 */
export function underEndpoint(endpoint: string, path: string): boolean {
  const base = endpoint.replace(/\/+$/, "").toLowerCase();
  if (base === "") return true;
  if (!path.toLowerCase().startsWith(base)) return false;
  const next = path[base.length];
  return next === undefined || next === "/" || next === ".";
}

/** The whitelist service's answer (pure). `parentOrigins`: every `parentOrigin` query value. */
export function whitelistAnswer(
  whitelist: readonly OriginRule[] | undefined,
  parentOrigins: readonly string[],
): Record<string, unknown> {
  if (whitelist === undefined) return { version: "1.0", active: false, framing: true };
  // SAP (querystring.parse): a repeated parameter is an array, not an origin.
  if (parentOrigins.length !== 1) return { version: "1.0", active: true, origin: "null", framing: false };
  const origin = parentOrigins[0]!;
  return { version: "1.0", active: true, origin, framing: originAllowed(whitelist, origin) };
}

/** The plugin metadata SAP prints: the routes as configured, `source` as its regular expression source. */
export function pluginMetadata(plugins: readonly Record<string, unknown>[]): string {
  return JSON.stringify(
    plugins.map((p) => ({
      ...p,
      source:
        typeof p.source === "object" && p.source !== null
          ? new RegExp(
              String((p.source as { path?: unknown }).path),
              (p.source as { matchCase?: unknown }).matchCase === false ? "i" : "",
            ).source
          : new RegExp(String(p.source)).source,
    })),
    null,
    2,
  );
}

export interface InfoEndpointOptions {
  whitelistService?: { endpoint: string };
  /** CJ_PROTECT_WHITELIST; undefined when unset. */
  whitelist?: readonly OriginRule[];
  pluginMetadataEndpoint?: string;
  /** The `plugins` variable as configured (JSON), for the metadata endpoint. */
  plugins?: readonly Record<string, unknown>[];
  routes: readonly RouteConfig[];
  authenticate: Authenticator;
}

/** Hono middleware answering both endpoints; null when neither is configured. */
export function infoEndpoints(options: InfoEndpointOptions): MiddlewareHandler<SessionEnv> | null {
  const { whitelistService, pluginMetadataEndpoint } = options;
  if (!whitelistService && pluginMetadataEndpoint === undefined) return null;
  return async (c, next) => {
    if (c.req.method !== "GET") return next();
    const url = new URL(c.req.url);
    // SAP mounts the plugin endpoint first.
    const which =
      pluginMetadataEndpoint !== undefined && underEndpoint(pluginMetadataEndpoint, url.pathname)
        ? "plugins"
        : whitelistService && underEndpoint(whitelistService.endpoint, url.pathname)
          ? "whitelist"
          : null;
    if (which === null) return next();
    const denied = await guardLikeRoute(c, options.routes, options.authenticate);
    if (denied) return denied;
    const body =
      which === "plugins"
        ? pluginMetadata(options.plugins ?? [])
        : JSON.stringify(whitelistAnswer(options.whitelist, url.searchParams.getAll("parentOrigin")));
    return new Response(body, {
      status: 200,
      headers: { "content-type": "application/json; charset=utf-8" },
    });
  };
}

/** The named properties of `from` that are set (for exactOptionalPropertyTypes). */
export function pick<T extends object, K extends keyof T>(from: T, ...keys: K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const key of keys) if (from[key] !== undefined) out[key] = from[key];
  return out;
}
