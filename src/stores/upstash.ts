import { Redis } from "@upstash/redis/cloudflare";
import type { ByteStore, SetMode } from "./types.js";

export interface UpstashStoreOptions {
  url: string;
  token: string;
  /** Per-request abort: the client's own retries are off, `ResilientStore` owns the budget. */
  requestTimeoutMs: number;
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
    async get(key) {
      const value = await redis.get<string>(key);
      return typeof value === "string" ? value : null;
    },
    async set(key, value, ttlMs, mode: SetMode) {
      const px = Math.max(1, Math.ceil(ttlMs));
      const reply = mode === "create" ? await redis.set(key, value, { px, nx: true }) : await redis.set(key, value, { px, xx: true });
      return reply === "OK";
    },
    async touch(key, ttlMs) {
      return (await redis.pexpire(key, Math.max(1, Math.ceil(ttlMs)))) === 1;
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
      return (await redis.smembers(key)).map(String);
    },
  };
}
