/**
 * `localDir` routes and `welcomeFile`, served from Workers static assets (the `ASSETS`
 * binding) instead of SAP's working directory. The assets directory plays the role of
 * SAP's working directory: a route `{ "localDir": "resources" }` serves `/resources/…`
 * of the assets. For authentication to apply, the Worker must run before the assets
 * (wrangler `[assets] run_worker_first = true`), or the files are public.
 *
 * SAP (README "Routes", lib/middleware/static-resource-handler.js, welcome-page-middleware.js):
 * - GET and HEAD only; any other method gets 405 with `Allow: GET, HEAD`.
 * - The path after rewriting (`target`, `$1`) is looked up inside the folder; without a
 *   target, the whole request path.
 * - `cacheControl` sets `Cache-Control` on what is served.
 * - `/` (with any query) is redirected (302) to `welcomeFile`; a request with
 *   `x-csrf-token: fetch` gets the welcome content itself instead (the token comes with it).
 * Beyond SAP: a path that could leave the folder (`..`/`.` segments, also percent-encoded;
 * backslashes; encoded slashes; control characters) is refused with 400 before anything
 * is fetched; a welcomeFile of `/` is not redirected (it would loop).
 *
 * A file missing from the assets gets the router's own 404 page (`FILE_NOT_FOUND`, which
 * xs-app.json `errorPage` may replace) and a log line naming the asset path looked up, so a
 * file in the wrong folder is found from the log.
 *
 * Pure: the assets fetcher and the logger are passed in.
 */
import { errorPage } from "../http/pages.js";
import type { Logger } from "../log.js";
import { withReplace } from "./replace.js";

/** `(request) => env.ASSETS.fetch(request)`. */
export type AssetFetcher = (request: Request) => Promise<Response>;

export interface LocalDirRoute {
  /** Normalised folder (config): starts with `/`, no trailing `/`; `/` = all assets. */
  localDir: string;
  cacheControl?: string;
  /** xs-app.json `replace` (src/static/replace.ts). */
  replace?: { pathSuffixes: string[]; view?: Record<string, unknown> };
}

/** Request headers worth passing to the assets: conditional requests, ranges, encodings. */
const PASSED_HEADERS = [
  "accept",
  "accept-encoding",
  "if-match",
  "if-none-match",
  "if-modified-since",
  "if-unmodified-since",
  "if-range",
  "range",
];

const ALLOW = "GET, HEAD";

/**
 * Serves `target` (the rewritten path and query from route matching) from the route's
 * folder. The assets' answer is passed on, with `cacheControl` on successful answers; a
 * missing file becomes the router's 404 page.
 */
export async function serveLocalDir(
  request: Request,
  target: string,
  route: LocalDirRoute,
  assets: AssetFetcher,
  log?: Logger,
): Promise<Response> {
  const method = request.method.toUpperCase();
  if (method !== "GET" && method !== "HEAD") return errorPage(405, "METHOD_NOT_ALLOWED", { allow: ALLOW });
  const path = assetPathFor(route.localDir, target);
  if (path === null) return errorPage(400, "INVALID_PATH");
  if (route.replace) assets = withReplace(assets, route.replace, target);

  const headers = new Headers();
  for (const name of PASSED_HEADERS) {
    const value = request.headers.get(name);
    if (value !== null) headers.set(name, value);
  }
  const url = new URL(request.url);
  url.pathname = path; // never `new URL(path, base)`: "//host/x" would name another host
  url.search = "";
  url.hash = "";
  const upstream = await assets(new Request(url, { method, headers }));
  if (upstream.status === 404) {
    await upstream.body?.cancel();
    // The asset path only (no query): which file was expected where.
    log?.("static.not-found.warn", { path, localDir: route.localDir });
    return errorPage(404, "FILE_NOT_FOUND");
  }
  if (route.cacheControl === undefined || !(upstream.ok || upstream.status === 304)) return upstream;
  const response = new Response(upstream.body, upstream); // assets' headers may be immutable
  response.headers.set("cache-control", route.cacheControl);
  return response;
}

/**
 * The asset path for `target` inside `localDir`, or null when the target could leave the
 * folder. The query is dropped (assets ignore it); a target without a leading `/` (SAP's
 * `"target": "$1"`) is taken relative to the folder.
 */
export function assetPathFor(localDir: string, target: string): string | null {
  const rawPath = target.split(/[?#]/, 1)[0] ?? "";
  const path = rawPath.startsWith("/") ? rawPath : `/${rawPath}`;
  // Encoded slash or backslash would become a separator once the asset server decodes.
  if (/[\u0000-\u001f\u007f\\]|%(?:2f|5c|[01][0-9a-f]|7f)/i.test(path)) return null;
  for (const segment of path.split("/")) {
    if (/^(?:\.|%2e){1,2}$/i.test(segment)) return null;
  }
  const folder = localDir === "/" ? "" : localDir.replace(/\/+$/, "");
  return `${folder}${path}`;
}

export type WelcomeAction =
  /** Answer with this redirect. */
  | { kind: "redirect"; response: Response }
  /** Serve this path and query instead of `/` (a CSRF token fetch, SAP). */
  | { kind: "rewrite"; pathAndQuery: string };

/**
 * What `/` does with a `welcomeFile` (normalised by the config: starts with `/`); null for
 * any other request. The query of `/` is dropped except `sap_idp`, which SAP keeps so that
 * a link to the app can choose the identity provider (DYNAMIC_IDENTITY_PROVIDER).
 */
export function welcomeRedirect(request: Request, welcomeFile: string | undefined): WelcomeAction | null {
  if (welcomeFile === undefined) return null;
  const url = new URL(request.url);
  if (url.pathname !== "/" || welcomeFile === "/" || welcomeFile.startsWith("/?")) return null;
  const idp = url.search === "" ? null : url.searchParams.get("sap_idp");
  const target = idp
    ? `${welcomeFile}${welcomeFile.includes("?") ? "&" : "?"}sap_idp=${encodeURIComponent(idp)}`
    : welcomeFile;
  if (request.headers.get("x-csrf-token")?.trim().toLowerCase() === "fetch")
    return { kind: "rewrite", pathAndQuery: target };
  return {
    kind: "redirect",
    response: new Response(null, { status: 302, headers: { location: target } }),
  };
}
