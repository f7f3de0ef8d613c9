import { Redis } from "@upstash/redis/cloudflare";
import type { ByteStore, SetMode, SyncSlot } from "./types.js";

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

/** The primary has the session but no node could show it at least as new as the primary's answer. */
class ReplicaBehind extends Error {
  constructor() {
    super("the store's replica is behind the session's last write");
  }
}

/**
 * Never written: a no-op write on it (PERSIST) is answered by the primary, so its sync
 * token is "now" for a read that must reflect every acknowledged write.
 */
const BARRIER_KEY = "approuter-edge:sync-barrier";

/**
 * A byte store on an Upstash Redis REST endpoint (or the local compatible one).
 *
 * Upstash databases may have read replicas: writes go to the primary, reads to replicas
 * that lag it. Only what Upstash documents is relied on: a write is applied (and answered)
 * by the primary; every answer carries `upstash-sync-token`; a request carrying a token
 * reads a state at least that new. How a particular command (GETEX) or a mixed pipeline is
 * routed is not documented, so session reads never depend on it:
 * - a session read with a slot is a GET carrying the session's write token (replica, at
 *   least as new as the last write) and, in parallel, a PEXPIRE (a write: the primary's
 *   present answer whether the session exists, and the TTL slide). Gone on the primary →
 *   null, whatever the replica still shows: a logout elsewhere counts at once. On the
 *   primary but not on the replica (it did not catch up in time, or the request had no
 *   token): read again at least as new as the PEXPIRE's answer. Without a token the
 *   content may be older than the last write (by the replica's lag); existence never is.
 * - a read without a slot (leases, back-channel logout indexes, re-reads): first a write
 *   (a no-op barrier), then the read carrying that write's token: as new as the call.
 * Each call that needs its own token uses its own client object: the client keeps one token
 * per object, and concurrent requests of an isolate must not mix theirs.
 */
export function createUpstashStore({ url, token, requestTimeoutMs }: UpstashStoreOptions): ByteStore {
  const config = {
    url,
    token,
    automaticDeserialization: false, // envelopes are opaque strings
    enableTelemetry: false,
    retry: false as const,
    signal: () => AbortSignal.timeout(requestTimeoutMs),
  };
  // Writes without a slot: auto-pipelined (concurrent calls of one request share a round
  // trip); no token carried, so a write never waits for a replica.
  const shared = new Redis({ ...config, enableAutoPipelining: true, readYourWrites: false });
  /** A client for one call, carrying `after` (or nothing); it keeps the token of its answer. */
  const client = (after?: string) => {
    const redis = new Redis({ ...config, enableAutoPipelining: false });
    redis.readYourWritesSyncToken = after ?? "";
    return redis;
  };
  const tokenOf = (redis: Redis) => redis.readYourWritesSyncToken || undefined;
  const note = (sync: SyncSlot | undefined, redis: Redis, wrote = false) => {
    if (!sync) return;
    const t = tokenOf(redis);
    if (t !== undefined) sync.token = t;
    if (wrote) sync.wrote = true;
  };
  const px = (ms: number) => Math.max(1, Math.ceil(ms));

  /** Only the replies Redis gives count as answers; anything else is a fault of the endpoint. */
  const asValue = (value: unknown): string | null => {
    if (value === null || typeof value === "string") return value;
    throw new UnexpectedReply("GET");
  };
  const asFlag = (reply: unknown, command: string): boolean => {
    if (reply === 1 || reply === 0) return reply === 1;
    throw new UnexpectedReply(command);
  };

  /** A read that reflects every write acknowledged before it: a write first, then the read at its token. */
  async function readAsOfNow(
    key: string,
    touchMs: number | undefined,
    sync: SyncSlot | undefined,
  ): Promise<string | null> {
    const writer = client();
    let live = true;
    if (touchMs === undefined) await writer.persist(BARRIER_KEY);
    else live = asFlag(await writer.pexpire(key, px(touchMs)), "PEXPIRE");
    note(sync, writer);
    if (!live) return null;
    const reader = client(tokenOf(writer));
    const value = asValue(await reader.get<string>(key));
    note(sync, reader);
    return value;
  }

  return {
    slidesTtlOnRead: true,
    syncTokens: true,
    async get(key, touchMs, sync) {
      if (!sync || touchMs === undefined) return readAsOfNow(key, touchMs, sync);
      const reader = client(sync.after);
      const writer = client();
      const [value, live] = await Promise.all([
        reader.get<string>(key).then(asValue),
        writer.pexpire(key, px(touchMs)).then((r) => asFlag(r, "PEXPIRE")),
      ]);
      if (!live) {
        note(sync, writer);
        return null;
      }
      if (value !== null) {
        note(sync, reader);
        return value;
      }
      // On the primary but not on the replica that answered: it did not reach the token in
      // time. Once more, at least as new as the primary's answer (the endpoint waits, bounded);
      // never "absent" for a session that exists.
      const again = client(tokenOf(writer));
      const retried = asValue(await again.get<string>(key));
      note(sync, again);
      if (retried === null) throw new ReplicaBehind();
      return retried;
    },
    async set(key, value, ttlMs, mode: SetMode, sync) {
      const redis = sync ? client() : shared;
      const reply: unknown =
        mode === "create"
          ? await redis.set(key, value, { px: px(ttlMs), nx: true })
          : await redis.set(key, value, { px: px(ttlMs), xx: true });
      if (reply !== "OK" && reply !== null) throw new UnexpectedReply("SET");
      note(sync, redis, reply === "OK");
      return reply === "OK";
    },
    async touch(key, ttlMs, sync) {
      const redis = sync ? client() : shared;
      const touched = asFlag(await redis.pexpire(key, px(ttlMs)), "PEXPIRE");
      note(sync, redis);
      return touched;
    },
    async delete(keys, sync) {
      if (keys.length === 0) return;
      const redis = sync ? client() : shared;
      await redis.del(...keys);
      note(sync, redis);
    },
    async addToSet(key, members, ttlMs) {
      if (members.length === 0) return;
      const [first, ...rest] = members as [string, ...string[]];
      await Promise.all([shared.sadd(key, first, ...rest), shared.pexpire(key, px(ttlMs))]);
    },
    // Back-channel logout: a member filed a moment ago on another isolate must be found.
    async setMembers(key) {
      const writer = client();
      await writer.persist(BARRIER_KEY);
      const members: unknown = await client(tokenOf(writer)).smembers(key);
      if (Array.isArray(members) && members.every((m) => typeof m === "string")) return members as string[];
      throw new UnexpectedReply("SMEMBERS");
    },
  };
}
