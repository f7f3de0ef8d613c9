/**
 * A byte store keeps opaque strings (sealed envelopes) under keys with a TTL. It knows
 * nothing of sessions, cookies or encryption; the session manager owns those.
 * Implementations throw on transport failure; `ResilientStore` turns that into values.
 */
export type SetMode =
  /** Only if the key does not exist (a new session). */
  | "create"
  /** Only if the key exists: a session destroyed elsewhere is never brought back. */
  | "update";

/**
 * Read-your-writes across isolates for one session (stores with `syncTokens`, e.g.
 * Upstash with read replicas). It travels with the session through the store calls of one
 * request: reads reflect at least `after`; the store notes the token of its answers.
 */
export interface SyncSlot {
  /**
   * The token of the session's last write as the request carried it (verified); reads
   * reflect at least that state.
   */
  after?: string;
  /** When that write happened (ms since the epoch), to tell the newer of two tokens (tokens are opaque). */
  at?: number;
  /** Set by the store: the token of the newest answer to a call made with this slot. */
  token?: string;
  /** Set by the store when a `set` made with this slot succeeded: `token` is then that of a write. */
  wrote?: boolean;
}

export interface ByteStore {
  /** True when `get` with `touchMs` costs no more than a plain read (Redis GETEX). */
  readonly slidesTtlOnRead?: boolean;
  /**
   * The store's reads may lag its writes (replicas) and it offers tokens to bridge that.
   * Then `get` with a slot reflects at least `slot.after` and, when `touchMs` is given,
   * answers null for a key the primary no longer has (deleted after `after`); `get` without
   * a slot reflects every write acknowledged before it. Stores without it are read as
   * strongly consistent and ignore slots.
   */
  readonly syncTokens?: boolean;
  /** The value, or null; with `touchMs`, the key's TTL is reset to it in the same call (GETEX). */
  get(key: string, touchMs?: number, sync?: SyncSlot): Promise<string | null>;
  /** Stores with a TTL; `false` when the mode's condition did not hold. */
  set(key: string, value: string, ttlMs: number, mode: SetMode, sync?: SyncSlot): Promise<boolean>;
  /** Resets the TTL; `false` when the key does not exist. */
  touch(key: string, ttlMs: number, sync?: SyncSlot): Promise<boolean>;
  delete(keys: readonly string[], sync?: SyncSlot): Promise<void>;
  /** Adds members to the set at `key` and sets its TTL. */
  addToSet(key: string, members: readonly string[], ttlMs: number): Promise<void>;
  /** The members of the set at `key`; empty when absent. */
  setMembers(key: string): Promise<string[]>;
}
