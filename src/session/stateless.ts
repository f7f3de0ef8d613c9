import { isWellFormedSessionId } from "./id.js";

/**
 * The cookie of a session that holds nothing but its CSRF token. Such a session needs no
 * stored state: the token is an HMAC of the id, so it is recomputed from the cookie. The
 * cookie proves the router issued the id (a MAC under a configured secret), so a
 * client-chosen id is never adopted, and carries its creation time for the absolute
 * lifetime:
 *
 *     <id>.<iat>.<tag>
 *
 * `id` is a session id (43 base64url characters), `iat` its creation time in ms since the
 * epoch in base 36, `tag` the first 22 characters of the base64url HMAC-SHA-256 of
 * `anon` ‖ 0x00 ‖ `<id>.<iat>`. It is never a well-formed stored session id, so a request
 * carrying it costs no store call. Once the session holds something (login, a backend's
 * cookie), it is stored under the same id and the cookie becomes the plain id: the token
 * the client holds stays valid.
 */
const STATELESS_PATTERN = /^([A-Za-z0-9_-]{43})\.([0-9a-z]{1,11})\.([A-Za-z0-9_-]{22})$/;
export const STATELESS_TAG_KIND = "anon";
const TAG_CHARS = 22;

export interface StatelessCookie {
  id: string;
  iat: number;
  /** What the tag signs. */
  signed: string;
  tag: string;
}

export function parseStatelessCookie(value: string | undefined): StatelessCookie | null {
  const match = value === undefined ? null : STATELESS_PATTERN.exec(value);
  if (!match) return null;
  const [, id, iatText, tag] = match as unknown as [string, string, string, string];
  const iat = parseInt(iatText, 36);
  if (!isWellFormedSessionId(id) || !Number.isSafeInteger(iat)) return null;
  return { id, iat, signed: `${id}.${iatText}`, tag };
}

/** What the tag of a session created at `iat` signs. */
export function statelessSigned(id: string, iat: number): string {
  return `${id}.${iat.toString(36)}`;
}

/** The tag from a full MAC (base64url). */
export function statelessTag(mac: string): string {
  return mac.slice(0, TAG_CHARS);
}

export function statelessCookieValue(signed: string, tag: string): string {
  return `${signed}.${tag}`;
}
