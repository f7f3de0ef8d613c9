import { base64url } from "jose";

/**
 * Keys derived from the configured session secrets (newest first) with HKDF-SHA-256.
 *
 * Per secret:
 * - `kid`: 8 base64url characters naming the secret in every envelope, so rotation
 *   knows which secret to open it with (it reveals nothing about the secret);
 * - a store-key HMAC key: store keys are HMAC(session id), never the raw id;
 * - an HKDF base from which every session gets its own AES-256-GCM key, bound to the
 *   session id. The id lives only in the user's cookie, so a dump of the store, even
 *   together with the secret, decrypts nothing.
 */
const SALT = new Uint8Array(new TextEncoder().encode("approuter-edge/session/v1"));
const STORE_KEY_PREFIX = "approuter-edge:s:";

export interface SecretKeys {
  kid: string;
  storeKeyMac: CryptoKey;
  hkdfBase: CryptoKey;
}

export class KeyRing {
  private constructor(readonly secrets: readonly SecretKeys[]) {}

  static async create(secrets: readonly string[]): Promise<KeyRing> {
    if (secrets.length === 0) throw new Error("KeyRing needs at least one secret");
    return new KeyRing(await Promise.all(secrets.map(deriveSecretKeys)));
  }

  get current(): SecretKeys {
    return this.secrets[0]!;
  }

  byKid(kid: string): SecretKeys | undefined {
    return this.secrets.find((s) => s.kid === kid);
  }

  async storeKey(secret: SecretKeys, sessionId: string): Promise<string> {
    const mac = await crypto.subtle.sign("HMAC", secret.storeKeyMac, utf8(sessionId));
    return STORE_KEY_PREFIX + base64url.encode(new Uint8Array(mac));
  }

  /**
   * A store key for router data other than sessions (`kind` keeps the families apart):
   * login-state markers, refresh leases, back-channel logout indexes.
   */
  async namedKey(secret: SecretKeys, kind: string, value: string): Promise<string> {
    const mac = await crypto.subtle.sign("HMAC", secret.storeKeyMac, utf8(`${kind}\0${value}`));
    return `approuter-edge:${kind}:${base64url.encode(new Uint8Array(mac))}`;
  }

  /** The AES-256-GCM key of one session under one secret. */
  async sessionKey(secret: SecretKeys, sessionId: string): Promise<CryptoKey> {
    return crypto.subtle.deriveKey(
      { name: "HKDF", hash: "SHA-256", salt: SALT, info: utf8(`enc\0${sessionId}`) },
      secret.hkdfBase,
      { name: "AES-GCM", length: 256 },
      false,
      ["encrypt", "decrypt"],
    );
  }
}

async function deriveSecretKeys(secret: string): Promise<SecretKeys> {
  const hkdfBase = await crypto.subtle.importKey("raw", utf8(secret), "HKDF", false, [
    "deriveBits",
    "deriveKey",
  ]);
  const kidBits = await crypto.subtle.deriveBits(
    { name: "HKDF", hash: "SHA-256", salt: SALT, info: utf8("kid") },
    hkdfBase,
    48,
  );
  const storeKeyMac = await crypto.subtle.deriveKey(
    { name: "HKDF", hash: "SHA-256", salt: SALT, info: utf8("store-key") },
    hkdfBase,
    { name: "HMAC", hash: "SHA-256", length: 256 },
    false,
    ["sign"],
  );
  return { kid: base64url.encode(new Uint8Array(kidBits)), storeKeyMac, hkdfBase };
}

function utf8(text: string): Uint8Array<ArrayBuffer> {
  return new Uint8Array(new TextEncoder().encode(text));
}
