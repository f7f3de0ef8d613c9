import { base64url } from "jose";
import { deflate, inflate } from "./compression.js";
import { packJwts, unpackJwts } from "./jwt-packing.js";
import type { KeyRing } from "./keyring.js";

/**
 * The stored form of a session: a versioned envelope
 *
 *     e2.<kid>.<iv>.<ciphertext>          (each part base64url, no padding)
 *
 * ciphertext = AES-256-GCM(sessionKey, iv, deflate-raw(JSON with JWTs packed), aad = "e2.<kid>.<storeKey>").
 * `e1` (the same without JWT packing) is still opened.
 * The AAD binds the blob to the key it is stored under: copied under another key it
 * no longer opens. Opening never throws: any defect is a reason, and means "no session".
 */
export const ENVELOPE_VERSION = "e2";
const READABLE_VERSIONS = new Set(["e1", "e2"]);

export interface CodecLimits {
  /** Longest envelope accepted before any decoding. */
  maxEnvelopeChars: number;
  /** Largest JSON accepted after inflation (decompression-bomb cap). */
  maxPlaintextBytes: number;
}

export const DEFAULT_LIMITS: CodecLimits = { maxEnvelopeChars: 512 * 1024, maxPlaintextBytes: 256 * 1024 };

export type OpenFailure = "malformed" | "unknown-key" | "decrypt" | "too-large" | "inflate" | "not-json";
export type OpenResult = { ok: true; value: unknown; kid: string } | { ok: false; reason: OpenFailure };

export interface SealContext {
  keyring: KeyRing;
  sessionId: string;
}

/** Seals with the newest secret, under the store key that secret gives the session. */
export async function seal(
  value: unknown,
  { keyring, sessionId }: SealContext,
  limits = DEFAULT_LIMITS,
): Promise<{ envelope: string; storeKey: string; kid: string }> {
  const secret = keyring.current;
  const plaintext = new Uint8Array(new TextEncoder().encode(JSON.stringify(value, packJwts)));
  if (plaintext.byteLength > limits.maxPlaintextBytes)
    throw new RangeError("session record exceeds maxPlaintextBytes");
  const [storeKey, key] = await Promise.all([
    keyring.storeKey(secret, sessionId),
    keyring.sessionKey(secret, sessionId),
  ]);
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const aad = new TextEncoder().encode(`${ENVELOPE_VERSION}.${secret.kid}.${storeKey}`);
  const ciphertext = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: aad },
    key,
    await deflate(plaintext),
  );
  const sealed = base64url.encode(new Uint8Array(ciphertext));
  const envelope = `${ENVELOPE_VERSION}.${secret.kid}.${base64url.encode(iv)}.${sealed}`;
  return { envelope, storeKey, kid: secret.kid };
}

/** Opens an envelope read from `storeKey`. */
export async function open(
  envelope: unknown,
  storeKey: string,
  { keyring, sessionId }: SealContext,
  limits = DEFAULT_LIMITS,
): Promise<OpenResult> {
  if (typeof envelope !== "string") return { ok: false, reason: "malformed" };
  if (envelope.length > limits.maxEnvelopeChars) return { ok: false, reason: "too-large" };
  const parts = envelope.split(".");
  if (parts.length !== 4 || !READABLE_VERSIONS.has(parts[0]!)) return { ok: false, reason: "malformed" };
  const [version, kid, ivText, ctText] = parts as [string, string, string, string];
  const secret = keyring.byKid(kid);
  if (!secret) return { ok: false, reason: "unknown-key" };
  let iv: Uint8Array<ArrayBuffer>;
  let ciphertext: Uint8Array<ArrayBuffer>;
  try {
    iv = new Uint8Array(base64url.decode(ivText));
    ciphertext = new Uint8Array(base64url.decode(ctText));
  } catch {
    return { ok: false, reason: "malformed" };
  }
  // Only the one canonical spelling opens (the decoder forgives padding, whitespace and
  // stray trailing bits): an altered character must never yield the same bytes.
  if (base64url.encode(iv) !== ivText || base64url.encode(ciphertext) !== ctText)
    return { ok: false, reason: "malformed" };
  if (iv.byteLength !== 12 || ciphertext.byteLength < 16) return { ok: false, reason: "malformed" };
  let compressed: ArrayBuffer;
  try {
    const key = await keyring.sessionKey(secret, sessionId);
    const aad = new TextEncoder().encode(`${version}.${kid}.${storeKey}`);
    compressed = await crypto.subtle.decrypt({ name: "AES-GCM", iv, additionalData: aad }, key, ciphertext);
  } catch {
    return { ok: false, reason: "decrypt" };
  }
  const plaintext = await inflate(new Uint8Array(compressed), limits.maxPlaintextBytes);
  if (!plaintext) return { ok: false, reason: "inflate" }; // corrupt or past the cap
  try {
    const text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(plaintext);
    return { ok: true, value: JSON.parse(text, version === "e1" ? undefined : unpackJwts), kid };
  } catch {
    return { ok: false, reason: "not-json" };
  }
}

/** A short fingerprint of a stored envelope (the tail holds the GCM tag, unique per seal). */
export function fingerprint(envelope: string): string {
  return envelope.slice(-22);
}
