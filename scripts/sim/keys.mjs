// Signing keys of a simulated identity provider: RS256 key pairs with a kid, rotation, the
// published JWKS (with UAA's extra `value` PEM on request), signing and verifying.
import {
  exportJWK,
  exportSPKI,
  generateKeyPair,
  importJWK,
  jwtVerify,
  SignJWT,
  createLocalJWKSet,
} from "jose";

/**
 * @param {string} kid
 * @param {import("jose").JWK} [privateJwk] a kept key (npm run dev:redis keeps its simulator's key), else a new one
 */
async function newKey(kid, privateJwk) {
  const { privateKey, publicKey } = privateJwk
    ? {
        privateKey: /** @type {CryptoKey} */ (await importJWK(privateJwk, "RS256", { extractable: true })),
        publicKey: /** @type {CryptoKey} */ (
          await importJWK({ kty: privateJwk.kty, n: privateJwk.n, e: privateJwk.e }, "RS256", {
            extractable: true,
          })
        ),
      }
    : await generateKeyPair("RS256", { extractable: true });
  const jwk = await exportJWK(publicKey);
  return {
    kid,
    privateKey,
    /** @type {Record<string, string>} */
    publicJwk: { kty: "RSA", kid, alg: "RS256", use: "sig", n: String(jwk.n), e: String(jwk.e) },
    pem: await exportSPKI(publicKey),
  };
}

/**
 * @param {string} kidPrefix e.g. "default-jwt-key-" (XSUAA's style) or "ias-key-"
 * @param {{ kid: string, privateJwk: import("jose").JWK }} [kept] the signing key of an earlier run
 */
export async function createKeyRing(kidPrefix, kept) {
  let counter = 0;
  const nextKid = () => `${kidPrefix}${Date.now().toString(36)}${++counter}`;
  /** Published keys, newest first; keys[0] signs. */
  let keys = [kept ? await newKey(kept.kid, kept.privateJwk) : await newKey(nextKid())];
  return {
    get kid() {
      return keys[0].kid;
    },
    get pem() {
      return keys[0].pem;
    },
    /** The signing key, to start with it again later. */
    async exportSigningKey() {
      return { kid: keys[0].kid, privateJwk: await exportJWK(keys[0].privateKey) };
    },
    /** A new signing key (new kid); the old ones stay published unless `dropOld`. */
    async rotate({ dropOld = false } = {}) {
      const key = await newKey(nextKid());
      keys = dropOld ? [key] : [key, ...keys];
      return key.kid;
    },
    /** @param {{ pem?: boolean }} [o] pem: add UAA's `value` (PEM public key) to each key */
    jwks(o = {}) {
      return { keys: keys.map((k) => (o.pem ? { ...k.publicJwk, value: k.pem } : { ...k.publicJwk })) };
    },
    /**
     * @param {Record<string, unknown>} payload
     * @param {Record<string, unknown>} [header] extra protected header fields (jku, typ)
     */
    sign(payload, header = {}) {
      return new SignJWT(payload)
        .setProtectedHeader({ alg: "RS256", kid: keys[0].kid, ...header })
        .sign(keys[0].privateKey);
    },
    /**
     * Claims of a token this ring signed (any published key), or undefined: bad signature,
     * unknown kid, expired.
     * @param {string} token
     * @returns {Promise<Record<string, any> | undefined>}
     */
    async verify(token) {
      try {
        const { payload } = await jwtVerify(token, createLocalJWKSet(this.jwks()), { algorithms: ["RS256"] });
        return payload;
      } catch {
        return undefined;
      }
    },
  };
}
