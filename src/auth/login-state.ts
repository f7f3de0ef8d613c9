import { base64url, EncryptJWT, jwtDecrypt } from "jose";

/**
 * What must survive between the redirect to the identity provider and the callback,
 * which may land on another isolate: kept in a short-lived cookie, encrypted (JWE,
 * A256GCM, key from HKDF), one cookie per login in flight so parallel tabs do not
 * clobber each other. Single use is enforced at the callback (`markOnce`).
 */
export interface LoginState {
  state: string;
  nonce: string;
  codeVerifier: string;
  returnTo: string;
  idp: "xsuaa" | "identity";
}

export const LOGIN_STATE_TTL_S = 300;

export async function loginStateKey(secret: string): Promise<Uint8Array> {
  const base = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), "HKDF", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits(
    { name: "HKDF", hash: "SHA-256", salt: new TextEncoder().encode("approuter-edge/login-state/v1"), info: new Uint8Array() },
    base,
    256,
  );
  return new Uint8Array(bits);
}

/**
 * The cookie of one login in flight: named after the start of its `state`. It lives on the
 * callback path, which a `__Host-` cookie may not (Path=/ only): `__Secure-` instead.
 */
export function loginCookieName(sessionCookieName: string, state: string): string {
  return `${sessionCookieName.replace(/^__Host-/i, "__Secure-")}_login_${state.slice(0, 12)}`;
}

export async function sealLoginState(value: LoginState, key: Uint8Array, nowMs: number): Promise<string> {
  const now = Math.floor(nowMs / 1000);
  return new EncryptJWT({ s: value.state, n: value.nonce, v: value.codeVerifier, r: value.returnTo, i: value.idp })
    .setProtectedHeader({ alg: "dir", enc: "A256GCM" })
    .setIssuedAt(now)
    .setExpirationTime(now + LOGIN_STATE_TTL_S)
    .encrypt(key);
}

/** The login state in `cookie`, or null when absent, expired, tampered or foreign. */
export async function openLoginState(cookie: string | undefined, key: Uint8Array, nowMs: number): Promise<LoginState | null> {
  if (!cookie || cookie.length > 4096) return null;
  try {
    const { payload } = await jwtDecrypt(cookie, key, { currentDate: new Date(nowMs), keyManagementAlgorithms: ["dir"], contentEncryptionAlgorithms: ["A256GCM"] });
    const { s, n, v, r, i } = payload as Record<string, unknown>;
    if (typeof s !== "string" || typeof n !== "string" || typeof v !== "string" || typeof r !== "string") return null;
    if (i !== "xsuaa" && i !== "identity") return null;
    return { state: s, nonce: n, codeVerifier: v, returnTo: r, idp: i };
  } catch {
    return null;
  }
}

export function randomToken(bytes = 32): string {
  return base64url.encode(crypto.getRandomValues(new Uint8Array(bytes)));
}
