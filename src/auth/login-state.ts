import { base64url, EncryptJWT, jwtDecrypt } from "jose";

/**
 * What must survive between the redirect to the identity provider and the callback,
 * which may land on another isolate: kept in a short-lived cookie, encrypted (JWE,
 * A256GCM, key from HKDF). Single use is enforced at the callback (`markOnce`).
 *
 * At most `LOGIN_SLOTS` such cookies per browser: the cookie's name is one of a few slots
 * picked by the state, so parallel tabs rarely clobber each other, and a client that starts
 * logins in a loop cannot fill the browser's cookie jar and push out the session cookie
 * (issue 9). The return URL is capped so the cookie stays far below 4 KB.
 */
export interface LoginState {
  state: string;
  nonce: string;
  codeVerifier: string;
  returnTo: string;
  idp: "xsuaa" | "identity";
  /** The tenant subdomain of the login host (multitenancy). */
  tenant?: string;
}

export const LOGIN_SLOTS = 4;
/** Longest return URL kept (path + query); a longer one keeps its path, or falls back to `/`. */
export const MAX_RETURN_TO = 1024;
/** Longest `#fragment` carried through login (PRESERVE_FRAGMENT). */
export const MAX_FRAGMENT = 1024;

export function boundedReturnTo(pathAndQuery: string): string {
  if (pathAndQuery.length <= MAX_RETURN_TO) return pathAndQuery;
  const path = pathAndQuery.split("?")[0]!;
  return path.length <= MAX_RETURN_TO ? path : "/";
}

/** The slot of a state (its first character; states are base64url). */
export function loginSlot(state: string): number {
  return (state.charCodeAt(0) || 0) % LOGIN_SLOTS;
}

export const LOGIN_STATE_TTL_S = 300;

export async function loginStateKey(secret: string): Promise<Uint8Array> {
  const base = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), "HKDF", false, [
    "deriveBits",
  ]);
  const bits = await crypto.subtle.deriveBits(
    {
      name: "HKDF",
      hash: "SHA-256",
      salt: new TextEncoder().encode("approuter-edge/login-state/v1"),
      info: new Uint8Array(),
    },
    base,
    256,
  );
  return new Uint8Array(bits);
}

/**
 * The cookie of one login in flight: its slot's. It lives on the callback path, which a
 * `__Host-` cookie may not (Path=/ only): `__Secure-` instead.
 */
export function loginCookieName(sessionCookieName: string, state: string): string {
  return `${callbackPathPrefix(sessionCookieName)}_login_${loginSlot(state)}`;
}

/** The cookie the login page's script keeps the `#fragment` in (same slot). */
export function fragmentCookieName(sessionCookieName: string, state: string): string {
  return `${callbackPathPrefix(sessionCookieName)}_fragment_${loginSlot(state)}`;
}

function callbackPathPrefix(sessionCookieName: string): string {
  return sessionCookieName.replace(/^__Host-/i, "__Secure-");
}

export async function sealLoginState(value: LoginState, key: Uint8Array, nowMs: number): Promise<string> {
  const now = Math.floor(nowMs / 1000);
  return new EncryptJWT({
    s: value.state,
    n: value.nonce,
    v: value.codeVerifier,
    r: value.returnTo,
    i: value.idp,
    ...(value.tenant && { t: value.tenant }),
  })
    .setProtectedHeader({ alg: "dir", enc: "A256GCM" })
    .setIssuedAt(now)
    .setExpirationTime(now + LOGIN_STATE_TTL_S)
    .encrypt(key);
}

/** The login state in `cookie`, or null when absent, expired, tampered or foreign. */
export async function openLoginState(
  cookie: string | undefined,
  key: Uint8Array,
  nowMs: number,
): Promise<LoginState | null> {
  if (!cookie || cookie.length > 4096) return null;
  try {
    const { payload } = await jwtDecrypt(cookie, key, {
      currentDate: new Date(nowMs),
      keyManagementAlgorithms: ["dir"],
      contentEncryptionAlgorithms: ["A256GCM"],
    });
    const { s, n, v, r, i, t } = payload as Record<string, unknown>;
    if (typeof s !== "string" || typeof n !== "string" || typeof v !== "string" || typeof r !== "string")
      return null;
    if (i !== "xsuaa" && i !== "identity") return null;
    return {
      state: s,
      nonce: n,
      codeVerifier: v,
      returnTo: r,
      idp: i,
      ...(typeof t === "string" && { tenant: t }),
    };
  } catch {
    return null;
  }
}

export function randomToken(bytes = 32): string {
  return base64url.encode(crypto.getRandomValues(new Uint8Array(bytes)));
}
