import { base64url } from "jose";
import { describe, expect, it } from "vitest";
import { DEFAULT_LIMITS, fingerprint, open, seal } from "../../src/session/codec.js";
import { deflate, inflate } from "../../src/session/compression.js";
import { packJwts, unpackJwts } from "../../src/session/jwt-packing.js";
import { newSessionId } from "../../src/session/id.js";
import { KeyRing } from "../../src/session/keyring.js";
import { SECRET_A, SECRET_B, SECRET_C } from "../support/secrets.js";

const record = { v: 1, iat: 1, exp: 2, csrf: "token", data: { user: "alice", n: [1, 2, 3], text: "é€😀" } };

describe("compression", () => {
  it("round-trips and caps inflation", async () => {
    const input = new Uint8Array(new TextEncoder().encode("x".repeat(100_000)));
    const packed = await deflate(input);
    expect(packed.byteLength).toBeLessThan(1_000);
    expect(await inflate(packed, 100_000)).toEqual(input);
    expect(await inflate(packed, 99_999)).toBeNull();
    expect(await inflate(new Uint8Array([0xff, 0xff, 0xff]), 1000)).toBeNull();
  });
});

describe("seal and open", () => {
  it("round-trips a record under the newest secret, bound to the store key", async () => {
    const keyring = await KeyRing.create([SECRET_A]);
    const sessionId = newSessionId();
    const sealed = await seal(record, { keyring, sessionId });
    expect(sealed.envelope).toMatch(/^e2\.[A-Za-z0-9_-]{8}\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
    expect(sealed.storeKey).toBe(await keyring.storeKey(keyring.current, sessionId));
    expect(sealed.storeKey).not.toContain(sessionId);
    const opened = await open(sealed.envelope, sealed.storeKey, { keyring, sessionId });
    expect(opened).toEqual({ ok: true, value: record, kid: keyring.current.kid });
  });

  it("never shows the plaintext, the id or the secret", async () => {
    const keyring = await KeyRing.create([SECRET_A]);
    const sessionId = newSessionId();
    const { envelope, storeKey } = await seal(record, { keyring, sessionId });
    for (const text of [envelope, storeKey]) {
      expect(text).not.toContain("alice");
      expect(text).not.toContain(sessionId);
      expect(text).not.toContain(SECRET_A.slice(0, 16));
    }
  });

  it("seals the same record differently each time (random IV)", async () => {
    const keyring = await KeyRing.create([SECRET_A]);
    const sessionId = newSessionId();
    const a = await seal(record, { keyring, sessionId });
    const b = await seal(record, { keyring, sessionId });
    expect(a.envelope).not.toBe(b.envelope);
    expect(fingerprint(a.envelope)).not.toBe(fingerprint(b.envelope));
  });

  it("opens envelopes of a previous secret after rotation, and reseals with the newest", async () => {
    const old = await KeyRing.create([SECRET_A]);
    const rotated = await KeyRing.create([SECRET_B, SECRET_A]);
    const sessionId = newSessionId();
    const sealed = await seal(record, { keyring: old, sessionId });
    const opened = await open(sealed.envelope, sealed.storeKey, { keyring: rotated, sessionId });
    expect(opened).toMatchObject({ ok: true, kid: old.current.kid });
    const resealed = await seal(record, { keyring: rotated, sessionId });
    expect(resealed.kid).toBe(rotated.current.kid);
    expect(resealed.kid).not.toBe(old.current.kid);
    expect(resealed.storeKey).not.toBe(sealed.storeKey);
    const retired = await KeyRing.create([SECRET_C, SECRET_B]);
    expect(await open(sealed.envelope, sealed.storeKey, { keyring: retired, sessionId })).toEqual({
      ok: false,
      reason: "unknown-key",
    });
  });

  it.each([
    ["another session id", async (e: string, k: string) => [e, k, newSessionId()] as const],
    ["another store key", async (e: string) => [e, "approuter-edge:s:other", undefined] as const],
    ["a flipped ciphertext bit", async (e: string, k: string) => [flipLastChar(e), k, undefined] as const],
    ["a swapped IV", async (e: string, k: string) => [swapIv(e), k, undefined] as const],
  ])("fails closed on %s", async (_name, mutate) => {
    const keyring = await KeyRing.create([SECRET_A]);
    const sessionId = newSessionId();
    const sealed = await seal(record, { keyring, sessionId });
    const [envelope, storeKey, otherId] = await mutate(sealed.envelope, sealed.storeKey);
    const opened = await open(envelope, storeKey, { keyring, sessionId: otherId ?? sessionId });
    expect(opened).toEqual({ ok: false, reason: "decrypt" });
  });

  it.each([
    ["not a string", 42, "malformed"],
    ["empty", "", "malformed"],
    ["wrong version", "e0.AAAAAAAA.AAAAAAAAAAAAAAAA.AAAA", "malformed"],
    ["a version from the future", "e3.AAAAAAAA.AAAAAAAAAAAAAAAA.AAAA", "malformed"],
    ["too few parts", "e1.AAAAAAAA.AAAA", "malformed"],
    ["unknown kid", "e1.ZZZZZZZZ.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAAAAAA", "unknown-key"],
    ["not base64url", "e1.KID.!!!.???", "malformed"],
    ["oversized", `e1.${"A".repeat(DEFAULT_LIMITS.maxEnvelopeChars)}`, "too-large"],
  ])("rejects %s", async (_name, envelope, reason) => {
    const keyring = await KeyRing.create([SECRET_A]);
    const withKid = typeof envelope === "string" ? envelope.replace("KID", keyring.current.kid) : envelope;
    expect(await open(withKid, "k", { keyring, sessionId: newSessionId() })).toEqual({ ok: false, reason });
  });

  it("refuses a downgrade of the version prefix (it is authenticated)", async () => {
    const keyring = await KeyRing.create([SECRET_A]);
    const sessionId = newSessionId();
    const sealed = await seal(record, { keyring, sessionId });
    expect(
      await open(sealed.envelope.replace(/^e2\./, "e1."), sealed.storeKey, { keyring, sessionId }),
    ).toEqual({ ok: false, reason: "decrypt" });
  });

  it("packs JWTs before compression and gives back the very same strings", async () => {
    const keyring = await KeyRing.create([SECRET_A]);
    const sessionId = newSessionId();
    const b64 = (v: unknown) => base64url.encode(typeof v === "string" ? v : JSON.stringify(v));
    const claims = {
      iss: "https://idp.example",
      sub: "user-1",
      aud: "app",
      scope: ["a", "b"],
      exp: 1764090000,
      name: "Zoë",
    };
    const jwt = `${b64({ alg: "RS256", kid: "k1" })}.${b64(claims)}.${"s".repeat(342)}`;
    const spaced = `${b64('{ "alg": "RS256" }')}.${b64(claims)}.sig`; // header not in compact form: kept as text
    const notJson = `${b64("plain text")}.${b64(claims)}.sig`;
    const sloppy = `${b64({ alg: "RS256" })}=.${b64(claims)}.sig`; // not canonical base64url: left alone
    const value = {
      v: 1,
      iat: 1,
      exp: 2,
      data: { auth: { idToken: jwt, accessToken: jwt, others: [spaced, notJson, sloppy, "a.b.c"] } },
    };
    const sealed = await seal(value, { keyring, sessionId });
    const opened = await open(sealed.envelope, sealed.storeKey, { keyring, sessionId });
    expect(opened).toEqual({ ok: true, value, kid: keyring.current.kid });
    const packed = JSON.stringify(value, packJwts);
    expect(packed).not.toContain(jwt); // the JWTs went in as JSON…
    expect(packed).toContain('"$jwt":[{"alg":"RS256","kid":"k1"},{"iss":"https://idp.example"');
    expect(packed).toContain(sloppy); // …except where that could not give back the same string
    expect(JSON.parse(packed, unpackJwts)).toEqual(value);
  });

  it("rejects a well-encrypted decompression bomb", async () => {
    const keyring = await KeyRing.create([SECRET_A]);
    const sessionId = newSessionId();
    const big = { v: 1, iat: 1, exp: 2, data: { pad: "x".repeat(200_000) } };
    const sealed = await seal(big, { keyring, sessionId });
    expect(sealed.envelope.length).toBeLessThan(2_000);
    const small = { maxEnvelopeChars: 10_000, maxPlaintextBytes: 100_000 };
    expect(await open(sealed.envelope, sealed.storeKey, { keyring, sessionId }, small)).toEqual({
      ok: false,
      reason: "inflate",
    });
  });

  it("derives the same keys from the same secret on every isolate", async () => {
    const a = await KeyRing.create([SECRET_A]);
    const b = await KeyRing.create([SECRET_A]);
    const sessionId = newSessionId();
    expect(a.current.kid).toBe(b.current.kid);
    const sealed = await seal(record, { keyring: a, sessionId });
    expect(await open(sealed.envelope, sealed.storeKey, { keyring: b, sessionId })).toMatchObject({
      ok: true,
    });
  });
});

function flipLastChar(envelope: string): string {
  const last = envelope.at(-2)!;
  return envelope.slice(0, -2) + (last === "A" ? "B" : "A") + envelope.at(-1);
}

function swapIv(envelope: string): string {
  const parts = envelope.split(".");
  parts[2] = base64url.encode(crypto.getRandomValues(new Uint8Array(12)));
  return parts.join(".");
}
