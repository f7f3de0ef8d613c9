import { base64url } from "jose";
import { ENVELOPE_VERSION } from "../../src/session/codec.js";
import { deflate } from "../../src/session/compression.js";
import type { KeyRing, SecretKeys } from "../../src/session/keyring.js";

/**
 * Seals an arbitrary payload exactly as the codec seals a record (`<version>.<kid>.<iv>.<ct>`,
 * AES-256-GCM under the session's key, AAD `<version>.<kid>.<storeKey>`), but without the
 * codec's own checks: for envelopes that authenticate but carry what the router never
 * writes (non-JSON, invalid UTF-8, a raw stream that is not DEFLATE, a bomb).
 * Runs in workerd and in Node (WebCrypto + CompressionStream).
 */
export interface ForgeOptions {
  keyring: KeyRing;
  sessionId: string;
  /** The secret to seal with; default the newest. */
  secret?: SecretKeys;
  /** The store key bound into the AAD; default the one the secret gives the session. */
  storeKey?: string;
  /** Deflate the payload first (default true); false puts the bytes in as they are. */
  compress?: boolean;
}

export async function forgeEnvelope(
  payload: Uint8Array,
  options: ForgeOptions,
): Promise<{ envelope: string; storeKey: string }> {
  const secret = options.secret ?? options.keyring.current;
  const storeKey = options.storeKey ?? (await options.keyring.storeKey(secret, options.sessionId));
  const key = await options.keyring.sessionKey(secret, options.sessionId);
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const aad = new TextEncoder().encode(`${ENVELOPE_VERSION}.${secret.kid}.${storeKey}`);
  const bytes: Uint8Array<ArrayBuffer> = new Uint8Array(payload);
  const body = options.compress === false ? bytes : await deflate(bytes);
  const ciphertext = new Uint8Array(
    await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: aad }, key, body),
  );
  return {
    envelope: `${ENVELOPE_VERSION}.${secret.kid}.${base64url.encode(iv)}.${base64url.encode(ciphertext)}`,
    storeKey,
  };
}

/** The four parts of an envelope; `join` puts (possibly changed) parts back together. */
export function envelopeParts(envelope: string): { version: string; kid: string; iv: string; ct: string } {
  const [version = "", kid = "", iv = "", ct = ""] = envelope.split(".");
  return { version, kid, iv, ct };
}

export function joinEnvelope(parts: { version: string; kid: string; iv: string; ct: string }): string {
  return `${parts.version}.${parts.kid}.${parts.iv}.${parts.ct}`;
}
