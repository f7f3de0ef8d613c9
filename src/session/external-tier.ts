import type { ResilientStore } from "../stores/resilient.js";
import { fingerprint, open, seal, type CodecLimits, DEFAULT_LIMITS, type OpenFailure } from "./codec.js";
import type { KeyRing } from "./keyring.js";
import { isSessionRecord, type SessionRecord } from "./record.js";

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
  | { kind: "written"; kid: string; tag: string }
  /** The session no longer exists in the store (destroyed or expired elsewhere). */
  | { kind: "gone" }
  | { kind: "unavailable" };

export type TouchResult = "touched" | "gone" | "unavailable";

export class ExternalTier {
  constructor(
    private readonly store: ResilientStore,
    private readonly keyring: KeyRing,
    private readonly limits: CodecLimits = DEFAULT_LIMITS,
  ) {}

  get degraded(): boolean {
    return this.store.degraded;
  }

  get currentKid(): string {
    return this.keyring.current.kid;
  }

  get counters() {
    return this.store.counters;
  }

  async read(sessionId: string): Promise<ReadResult> {
    const keys = await this.candidateKeys(sessionId);
    const outcomes = await Promise.all(keys.map((key) => this.store.get(key)));
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
  async write(sessionId: string, record: SessionRecord, ttlMs: number, storedKid: string | undefined): Promise<WriteResult> {
    const sealed = await seal(record, { keyring: this.keyring, sessionId }, this.limits);
    const migrating = storedKid !== undefined && storedKid !== sealed.kid;
    if (migrating) {
      const still = await this.touch(sessionId, storedKid, ttlMs);
      if (still !== "touched") return still === "gone" ? { kind: "gone" } : { kind: "unavailable" };
    }
    const mode = storedKid === undefined || migrating ? "create" : "update";
    let outcome = await this.store.set(sealed.storeKey, sealed.envelope, ttlMs, mode);
    // Another isolate migrated it first: overwrite that copy instead.
    if (migrating && outcome.ok && !outcome.value) outcome = await this.store.set(sealed.storeKey, sealed.envelope, ttlMs, "update");
    if (!outcome.ok) return { kind: "unavailable" };
    if (!outcome.value) return { kind: "gone" };
    if (migrating) {
      const old = this.keyring.byKid(storedKid);
      if (old) await this.store.delete([await this.keyring.storeKey(old, sessionId)]);
    }
    return { kind: "written", kid: sealed.kid, tag: fingerprint(sealed.envelope) };
  }

  async touch(sessionId: string, kid: string, ttlMs: number): Promise<TouchResult> {
    const secret = this.keyring.byKid(kid);
    if (!secret) return "gone";
    const outcome = await this.store.touch(await this.keyring.storeKey(secret, sessionId), ttlMs);
    if (!outcome.ok) return "unavailable";
    return outcome.value ? "touched" : "gone";
  }

  /** Deletes the session under every secret's key. */
  async destroy(sessionId: string): Promise<boolean> {
    const outcome = await this.store.delete(await this.candidateKeys(sessionId));
    return outcome.ok;
  }

  private candidateKeys(sessionId: string): Promise<string[]> {
    return Promise.all(this.keyring.secrets.map((secret) => this.keyring.storeKey(secret, sessionId)));
  }
}
