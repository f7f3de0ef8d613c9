import { Redis } from "@upstash/redis/cloudflare";
import type { ByteStore, SetMode } from "./types.js";

export interface UpstashStoreOptions {
  url: string;
  token: string;
  /** Per-request abort: the client's own retries are off, `ResilientStore` owns the budget. */
  requestTimeoutMs: number;
}

class UnexpectedReply extends Error {
  constructor(command: string) {
    super(`unexpected ${command} reply`); // no value: replies may carry session data
  }
}

/** A byte store on an Upstash Redis REST endpoint (or the local compatible one). */
export function createUpstashStore({ url, token, requestTimeoutMs }: UpstashStoreOptions): ByteStore {
  const redis = new Redis({
    url,
    token,
    automaticDeserialization: false, // envelopes are opaque strings
    enableTelemetry: false,
    enableAutoPipelining: true, // concurrent calls of one request share one round trip
    retry: false,
    signal: () => AbortSignal.timeout(requestTimeoutMs),
  });
  return {
    slidesTtlOnRead: true,
    // Only the replies Redis gives count as answers; anything else is a fault of the
    // endpoint (thrown: "unavailable"), never read as "absent" or "gone".
    async get(key, touchMs) {
      const value: unknown = touchMs === undefined ? await redis.get<string>(key) : await redis.getex<string>(key, { px: Math.max(1, Math.ceil(touchMs)) });
      if (value === null || typeof value === "string") return value;
      throw new UnexpectedReply("GET");
    },
    async set(key, value, ttlMs, mode: SetMode) {
      const px = Math.max(1, Math.ceil(ttlMs));
      const reply: unknown = mode === "create" ? await redis.set(key, value, { px, nx: true }) : await redis.set(key, value, { px, xx: true });
      if (reply === "OK") return true;
      if (reply === null) return false;
      throw new UnexpectedReply("SET");
    },
    async touch(key, ttlMs) {
      const reply: unknown = await redis.pexpire(key, Math.max(1, Math.ceil(ttlMs)));
      if (reply === 1 || reply === 0) return reply === 1;
      throw new UnexpectedReply("PEXPIRE");
    },
    async delete(keys) {
      if (keys.length > 0) await redis.del(...keys);
    },
    async addToSet(key, members, ttlMs) {
      if (members.length === 0) return;
      const [first, ...rest] = members as [string, ...string[]];
      await Promise.all([redis.sadd(key, first, ...rest), redis.pexpire(key, Math.max(1, Math.ceil(ttlMs)))]);
    },
    async setMembers(key) {
      const members: unknown = await redis.smembers(key);
      if (Array.isArray(members) && members.every((m) => typeof m === "string")) return members as string[];
      throw new UnexpectedReply("SMEMBERS");
    },
  };
}
