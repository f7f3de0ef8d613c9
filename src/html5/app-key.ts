/**
 * SAP's "dynamic routing" URL format (README "Integration with HTML5 Application
 * Repository", lib/utils/dynamic-routing-utils.js getApplicationKey/getCoreUrl): the first
 * path segment names the app, `[<prefix>.]<appName>[-<x.y.z>]`; an optional second segment
 * `~<token>~` is a cache buster; the rest is the path inside the app.
 * - The version is a trailing `-<digits>.<digits>.<digits>`; without it the repository's
 *   default version is served.
 * - With dots, the first part is the prefix (SAP: a business service's `sap.cloud.service`
 *   without dots, or one of OWN_SAP_CLOUD_SERVICE) and the second the app name.
 * - The app name is letters, digits, `_` and space only; any other first segment is not an
 *   app key (`index.html`, `user-api`, ``) and the request goes to the central xs-app.json.
 * - `favicon.ico` and `login` are never app keys (SAP's preset direct-routing patterns);
 *   DIRECT_ROUTING_URI_PATTERNS adds more (`isDirectRouted`).
 * Pure.
 */
import type { DirectRoutingPattern } from "../config/types.js";

export interface AppKey {
  /** The whole first segment (`my.app-1.0.0`). */
  entireKey: string;
  /** Without the version (`my.app`). */
  appName: string;
  appVersion?: string;
  /** The part before the first dot, when there is one. */
  appPrefix?: string;
  appNameWithoutPrefix: string;
  /** `<appNameWithoutPrefix>[-<version>]`: the app's folder in the runtime API. */
  appKeyWithoutPrefix: string;
}

const VERSION = /-(?:\d+\.){2}\d+$/;
const APP_NAME = /^[a-zA-Z0-9_ ]+$/;
/** SAP's preset direct-routing URI patterns: always the central xs-app.json. */
const DIRECT_ROUTING = new Set(["favicon.ico", "login"]);
const CACHE_BUSTER = /^~.*~$/;

/**
 * The app key of a path's first segment, or null when it is none. `ownServices`
 * (OWN_SAP_CLOUD_SERVICE): with three parts whose middle one is an own service, the key is
 * `<appHostId>.<service>.<app>` (SAP's unique URL).
 */
export function parseAppKey(segment: string, ownServices: readonly string[] = []): AppKey | null {
  if (segment === "" || segment.includes("?") || DIRECT_ROUTING.has(segment)) return null;
  const version = VERSION.exec(segment);
  const appVersion = version ? version[0].slice(1) : undefined;
  const appName = version ? segment.slice(0, version.index) : segment;
  const parts = appName.split(".");
  const skip = parts.length === 3 && ownServices.includes(parts[1]!) ? 1 : 0;
  const appPrefix = parts.length >= 2 ? parts[skip] : undefined;
  const appNameWithoutPrefix = (parts.length >= 2 ? parts[skip + 1] : appName) || appName;
  if (!APP_NAME.test(appNameWithoutPrefix)) return null;
  return {
    entireKey: segment,
    appName,
    ...(appVersion !== undefined && { appVersion }),
    ...(appPrefix !== undefined && { appPrefix }),
    appNameWithoutPrefix,
    appKeyWithoutPrefix:
      appVersion !== undefined ? `${appNameWithoutPrefix}-${appVersion}` : appNameWithoutPrefix,
  };
}

export interface AppPath {
  key: AppKey;
  /** The path inside the app (`/index.html`; `/` for the app's root), without the cache buster. */
  path: string;
  /** The `~token~` segment, when the request had one. */
  cacheBuster?: string;
}

/**
 * Splits a canonical path (`/app-1.0.0/~123~/x.js`) into app key, cache buster and path in
 * the app; null without an app key.
 */
export function splitAppPath(pathname: string, ownServices: readonly string[] = []): AppPath | null {
  const segments = pathname.split("/");
  const key = parseAppKey(segments[1] ?? "", ownServices);
  if (key === null) return null;
  let rest = segments.slice(2);
  const cacheBuster = rest[0] !== undefined && CACHE_BUSTER.test(rest[0]) ? rest[0] : undefined;
  if (cacheBuster !== undefined) rest = rest.slice(1);
  return { key, path: `/${rest.join("/")}`, ...(cacheBuster !== undefined && { cacheBuster }) };
}

/**
 * DIRECT_ROUTING_URI_PATTERNS: a first segment routed with the central xs-app.json, as SAP
 * matches it: equal to an entry, or matched by it as a regular expression.
 */
export function isDirectRouted(segment: string, patterns: readonly DirectRoutingPattern[]): boolean {
  return patterns.some(({ text, pattern }) => segment === text || pattern.test(segment));
}
