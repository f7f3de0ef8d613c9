import { base64url } from "jose";
import type { ExternalTier } from "./external-tier.js";
import { isWellFormedSessionId, newSessionId, type RandomBytes } from "./id.js";
import type { MemoryEntry, MemoryTier } from "./memory-tier.js";
import { deepFreeze, newRecord, type SessionRecord } from "./record.js";
import type { SyncSlot } from "../stores/types.js";
import { copyIsCurrent, namesNewerWrite, revalidateCopy } from "./sync-token.js";

/**
 * Owns the two tiers. Reads: first tier, revalidated against the store once its copy is
 * older than `revalidateAfterMs`; on a miss, one store read recovers it. Writes: only
 * when the record changed (awaited, so the next request on any isolate sees it); an
 * unchanged session only has its store TTL extended, at most once per
 * `touchIntervalMs`, after the response (`waitUntil`). A store failure never ends a
 * session: the first tier keeps serving it and the write is retried on the next request.
 */
export interface SessionManagerOptions {
  memory: MemoryTier;
  external?: ExternalTier;
  idleTimeoutMs: number;
  absoluteTimeoutMs: number;
  revalidateAfterMs: number;
  touchIntervalMs: number;
  now: () => number;
  randomBytes?: RandomBytes;
  log?: (event: string, fields?: Record<string, unknown>) => void;
  /** Index entries a record is filed under in the store (back-channel logout by `sid`/`sub`). */
  indexesOf?: (record: SessionRecord) => string[];
}

/**
 * A session as one request sees it. Its `record` is frozen and shared with the first
 * tier: to change the session, assign a new record (`session.record = { ...record, csrf }`).
 */
export interface Session {
  readonly id: string;
  record: SessionRecord;
  readonly isNew: boolean;
  /** The record as loaded or last committed: the session changed when `record` is another object. */
  base: SessionRecord | undefined;
  /** When the store TTL was last set, as known when the session was loaded (0: unknown). */
  readonly ttlSetAt?: number;
  /** Read-your-writes across isolates (src/session/sync-token.ts): carried into every store call for it. */
  sync?: SyncSlot;
}

export type LoadResult =
  | { kind: "session"; session: Session }
  /** `ended`: the record of a session this request found timed out (idle or absolute). */
  | { kind: "none"; ended?: SessionRecord }
  /** A well-formed cookie whose session could not be looked up: the store is unavailable. */
  | { kind: "unknown" };

export type CommitResult = "written" | "unchanged" | "memory-only" | "gone";

export interface SessionMetrics {
  memoryHits: number;
  recoveries: number;
  misses: number;
  revalidations: number;
  revalidatedGone: number;
  rejectedBlobs: number;
  created: number;
  writes: number;
  writesSkippedUnchanged: number;
  writeFailures: number;
  touches: number;
  destroyed: number;
  /** Sessions found timed out (idle or absolute) by a request. */
  timedOut: number;
}

export class SessionManager {
  readonly metrics: SessionMetrics = {
    memoryHits: 0,
    recoveries: 0,
    misses: 0,
    revalidations: 0,
    revalidatedGone: 0,
    rejectedBlobs: 0,
    created: 0,
    writes: 0,
    writesSkippedUnchanged: 0,
    writeFailures: 0,
    touches: 0,
    destroyed: 0,
    timedOut: 0,
  };

  constructor(private readonly options: SessionManagerOptions) {}

  /**
   * The CSRF token of a session: an HMAC of its id, so every request and every isolate
   * that gives a session its first token gives the same one (no lost update between
   * concurrent token fetches). Keyed by the session secret when there is one; in memory
   * only, by a random per-isolate key (sessions do not leave the isolate then).
   */
  async csrfTokenFor(sessionId: string): Promise<string> {
    if (this.options.external) return this.options.external.csrfTokenFor(sessionId);
    this.csrfKey ??= (await crypto.subtle.generateKey({ name: "HMAC", hash: "SHA-256" }, false, ["sign"])) as CryptoKey;
    const mac = await crypto.subtle.sign("HMAC", this.csrfKey, new TextEncoder().encode(`csrf\0${sessionId}`));
    return base64url.encode(new Uint8Array(mac));
  }

  private csrfKey: CryptoKey | undefined;

  get memory(): MemoryTier {
    return this.options.memory;
  }

  get external(): ExternalTier | undefined {
    return this.options.external;
  }

  /** `sync`: the session's read-your-writes slot from its cookie (stores with sync tokens). */
  async load(cookieValue: string | undefined, sync?: SyncSlot): Promise<LoadResult> {
    if (!isWellFormedSessionId(cookieValue)) return { kind: "none" };
    const id = cookieValue;
    const { memory, external, now } = this.options;
    const t = now();
    const held = memory.peek(id);
    if (held && memory.isExpired(held, t)) {
      // Timed out here: SAP tells the destinations (logoutPath) on this next encounter.
      this.metrics.timedOut++;
      await this.destroy(id);
      return { kind: "none", ended: held.record };
    }
    let entry = memory.get(id, t);
    if (entry) {
      // A request naming a write newer than this copy (sync-token.ts) revalidates it now.
      const newerWrite = namesNewerWrite(entry.record, sync);
      if (external && !entry.dirty && (newerWrite || t - entry.validatedAt >= this.options.revalidateAfterMs)) {
        this.metrics.revalidations++;
        // The check also slides the store TTL where that is free (GETEX): an active session
        // then needs no separate touch.
        const slide = external.slidesTtlOnRead ? this.options.idleTimeoutMs : undefined;
        const read = copyIsCurrent(external, entry, newerWrite, sync) ? await revalidateCopy(external, id, entry, this.options.idleTimeoutMs, sync) : await external.read(id, slide, sync);
        if (read.kind === "missing") {
          this.noteRejected(read.rejected);
          this.metrics.revalidatedGone++;
          memory.delete(id);
          return { kind: "none" };
        }
        if (read.kind === "found") {
          const ttlSetAt = slide === undefined ? entry.ttlSetAt : t;
          entry = read.tag === entry.stored?.tag ? { ...entry, validatedAt: t, ttlSetAt } : this.entryFromStore(read, t, ttlSetAt);
          memory.set(id, entry, t);
        }
        // unavailable: the copy in memory is the best there is; keep serving it.
      } else {
        this.metrics.memoryHits++;
      }
      if (entry.record.exp <= t) return this.expire(id, entry.record);
      return { kind: "session", session: { id, record: entry.record, isNew: false, base: entry.record, ttlSetAt: entry.ttlSetAt, ...(sync ? { sync } : {}) } };
    }
    if (!external) {
      this.metrics.misses++;
      return { kind: "none" };
    }
    // One round trip: the read also slides the store TTL (GETEX; a custom store: get + resetTimer).
    const read = await external.read(id, this.options.idleTimeoutMs, sync);
    if (read.kind === "unavailable") return { kind: "unknown" };
    if (read.kind === "missing") {
      this.noteRejected(read.rejected);
      this.metrics.misses++;
      return { kind: "none" };
    }
    if (read.record.exp <= t) return this.expire(id, read.record);
    this.metrics.recoveries++;
    const recovered = this.entryFromStore(read, t, t);
    memory.set(id, recovered, t);
    return { kind: "session", session: { id, record: recovered.record, isNew: false, base: recovered.record, ttlSetAt: t, ...(sync ? { sync } : {}) } };
  }

  create(): Session {
    this.metrics.created++;
    const record = newRecord(this.options.now(), this.options.absoluteTimeoutMs);
    return { id: newSessionId(this.options.randomBytes), record, isNew: true, base: undefined };
  }

  /**
   * Persists what the request did to the session. `waitUntil` carries the work that
   * may finish after the response (TTL extension of an unchanged session).
   */
  async commit(session: Session, waitUntil: (promise: Promise<unknown>) => void): Promise<CommitResult> {
    const { memory, external, now } = this.options;
    const t = now();
    const ttlMs = Math.min(this.options.idleTimeoutMs, session.record.exp - t);
    if (ttlMs <= 0) {
      await this.destroy(session.id);
      return "gone";
    }
    const previous = session.isNew ? undefined : memory.get(session.id, t);
    if (!session.isNew && !previous && !external) return "gone"; // evicted or destroyed meanwhile
    const changed = session.isNew || session.record !== session.base;
    if (!changed && !previous?.dirty) {
      this.metrics.writesSkippedUnchanged++;
      // Extend the store TTL at most once per touch interval, after the response. An entry
      // evicted during the request is touched under the newest key (best effort).
      const kid = previous ? previous.stored?.kid : external?.currentKid;
      const ttlSetAt = previous?.ttlSetAt ?? session.ttlSetAt ?? 0;
      if (external && kid && t - ttlSetAt >= this.options.touchIntervalMs) {
        if (previous) previous.ttlSetAt = t;
        this.metrics.touches++;
        waitUntil(
          external.touch(session.id, kid, ttlMs, session.sync).then((result) => {
            if (result === "gone") memory.delete(session.id);
          }),
        );
      }
      return "unchanged";
    }
    const record = deepFreeze(session.record);
    const entry: MemoryEntry = {
      record,
      size: JSON.stringify(record).length,
      lastAccess: t,
      validatedAt: t,
      ttlSetAt: previous?.ttlSetAt ?? t,
      dirty: false,
      ...(previous?.stored ? { stored: previous.stored } : {}),
    };
    if (!external) {
      memory.set(session.id, entry, t);
      session.base = record;
      return "memory-only";
    }
    this.metrics.writes++;
    // Never stored (its first write failed): create. No longer in memory (evicted during
    // the request): update under the newest key, so a session destroyed meanwhile stays so.
    const storedKid = session.isNew ? undefined : previous ? previous.stored?.kid : external.currentKid;
    const written = await external.write(session.id, record, ttlMs, storedKid, session.sync);
    if (written.kind === "gone") {
      memory.delete(session.id);
      return "gone";
    }
    if (written.kind === "written") {
      entry.stored = { kid: written.kid, tag: written.tag };
      entry.ttlSetAt = t;
      const indexes = this.options.indexesOf?.(record) ?? [];
      const indexChanged = session.isNew || written.moved || indexes.join() !== (this.options.indexesOf?.(previous?.record ?? record) ?? []).join();
      if (indexes.length > 0 && indexChanged) await external.addToIndexes(written.storeKey, indexes, record.exp - t);
    } else {
      this.metrics.writeFailures++;
      entry.dirty = true;
    }
    memory.set(session.id, entry, t);
    session.base = record;
    return written.kind === "written" ? "written" : "memory-only";
  }

  /**
   * Reads the session again from the store now, whatever the revalidation window says
   * (another isolate may just have changed it). Memory only: the first tier's copy.
   */
  async reread(id: string): Promise<Session | null> {
    const { memory, external, now } = this.options;
    const t = now();
    if (!external) {
      const entry = memory.get(id, t);
      return entry ? { id, record: entry.record, isNew: false, base: entry.record } : null;
    }
    const read = await external.read(id);
    if (read.kind !== "found") {
      if (read.kind === "missing") memory.delete(id);
      return null;
    }
    const previous = memory.get(id, t);
    const entry = this.entryFromStore(read, t, previous?.ttlSetAt ?? 0);
    memory.set(id, entry, t);
    return { id, record: entry.record, isNew: false, base: entry.record };
  }

  /**
   * Ends every session filed under `index` (e.g. all sessions of one provider `sid`):
   * in the store, so every isolate drops them within the revalidation window, and in
   * this isolate's first tier at once.
   */
  async destroyIndexed(index: string): Promise<number | "unavailable"> {
    const indexesOf = this.options.indexesOf;
    const local = indexesOf ? this.options.memory.deleteWhere((entry) => indexesOf(entry.record).includes(index)) : 0;
    this.metrics.destroyed += local;
    if (!this.options.external) return local;
    return this.options.external.destroyIndexed(index);
  }

  /**
   * Ends the session in both tiers. When the store cannot be reached, the deletion is
   * retried after the response (`waitUntil`) and `false` is returned.
   */
  async destroy(id: string, waitUntil?: (promise: Promise<unknown>) => void): Promise<boolean> {
    this.metrics.destroyed++;
    this.options.memory.delete(id);
    const external = this.options.external;
    if (!external || (await external.destroy(id))) return true;
    this.options.log?.("session.destroy.warn", { retry: Boolean(waitUntil) });
    waitUntil?.(external.destroyLater(id));
    return false;
  }

  private async expire(id: string, record: SessionRecord): Promise<LoadResult> {
    this.metrics.timedOut++;
    await this.destroy(id);
    return { kind: "none", ended: record };
  }

  private entryFromStore(read: { record: SessionRecord; kid: string; tag: string }, t: number, ttlSetAt: number): MemoryEntry {
    return { record: deepFreeze(read.record), size: JSON.stringify(read.record).length, lastAccess: t, validatedAt: t, stored: { kid: read.kid, tag: read.tag }, ttlSetAt, dirty: false };
  }

  private noteRejected(reason: string | undefined): void {
    if (reason === undefined) return;
    this.metrics.rejectedBlobs++;
    this.options.log?.("session.rejected", { reason });
  }
}
