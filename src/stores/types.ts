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

export interface ByteStore {
  /** True when `get` with `touchMs` costs no more than a plain read (Redis GETEX). */
  readonly slidesTtlOnRead?: boolean;
  /** The value, or null; with `touchMs`, the key's TTL is reset to it in the same call (GETEX). */
  get(key: string, touchMs?: number): Promise<string | null>;
  /** Stores with a TTL; `false` when the mode's condition did not hold. */
  set(key: string, value: string, ttlMs: number, mode: SetMode): Promise<boolean>;
  /** Resets the TTL; `false` when the key does not exist. */
  touch(key: string, ttlMs: number): Promise<boolean>;
  delete(keys: readonly string[]): Promise<void>;
  /** Adds members to the set at `key` and sets its TTL. */
  addToSet(key: string, members: readonly string[], ttlMs: number): Promise<void>;
  /** The members of the set at `key`; empty when absent. */
  setMembers(key: string): Promise<string[]>;
}
