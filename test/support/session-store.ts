import type { Redis as IORedis } from "ioredis";
import { seal } from "../../src/session/codec.js";
import { newSessionId } from "../../src/session/id.js";
import { KeyRing } from "../../src/session/keyring.js";
import type { SessionRecord } from "../../src/session/record.js";

/**
 * Looking at (and planting) sessions in Redis from Node, with the router's own key
 * derivation: the store key of a cookie under a secret, the kid of a secret.
 */
const rings = new Map<string, Promise<KeyRing>>();

function ringOf(secret: string): Promise<KeyRing> {
  let ring = rings.get(secret);
  if (!ring) {
    ring = KeyRing.create([secret]);
    rings.set(secret, ring);
  }
  return ring;
}

/** The session id in a `JSESSIONID=<id>` pair (or a bare id). */
export function idOf(cookie: string): string {
  return cookie.includes("=") ? cookie.slice(cookie.indexOf("=") + 1) : cookie;
}

/** The Redis key the router keeps the session of `cookie` under, with `secret`. */
export async function storeKeyOf(secret: string, cookie: string): Promise<string> {
  const ring = await ringOf(secret);
  return ring.storeKey(ring.current, idOf(cookie));
}

/** The kid envelopes sealed with `secret` carry. */
export async function kidOf(secret: string): Promise<string> {
  return (await ringOf(secret)).current.kid;
}

/** The kid inside a stored envelope (`<version>.<kid>.…`). */
export function kidInEnvelope(envelope: string): string | undefined {
  return envelope.split(".")[1];
}

/**
 * Writes a session straight into Redis, sealed with `secret` as the router would seal it:
 * e.g. a session the router itself never produces (one without a CSRF token yet).
 */
export async function plantSession(
  direct: IORedis,
  secret: string,
  record: Partial<SessionRecord> = {},
  ttlMs = 15 * 60_000,
): Promise<{ cookie: string; storeKey: string; id: string }> {
  const ring = await ringOf(secret);
  const id = newSessionId();
  const now = Date.now();
  const full: SessionRecord = { v: 1, iat: now, exp: now + 8 * 3600_000, ...record };
  const { envelope, storeKey } = await seal(full, { keyring: ring, sessionId: id });
  await direct.set(storeKey, envelope, "PX", ttlMs);
  return { cookie: `JSESSIONID=${id}`, storeKey, id };
}

/** The router's session keys currently in Redis. */
export function sessionKeys(direct: IORedis): Promise<string[]> {
  return direct.keys("approuter-edge:s:*");
}
