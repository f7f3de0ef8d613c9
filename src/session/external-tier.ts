import type { ResilientStore, StoreOutcome } from "../stores/resilient.js";
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
  /** `unfiled`: the writer could not file it in the back-channel index (to be repaired). */
  | { kind: "found"; record: SessionRecord; kid: string; tag: string; unfiled?: true }
  /** Absent, expired, or present but undecryptable, foreign or malformed: no session. */
  | { kind: "missing"; rejected?: OpenFailure | "shape" }
  /** The store could not answer: nothing is known. */
  | { kind: "unavailable" };

export type WriteResult =
  /** `filed`: the back-channel index holds the session's key (or it has no index entries). */
  | { kind: "written"; kid: string; tag: string; storeKey: string; moved: boolean; filed: boolean }
  /** The session no longer exists in the store (destroyed or expired elsewhere). */
  | { kind: "gone" }
  | { kind: "unavailable" };

export type TouchResult = "touched" | "gone" | "unavailable";

/** The back-channel index entries of a record being written (see `write`). */
export interface IndexFiling {
  entries: readonly string[];
  /** TTL of the index sets: the session's remaining absolute lifetime. */
  ttlMs: number;
  /** The index sets are known to hold the session's current store key already. */
  filed: boolean;
}

/**
 * Sealed beside the record when the writer could not file it in the index, so whichever
 * isolate reads it next repairs the filing. Readers that do not know it ignore it.
 */
const UNFILED = "unfiled";

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
    const { [UNFILED]: unfiled, ...record } = opened.value as SessionRecord & { [UNFILED]?: unknown };
    return {
      kind: "found",
      record,
      kid: opened.kid,
      tag: fingerprint(envelope),
      ...(unfiled === true ? { unfiled } : {}),
    };
  }

  /**
   * Writes a record. `storedKid` says where the store holds it now: undefined for a new
   * session (created only if absent); the current kid for an update (only if present,
   * so a destroyed session is never resurrected); an older kid moves it to the newest
   * secret's key, if the old copy still exists.
   *
   * With `index`, the session is filed under its back-channel index entries first when
   * the sets do not hold its current key yet (new, moved, never confirmed): before the
   * record, so a stored session is always findable by a back-channel logout, or carries
   * the mark that it is not (sealed beside the record) for the next writer to repair.
   */
  async write(
    sessionId: string,
    record: SessionRecord,
    ttlMs: number,
    storedKid: string | undefined,
    index?: IndexFiling,
    sync?: SyncSlot,
  ): Promise<WriteResult> {
    let sealed = await seal(record, { keyring: this.keyring, sessionId }, this.limits);
    let migrating = storedKid !== undefined && storedKid !== sealed.kid;
    if (migrating) {
      const still = await this.touch(sessionId, storedKid!, ttlMs, sync);
      if (still === "unavailable") return { kind: "unavailable" };
      // Gone from the old key: another isolate may have moved it already. Then the update
      // below lands on the newest key; if that is absent too, the session has ended.
      if (still === "gone") migrating = false;
    }
    let filed = true;
    if (index && index.entries.length > 0 && (!index.filed || migrating)) {
      filed = await this.addToIndexes(sealed.storeKey, index.entries, index.ttlMs);
      if (!filed)
        sealed = await seal(
          { ...record, [UNFILED]: true },
          { keyring: this.keyring, sessionId },
          this.limits,
        );
    }
    const mode = storedKid === undefined || migrating ? "create" : "update";
    let outcome = await this.store.set(sealed.storeKey, sealed.envelope, ttlMs, mode, sync);
    // A create that finds the key taken: another isolate moved it there first, or an
    // earlier attempt of ours was applied although its answer was lost. Either way the key
    // exists (so nothing is resurrected): overwrite it.
    if (mode === "create" && outcome.ok && !outcome.value)
      outcome = await this.store.set(sealed.storeKey, sealed.envelope, ttlMs, "update", sync);
    if (!outcome.ok) return { kind: "unavailable" };
    if (!outcome.value) return { kind: "gone" };
    if (migrating) {
      const old = this.keyring.byKid(storedKid!);
      if (old) await this.store.delete([await this.keyring.storeKey(old, sessionId)], sync);
    }
    return {
      kind: "written",
      kid: sealed.kid,
      tag: fingerprint(sealed.envelope),
      storeKey: sealed.storeKey,
      moved: migrating,
      filed,
    };
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
    return this.mac(0, "csrf", sessionId);
  }

  /** How many secrets are configured (newest first): the indexes `mac` takes. */
  get secretCount(): number {
    return this.keyring.secrets.length;
  }

  /** base64url HMAC-SHA-256(K_store of secret `index`, kind ‖ 0x00 ‖ value). */
  async mac(index: number, kind: string, value: string): Promise<string> {
    const key = await this.keyring.namedKey(this.keyring.secrets[index]!, kind, value);
    return key.slice(key.lastIndexOf(":") + 1);
  }

  /** Files the session stored under `kid`'s key in its index entries (repair of a failed filing). */
  async fileIndexes(
    sessionId: string,
    kid: string,
    entries: readonly string[],
    ttlMs: number,
  ): Promise<boolean> {
    const secret = this.keyring.byKid(kid);
    if (!secret) return false;
    return this.addToIndexes(await this.keyring.storeKey(secret, sessionId), entries, ttlMs);
  }

  /** Files a stored session under index entries (e.g. its user's `sid`), for back-channel logout. */
  async addToIndexes(storeKey: string, indexes: readonly string[], ttlMs: number): Promise<boolean> {
    const outcomes = await Promise.all(
      indexes.map(async (index) =>
        this.store.addToSet(await this.keyring.namedKey(this.keyring.current, "i", index), [storeKey], ttlMs),
      ),
    );
    return outcomes.every((o) => o.ok);
  }

  /** Deletes every session filed under `index` (under any secret) and the index itself. */
  async destroyIndexed(index: string): Promise<number | "unavailable"> {
    const indexKeys = await Promise.all(
      this.keyring.secrets.map((s) => this.keyring.namedKey(s, "i", index)),
    );
    const lists = await Promise.all(indexKeys.map((k) => this.store.setMembers(k)));
    if (lists.some((l) => !l.ok)) return "unavailable";
    const members = [...new Set(lists.flatMap((l) => (l as { ok: true; value: string[] }).value))];
    const deleted = await this.store.delete([...members, ...indexKeys]);
    return deleted.ok ? members.length : "unavailable";
  }

  /**
   * Records that `value` of `kind` was used; false if it already was (single use).
   *
   * Markers and leases are set under the key of **every** configured secret (one
   * pipelined round trip) and count as taken when any of those keys was: during a
   * rotation an isolate with `[new, old]` and one still on `[old]` share the `old` key,
   * so they agree on who was first.
   */
  async markOnce(kind: string, value: string, ttlMs: number): Promise<boolean | "unavailable"> {
    return this.takeEverywhere(await this.namedKeys(kind, value), "1", ttlMs);
  }

  /** Forgets a marker (e.g. an action that failed after marking may be retried). */
  async unmark(kind: string, value: string): Promise<boolean> {
    return (await this.store.delete(await this.namedKeys(kind, value))).ok;
  }

  /**
   * A lease held by `owner` for `ttlMs` (e.g. the one token refresh of a session): held
   * when its key under every configured secret was free. A partial win is handed back at
   * once, so two contenders that each took one key never both wait for the lease to expire.
   */
  async acquireLease(name: string, owner: string, ttlMs: number): Promise<boolean | "unavailable"> {
    return this.takeEverywhere(await this.namedKeys("lease", name), owner, ttlMs);
  }

  async renewLease(name: string, ttlMs: number): Promise<void> {
    await Promise.all((await this.namedKeys("lease", name)).map((key) => this.store.touch(key, ttlMs)));
  }

  /** Releases the lease if `owner` still holds it (best effort: not atomic). */
  async releaseLease(name: string, owner: string): Promise<void> {
    const keys = await this.namedKeys("lease", name);
    const holders = await Promise.all(keys.map((key) => this.store.get(key)));
    const mine = keys.filter((_, i) => isOk(holders[i]!, owner));
    if (mine.length > 0) await this.store.delete(mine);
  }

  async leaseHeld(name: string): Promise<boolean | "unavailable"> {
    const outcomes = await Promise.all(
      (await this.namedKeys("lease", name)).map((key) => this.store.get(key)),
    );
    if (outcomes.some((o) => o.ok && o.value !== null)) return true;
    return outcomes.every((o) => o.ok) ? false : "unavailable";
  }

  /**
   * `SET NX` of every key: true when all were free. Keys won in a lost attempt (another
   * isolate held one of them) are handed back, so a marker forgotten or a lease released
   * by an isolate that knows fewer secrets is free again for everyone.
   */
  private async takeEverywhere(
    keys: string[],
    value: string,
    ttlMs: number,
  ): Promise<boolean | "unavailable"> {
    const outcomes = await Promise.all(keys.map((key) => this.store.set(key, value, ttlMs, "create")));
    if (outcomes.every((o) => isOk(o, true))) return true;
    const won = keys.filter((_, i) => isOk(outcomes[i]!, true));
    if (won.length > 0) await this.store.delete(won);
    return outcomes.some((o) => isOk(o, false)) ? false : "unavailable";
  }

  /** The store keys of one marker or lease, under every configured secret. */
  private namedKeys(kind: string, value: string): Promise<string[]> {
    return Promise.all(this.keyring.secrets.map((secret) => this.keyring.namedKey(secret, kind, value)));
  }

  private candidateKeys(sessionId: string): Promise<string[]> {
    return Promise.all(this.keyring.secrets.map((secret) => this.keyring.storeKey(secret, sessionId)));
  }
}

/** Whether the store answered, with `value`. */
function isOk<T>(outcome: StoreOutcome<T>, value: T): boolean {
  return outcome.ok && outcome.value === value;
}
