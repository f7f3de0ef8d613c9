import { base64url } from "jose";

/** 256 bits from the platform CSPRNG, base64url without padding: 43 characters. */
const ID_BYTES = 32;
const ID_PATTERN = /^[A-Za-z0-9_-]{43}$/;

export type RandomBytes = (length: number) => Uint8Array;

export const cryptoRandomBytes: RandomBytes = (length) => crypto.getRandomValues(new Uint8Array(length));

export function newSessionId(randomBytes: RandomBytes = cryptoRandomBytes): string {
  return base64url.encode(randomBytes(ID_BYTES));
}

/** Cheap shape check before any lookup: a cookie that cannot be one of our ids costs nothing. */
export function isWellFormedSessionId(value: string | undefined): value is string {
  return value !== undefined && ID_PATTERN.test(value);
}
