/**
 * Backend session cookies, kept in the router session as SAP's router keeps them
 * (README "Session Handling"; lib/backend-response/cookie-handler.js): a backend's
 * *session* cookie (a Set-Cookie without Expires/Max-Age) is stored in the router
 * session, per destination, and replayed to that destination; it never reaches the
 * browser, so backends sharing the router's host cannot clash. Persistent cookies pass
 * through to the browser. A route with `setBackendSessionCookies: true` sends everything
 * to the browser instead.
 *
 * Beyond SAP:
 * - A backend cookie named like the router's session cookie (Java backends set
 *   `JSESSIONID`, SAP's default name) never reaches the browser, whatever its attributes
 *   (it would replace the router's session cookie): it is always kept in the jar (SAP
 *   does so only with REMOVE_CLASHING_BACKEND_SESSION_COOKIE=true).
 * - A Set-Cookie that deletes (Max-Age ≤ 0, Expires in the past) or makes a cookie
 *   persistent also removes the jar's copy (SAP keeps replaying a stale one).
 * - On replay the jar wins over a browser cookie of the same name, which could otherwise
 *   shadow the backend's session (e.g. one planted from a sibling subdomain).
 * - A nameless Set-Cookie (`x`, `=x`) is dropped: browsers send back only its value,
 *   which can pass for any cookie, the router's included.
 *
 * The jar is plain JSON in the session record (`data.cookies[destinationName]`), so it
 * is bounded: JAR_LIMITS. Pure: no Hono, no I/O.
 */

/** One stored cookie. `path` as the backend set it, else the default path of its request. */
export interface JarCookie {
  name: string;
  value: string;
  path?: string;
}

export const JAR_LIMITS = {
  /** Cookies per destination; the oldest go first. Browsers keep ~50 per host. */
  maxCookies: 20,
  /** Name + value of one cookie (the browser limit); a larger one is dropped. */
  maxCookieBytes: 4096,
  /** Names + values of one destination's jar; the oldest go first. */
  maxJarBytes: 8192,
} as const;

export interface SplitOptions {
  /** True (SAP's default): session cookies go to the jar. False = route `setBackendSessionCookies`. */
  keepSessionCookies: boolean;
  /** The router's own session cookie name: never passed to the browser. */
  sessionCookieName: string;
  /** Path of the upstream request, for cookies without a Path (RFC 6265 §5.1.4); default "/". */
  requestPath?: string;
  /** Clock, ms since the epoch, to tell a past Expires; default Date.now(). */
  now?: number;
}

export interface SplitResult {
  /** Set-Cookie values to send to the browser, unchanged. */
  toBrowser: string[];
  /** Updates for the destination's jar (`mergeJar`): an empty value deletes. */
  toJar: JarCookie[];
}

/** Sorts a backend response's Set-Cookie values (`headers.getSetCookie()`) into browser and jar. */
export function splitBackendCookies(setCookieHeaders: readonly string[], options: SplitOptions): SplitResult {
  const now = options.now ?? Date.now();
  const toBrowser: string[] = [];
  const toJar: JarCookie[] = [];
  for (const header of setCookieHeaders) {
    const cookie = parseSetCookie(header, options.requestPath ?? "/", now);
    // Nameless ("x" or "=x"): a browser sends back only the value, which may read like
    // any cookie, the router's included. Not standard (RFC 6265 ignores them): dropped.
    if (cookie === null) continue;
    const { name, value, path, lifetime, hasExpires } = cookie;
    const deletion = { name, value: "", path };
    if (name === options.sessionCookieName) {
      toJar.push(lifetime === "expired" ? deletion : { name, value, path });
    } else if (options.keepSessionCookies && lifetime === "session") {
      toJar.push({ name, value, path });
    } else if (options.keepSessionCookies && lifetime === "expired" && !hasExpires) {
      // Max-Age=0 without Expires ends a session cookie: SAP updates its jar, the browser never held it.
      toJar.push(deletion);
    } else {
      toBrowser.push(header);
      toJar.push(deletion); // the browser holds it now (or it is gone): stop replaying a jar copy
    }
  }
  return { toBrowser, toJar };
}

/**
 * Applies updates in order (same name and path replace; an empty value deletes), then
 * enforces JAR_LIMITS by dropping the oldest. Returns `jar` itself when nothing changed,
 * so `merged !== jar` tells whether the session needs saving.
 */
export function mergeJar(jar: readonly JarCookie[], updates: readonly JarCookie[]): JarCookie[] {
  let next = [...jar];
  let changed = false;
  for (const update of updates) {
    const path = update.path ?? "/";
    const index = next.findIndex((c) => c.name === update.name && (c.path ?? "/") === path);
    if (update.value === "" || !isStorable(update)) {
      if (index !== -1) {
        next.splice(index, 1);
        changed = true;
      }
      continue;
    }
    if (index !== -1 && next[index]!.value === update.value) continue;
    if (index !== -1) next.splice(index, 1);
    next.push({ name: update.name, value: update.value, path }); // newest last
    changed = true;
  }
  if (next.length > JAR_LIMITS.maxCookies) {
    next = next.slice(next.length - JAR_LIMITS.maxCookies);
    changed = true;
  }
  while (jarBytes(next) > JAR_LIMITS.maxJarBytes) {
    next.shift();
    changed = true;
  }
  return changed ? next : (jar as JarCookie[]);
}

/**
 * The Cookie header for an upstream request to `path` (the destination-side path; a
 * query is ignored): the browser's cookies (already without the router's own), minus
 * those the jar replaces, then the jar's cookies whose path matches, longest path first
 * (RFC 6265 §5.4). Null when there is none.
 */
export function cookieHeaderFor(
  jar: readonly JarCookie[],
  incomingCookieHeader: string | null,
  path: string,
): string | null {
  const requestPath = path.split("?")[0] || "/";
  const replay = jar
    .filter((c) => pathMatches(requestPath, c.path ?? "/"))
    .sort((a, b) => (b.path ?? "/").length - (a.path ?? "/").length);
  const replaced = new Set(replay.map((c) => c.name));
  const kept = (incomingCookieHeader ?? "")
    .split(";")
    .map((pair) => pair.trim())
    .filter((pair) => {
      if (pair === "") return false;
      const eq = pair.indexOf("=");
      return !replaced.has((eq === -1 ? pair : pair.slice(0, eq)).trim());
    });
  const all = [...kept, ...replay.map((c) => `${c.name}=${c.value}`)];
  return all.length === 0 ? null : all.join("; ");
}

/**
 * A jar read back from a session record: anything that is not a well-formed cookie list
 * (an older format, a tampered store) counts as empty or loses the bad entries.
 */
export function readJar(value: unknown): JarCookie[] {
  if (!Array.isArray(value)) return [];
  const jar: JarCookie[] = [];
  for (const item of value) {
    if (typeof item !== "object" || item === null) continue;
    const { name, value: v, path } = item as Record<string, unknown>;
    if (typeof name !== "string" || typeof v !== "string" || (path !== undefined && typeof path !== "string"))
      continue;
    const cookie = { name, value: v, ...(path !== undefined && { path }) };
    if (v !== "" && isStorable(cookie)) jar.push(cookie);
  }
  return mergeJar([], jar); // re-applies the limits
}

interface ParsedSetCookie {
  name: string;
  value: string;
  path: string;
  lifetime: "session" | "persistent" | "expired";
  /** SAP tells session cookies by the absence of Expires alone. */
  hasExpires: boolean;
}

/** RFC 6265 §5.2, the parts that matter here; null without a `name=` pair. */
function parseSetCookie(header: string, requestPath: string, now: number): ParsedSetCookie | null {
  const [pair = "", ...attributes] = header.split(";");
  const eq = pair.indexOf("=");
  if (eq === -1) return null;
  const name = pair.slice(0, eq).trim();
  const value = pair.slice(eq + 1).trim();
  if (name === "") return null;
  let path: string | undefined;
  let maxAge: number | undefined;
  let expires: number | undefined;
  for (const attribute of attributes) {
    const at = attribute.indexOf("=");
    const key = (at === -1 ? attribute : attribute.slice(0, at)).trim().toLowerCase();
    const val = at === -1 ? "" : attribute.slice(at + 1).trim();
    if (key === "path") path = val.startsWith("/") ? val : undefined;
    else if (key === "max-age" && /^-?[0-9]+$/.test(val)) maxAge = Number(val);
    else if (key === "expires") {
      const time = Date.parse(val);
      if (!Number.isNaN(time)) expires = time;
    }
  }
  // Max-Age wins over Expires (RFC 6265 §5.3 step 3).
  const lifetime =
    maxAge !== undefined
      ? maxAge <= 0
        ? "expired"
        : "persistent"
      : expires !== undefined
        ? expires <= now
          ? "expired"
          : "persistent"
        : "session";
  return { name, value, path: path ?? defaultPath(requestPath), lifetime, hasExpires: expires !== undefined };
}

/** RFC 6265 §5.1.4. */
function defaultPath(requestPath: string): string {
  const path = requestPath.split("?")[0] ?? "";
  if (!path.startsWith("/")) return "/";
  const last = path.lastIndexOf("/");
  return last <= 0 ? "/" : path.slice(0, last);
}

/** RFC 6265 §5.1.4 path-match. */
function pathMatches(requestPath: string, cookiePath: string): boolean {
  if (requestPath === cookiePath) return true;
  if (!requestPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith("/") || requestPath[cookiePath.length] === "/";
}

/**
 * Fits in a Cookie header: a token-like name, a value without `;` or controls, Latin-1,
 * within the size limit.
 */
function isStorable(cookie: JarCookie): boolean {
  return (
    /^[^\u0000-\u0020\u007f=;,]+$/.test(cookie.name) &&
    /^[^\u0000-\u001f\u007f;]*$/.test(cookie.value) &&
    /^[\u0000-\u00ff]*$/.test(cookie.name + cookie.value) &&
    (cookie.path === undefined || /^\/[^\u0000-\u001f\u007f;]*$/.test(cookie.path)) &&
    cookie.name.length + cookie.value.length <= JAR_LIMITS.maxCookieBytes
  );
}

function jarBytes(jar: readonly JarCookie[]): number {
  return jar.reduce((n, c) => n + c.name.length + c.value.length + (c.path?.length ?? 1), 0);
}
