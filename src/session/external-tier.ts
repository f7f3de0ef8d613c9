import type { ResilientStore } from "../stores/resilient.js";
import type { SyncSlot } from "../stores/types.js";
import { fingerprint, open, seal, type CodecLimits, DEFAULT_LIMITS, type OpenFailure } from "./codec.js";
import type { KeyRing } from "./keyring.js";
import { isSessionRecord, type SessionRecord } from "./record.js";
import { SyncCookie } from "./sync-token.js";

/**
 * The second tier: sealed session records in a byte store. Reads look under the key of
 * every configured secret at once (one round trip with auto-pipelining), so sessions
 * sealed before a rotation are still found; writes seal with the newest secret.
 */
export type ReadResult =
  | { kind: "found"; record: SessionRecord; kid: string; tag: string }
  /** Absent, expired, or present but undecryptable, foreign or malformed: no session. */
  | { kind: "missing"; rejected?: OpenFailure | "shape" }
  /** The store could not answer: nothing is known. */
  | { kind: "unavailable" };

export type WriteResult =
  | { kind: "written"; kid: string; tag: string; storeKey: string; moved: boolean }
  /** The session no longer exists in the store (destroyed or expired elsewhere). */
  | { kind: "gone" }
  | { kind: "unavailable" };

export type TouchResult = "touched" | "gone" | "unavailable";

export class ExternalTier {
  /** Present when the store's reads may lag its writes: the session cookie's companion (sync-token.ts). */
  readonly syncCookie: SyncCookie | undefined;

  constructor(
    private readonly store: ResilientStore,
    private readonly keyring: KeyRing,
    private readonly limits: CodecLimits = DEFAULT_LIMITS,
  ) {
    this.syncCookie = store.syncTokens ? new SyncCookie(keyring) : undefined;
  }

  get degraded(): boolean {
    return this.store.degraded;
  }

  /** Whether a read can slide the TTL in the same call (else the TTL is extended by touches). */
  get slidesTtlOnRead(): boolean {
    return this.store.slidesTtlOnRead;
  }

  get currentKid(): string {
    return this.keyring.current.kid;
  }

  get counters() {
    return this.store.counters;
  }

  /**
   * With `touchMs`, the stored copy's TTL is reset in the same round trip (a recovery slides it).
   * `sync`: the session's read-your-writes slot (stores with sync tokens).
   */
  async read(sessionId: string, touchMs?: number, sync?: SyncSlot): Promise<ReadResult> {
    const keys = await this.candidateKeys(sessionId);
    const outcomes = await Promise.all(keys.map((key) => this.store.get(key, touchMs, sync)));
    const index = outcomes.findIndex((o) => o.ok && o.value !== null);
    if (index < 0) return outcomes.every((o) => o.ok) ? { kind: "missing" } : { kind: "unavailable" };
    const envelope = (outcomes[index] as { ok: true; value: string }).value;
    const opened = await open(envelope, keys[index]!, { keyring: this.keyring, sessionId }, this.limits);
    if (!opened.ok) return { kind: "missing", rejected: opened.reason };
    if (!isSessionRecord(opened.value)) return { kind: "missing", rejected: "shape" };
    return { kind: "found", record: opened.value, kid: opened.kid, tag: fingerprint(envelope) };
  }

  /**
   * Writes a record. `storedKid` says where the store holds it now: undefined for a new
   * session (created only if absent); the current kid for an update (only if present,
   * so a destroyed session is never resurrected); an older kid moves it to the newest
   * secret's key, if the old copy still exists.
   */
  async write(sessionId: string, record: SessionRecord, ttlMs: number, storedKid: string | undefined, sync?: SyncSlot): Promise<WriteResult> {
    const sealed = await seal(record, { keyring: this.keyring, sessionId }, this.limits);
    let migrating = storedKid !== undefined && storedKid !== sealed.kid;
    if (migrating) {
      const still = await this.touch(sessionId, storedKid!, ttlMs, sync);
      if (still === "unavailable") return { kind: "unavailable" };
      // Gone from the old key: another isolate may have moved it already. Then the update
      // below lands on the newest key; if that is absent too, the session has ended.
      if (still === "gone") migrating = false;
    }
    const mode = storedKid === undefined || migrating ? "create" : "update";
    let outcome = await this.store.set(sealed.storeKey, sealed.envelope, ttlMs, mode, sync);
    // A create that finds the key taken: another isolate moved it there first, or an
    // earlier attempt of ours was applied although its answer was lost. Either way the key
    // exists (so nothing is resurrected): overwrite it.
    if (mode === "create" && outcome.ok && !outcome.value) outcome = await this.store.set(sealed.storeKey, sealed.envelope, ttlMs, "update", sync);
    if (!outcome.ok) return { kind: "unavailable" };
    if (!outcome.value) return { kind: "gone" };
    if (migrating) {
      const old = this.keyring.byKid(storedKid!);
      if (old) await this.store.delete([await this.keyring.storeKey(old, sessionId)], sync);
    }
    return { kind: "written", kid: sealed.kid, tag: fingerprint(sealed.envelope), storeKey: sealed.storeKey, moved: migrating };
  }

  async touch(sessionId: string, kid: string, ttlMs: number, sync?: SyncSlot): Promise<TouchResult> {
    const secret = this.keyring.byKid(kid);
    if (!secret) return "gone";
    const outcome = await this.store.touch(await this.keyring.storeKey(secret, sessionId), ttlMs, sync);
    if (!outcome.ok) return "unavailable";
    return outcome.value ? "touched" : "gone";
  }

  /**
   * Deletes again once the store is tried again after a failure: a logout during an
   * outage must reach the store, or other isolates would keep the session until it expires.
   */
  async destroyLater(sessionId: string, attempts = 3): Promise<boolean> {
    for (let i = 0; i < attempts; i++) {
      await this.store.sleep(this.store.cooldownMs + 50);
      if (await this.destroy(sessionId)) return true;
    }
    return false;
  }

  /** Deletes the session under every secret's key. */
  async destroy(sessionId: string): Promise<boolean> {
    const outcome = await this.store.delete(await this.candidateKeys(sessionId));
    return outcome.ok;
  }

  /** See SessionManager.csrfTokenFor: an HMAC of the id under the newest secret. */
  async csrfTokenFor(sessionId: string): Promise<string> {
    const key = await this.keyring.namedKey(this.keyring.current, "csrf", sessionId);
    return key.slice(key.lastIndexOf(":") + 1);
  }

  /** Files a stored session under index entries (e.g. its user's `sid`), for back-channel logout. */
  async addToIndexes(storeKey: string, indexes: readonly string[], ttlMs: number): Promise<boolean> {
    const outcomes = await Promise.all(
      indexes.map(async (index) => this.store.addToSet(await this.keyring.namedKey(this.keyring.current, "i", index), [storeKey], ttlMs)),
    );
    return outcomes.every((o) => o.ok);
  }

  /** Deletes every session filed under `index` (under any secret) and the index itself. */
  async destroyIndexed(index: string): Promise<number | "unavailable"> {
    const indexKeys = await Promise.all(this.keyring.secrets.map((s) => this.keyring.namedKey(s, "i", index)));
    const lists = await Promise.all(indexKeys.map((k) => this.store.setMembers(k)));
    if (lists.some((l) => !l.ok)) return "unavailable";
    const members = [...new Set(lists.flatMap((l) => (l as { ok: true; value: string[] }).value))];
    const deleted = await this.store.delete([...members, ...indexKeys]);
    return deleted.ok ? members.length : "unavailable";
  }

  /** Records that `value` of `kind` was used; false if it already was (single use). */
  async markOnce(kind: string, value: string, ttlMs: number): Promise<boolean | "unavailable"> {
    const key = await this.keyring.namedKey(this.keyring.current, kind, value);
    const outcome = await this.store.set(key, "1", ttlMs, "create");
    return outcome.ok ? outcome.value : "unavailable";
  }

  /** A lease held by `owner` for `ttlMs` (e.g. the one token refresh of a session). */
  async acquireLease(name: string, owner: string, ttlMs: number): Promise<boolean | "unavailable"> {
    const outcome = await this.store.set(await this.keyring.namedKey(this.keyring.current, "lease", name), owner, ttlMs, "create");
    return outcome.ok ? outcome.value : "unavailable";
  }

  async renewLease(name: string, ttlMs: number): Promise<void> {
    await this.store.touch(await this.keyring.namedKey(this.keyring.current, "lease", name), ttlMs);
  }

  /** Releases the lease if `owner` still holds it (best effort: not atomic). */
  async releaseLease(name: string, owner: string): Promise<void> {
    const key = await this.keyring.namedKey(this.keyring.current, "lease", name);
    const holder = await this.store.get(key);
    if (holder.ok && holder.value === owner) await this.store.delete([key]);
  }

  async leaseHeld(name: string): Promise<boolean | "unavailable"> {
    const outcome = await this.store.get(await this.keyring.namedKey(this.keyring.current, "lease", name));
    return outcome.ok ? outcome.value !== null : "unavailable";
  }

  private candidateKeys(sessionId: string): Promise<string[]> {
    return Promise.all(this.keyring.secrets.map((secret) => this.keyring.storeKey(secret, sessionId)));
  }
}
