/**
 * What one session holds. Plain JSON data only: it is what the first tier keeps and
 * what the codec seals. `docs/storage-schema.md` documents it; bump `v` on any change
 * that old readers would misread.
 */
export interface SessionRecord {
  v: 1;
  /** Creation time, ms since the epoch. */
  iat: number;
  /** Absolute expiry, ms since the epoch (creation + absolute lifetime). */
  exp: number;
  /** CSRF token, base64url; created by the first `x-csrf-token: fetch`. */
  csrf?: string;
  /** Data of the features built on sessions (login, backend cookies); JSON values. */
  data?: SessionData;
}

/**
 * What the features built on sessions keep in a record. Read back from the store, so each
 * reader checks its part (`authOf`, `jarOf`): an older version may have written it.
 */
export interface SessionData {
  /** The login (src/auth/auth-data.ts). */
  auth?: unknown;
  /** Backend session cookies, a jar per destination name (src/proxy/session-jar.ts). */
  cookies?: { readonly [destination: string]: unknown };
  [feature: string]: unknown;
}

export function newRecord(now: number, absoluteTimeoutMs: number): SessionRecord {
  return { v: 1, iat: now, exp: now + absoluteTimeoutMs };
}

/** Shape check of a record that came out of the store: anything else is "no session". */
export function isSessionRecord(value: unknown): value is SessionRecord {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const r = value as Record<string, unknown>;
  return (
    r.v === 1 &&
    Number.isFinite(r.iat) &&
    Number.isFinite(r.exp) &&
    (r.csrf === undefined || typeof r.csrf === "string") &&
    (r.data === undefined || (typeof r.data === "object" && r.data !== null && !Array.isArray(r.data)))
  );
}

/**
 * Freezes a record and everything in it. Records are shared between the first tier and
 * the requests that use it: a change is a new record object (`{ ...record, csrf }`), never
 * an edit in place, which is also how a change is told apart from no change at no cost.
 */
export function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}
