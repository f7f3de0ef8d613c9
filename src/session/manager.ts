import { base64url } from "jose";
import type { ExternalTier } from "./external-tier.js";
import { isWellFormedSessionId, newSessionId, type RandomBytes } from "./id.js";
import type { MemoryEntry, MemoryTier } from "./memory-tier.js";
import { deepFreeze, newRecord, type SessionRecord } from "./record.js";
import { timingSafeEqual } from "../security/constant-time.js";
import {
  parseStatelessCookie,
  STATELESS_TAG_KIND,
  statelessCookieValue,
  statelessSigned,
  statelessTag,
} from "./stateless.js";
import type { SyncSlot } from "../stores/types.js";
import { copyIsCurrent, revalidateCopy } from "./revalidate.js";
import { namesNewerWrite } from "./sync-token.js";

/**
 * Owns the two tiers. Reads: first tier, revalidated against the store once its copy is
 * older than `revalidateAfterMs`; on a miss, one store read recovers it. Writes: only
 * when the record changed (awaited, so the next request on any isolate sees it); an
 * unchanged session only has its store TTL extended, at most once per
 * `touchIntervalMs`, after the response (`waitUntil`). A store failure never ends a
 * session: the first tier keeps serving it and the write is retried on the next request.
 * A session that holds nothing but its CSRF token is in neither tier: its cookie carries
 * it (stateless.ts) until it holds more.
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
  /**
   * Not stored anywhere (yet): a new session, or one whose cookie carries it whole
   * (stateless.ts). While it holds nothing but its CSRF token it stays so; once it holds
   * more, its commit stores it under its id.
   */
  stateless?: boolean;
  /** Read-your-writes across isolates (src/session/sync-token.ts): carried into every store call for it. */
  sync?: SyncSlot;
}

export type LoadResult =
  | { kind: "session"; session: Session }
  /** `ended`: the record of a session this request found timed out (idle or absolute). */
  | { kind: "none"; ended?: SessionRecord }
  /** A well-formed cookie whose session could not be looked up: the store is unavailable. */
  | { kind: "unknown" };

/** `stateless`: nothing to keep but the CSRF token, so nothing was kept (the cookie carries it). */
export type CommitResult = "written" | "unchanged" | "memory-only" | "gone" | "stateless";

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
  /** Copies idle here whose session the store still held (active on another isolate): adopted, not ended. */
  idleElsewhere: number;
  /** Sessions holding nothing but their CSRF token, handed out without storing anything. */
  statelessIssued: number;
  /** Such sessions that came to hold something and were stored. */
  statelessStored: number;
  /** Writes stored without filing the session in the back-channel index (repaired later). */
  filingFailures: number;
  /** Attempts to file a stored session whose filing had failed. */
  filingRepairs: number;
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
    idleElsewhere: 0,
    statelessIssued: 0,
    statelessStored: 0,
    filingFailures: 0,
    filingRepairs: 0,
  };

  constructor(private readonly options: SessionManagerOptions) {}

  /**
   * The CSRF token of a session: an HMAC of its id, so every request and every isolate
   * that gives a session its first token gives the same one (no lost update between
   * concurrent token fetches). Keyed by the session secret when there is one; in memory
   * only, by a random per-isolate key (sessions do not leave the isolate then).
   */
  async csrfTokenFor(sessionId: string): Promise<string> {
    return this.mac(0, "csrf", sessionId);
  }

  /**
   * The cookie value of a session that holds nothing but its token (stateless.ts): its
   * id, creation time and a MAC under the newest secret.
   */
  async statelessCookie(session: Session): Promise<string> {
    const signed = statelessSigned(session.id, session.record.iat);
    return statelessCookieValue(signed, statelessTag(await this.mac(0, STATELESS_TAG_KIND, signed)));
  }

  /**
   * HMACs under the session secrets, newest first (index 0). In memory only, under one
   * random per-isolate key: sessions do not leave the isolate then.
   */
  private async mac(index: number, kind: string, value: string): Promise<string> {
    if (this.options.external) return this.options.external.mac(index, kind, value);
    this.localKey ??= (await crypto.subtle.generateKey({ name: "HMAC", hash: "SHA-256" }, false, [
      "sign",
    ])) as CryptoKey;
    const mac = await crypto.subtle.sign(
      "HMAC",
      this.localKey,
      new TextEncoder().encode(`${kind}\0${value}`),
    );
    return base64url.encode(new Uint8Array(mac));
  }

  private get macKeys(): number {
    return this.options.external?.secretCount ?? 1;
  }

  private localKey: CryptoKey | undefined;

  /**
   * The session a stateless cookie carries, when its MAC holds under one of the
   * configured secrets and it is within its absolute lifetime: its token recomputed under
   * that secret. No store call, no first-tier entry.
   */
  private async openStateless(cookieValue: string | undefined): Promise<Session | null> {
    const cookie = parseStatelessCookie(cookieValue);
    if (!cookie) return null;
    const t = this.options.now();
    const exp = cookie.iat + this.options.absoluteTimeoutMs;
    if (exp <= t || cookie.iat > t + 60_000) return null;
    for (let i = 0; i < this.macKeys; i++) {
      if (!timingSafeEqual(statelessTag(await this.mac(i, STATELESS_TAG_KIND, cookie.signed)), cookie.tag))
        continue;
      const record = deepFreeze<SessionRecord>({
        v: 1,
        iat: cookie.iat,
        exp,
        csrf: await this.mac(i, "csrf", cookie.id),
      });
      return { id: cookie.id, record, isNew: false, base: record, stateless: true };
    }
    return null;
  }

  /** Whether a stateless session still holds nothing but the token it was given (or none). */
  private async holdsOnlyItsToken(session: Session): Promise<boolean> {
    const { record, base } = session;
    if (record === base) return true;
    if (record.data !== undefined && Object.keys(record.data).length > 0) return false;
    if (record.csrf === undefined || record.csrf === base?.csrf) return true;
    return base === undefined && record.csrf === (await this.csrfTokenFor(session.id));
  }

  get memory(): MemoryTier {
    return this.options.memory;
  }

  get external(): ExternalTier | undefined {
    return this.options.external;
  }

  /** `sync`: the session's read-your-writes slot from its cookie (stores with sync tokens). */
  async load(cookieValue: string | undefined, sync?: SyncSlot): Promise<LoadResult> {
    if (!isWellFormedSessionId(cookieValue)) {
      const stateless = await this.openStateless(cookieValue);
      return stateless ? { kind: "session", session: stateless } : { kind: "none" };
    }
    const id = cookieValue;
    const { memory, external, now } = this.options;
    const t = now();
    const held = memory.peek(id);
    if (held && memory.isExpired(held, t)) {
      if (held.record.exp <= t || !external) {
        // Timed out for good: SAP tells the destinations (logoutPath) on this next encounter.
        this.metrics.timedOut++;
        await this.destroy(id);
        return { kind: "none", ended: held.record };
      }
      return this.idleHere(id, held, t, external);
    }
    let entry = memory.get(id, t);
    if (entry) {
      // A request naming a write newer than this copy (sync-token.ts) revalidates it now.
      const newerWrite = namesNewerWrite(entry.record, sync);
      if (
        external &&
        !entry.dirty &&
        (newerWrite || t - entry.validatedAt >= this.options.revalidateAfterMs)
      ) {
        this.metrics.revalidations++;
        // The check also slides the store TTL where that is free (GETEX): an active session
        // then needs no separate touch.
        const slide = external.slidesTtlOnRead ? this.options.idleTimeoutMs : undefined;
        const read = copyIsCurrent(external, entry, newerWrite, sync)
          ? await revalidateCopy(external, id, entry, this.options.idleTimeoutMs, sync)
          : await external.read(id, slide, sync);
        if (read.kind === "missing") {
          this.noteRejected(read.rejected);
          this.metrics.revalidatedGone++;
          memory.delete(id);
          return { kind: "none" };
        }
        if (read.kind === "found") {
          const ttlSetAt = slide === undefined ? entry.ttlSetAt : t;
          entry =
            read.tag === entry.stored?.tag
              ? { ...entry, validatedAt: t, ttlSetAt }
              : this.entryFromStore(read, t, ttlSetAt);
          memory.set(id, entry, t);
        }
        // unavailable: the copy in memory is the best there is; keep serving it.
      } else {
        this.metrics.memoryHits++;
      }
      if (entry.record.exp <= t) return this.expire(id, entry.record);
      return {
        kind: "session",
        session: {
          id,
          record: entry.record,
          isNew: false,
          base: entry.record,
          ttlSetAt: entry.ttlSetAt,
          ...(sync ? { sync } : {}),
        },
      };
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
    return {
      kind: "session",
      session: {
        id,
        record: recovered.record,
        isNew: false,
        base: recovered.record,
        ttlSetAt: t,
        ...(sync ? { sync } : {}),
      },
    };
  }

  /** A new session: stateless until it holds more than its CSRF token (nothing stored, nothing held). */
  create(): Session {
    this.metrics.created++;
    const record = newRecord(this.options.now(), this.options.absoluteTimeoutMs);
    return {
      id: newSessionId(this.options.randomBytes),
      record,
      isNew: true,
      base: undefined,
      stateless: true,
    };
  }

  /**
   * Persists what the request did to the session. `waitUntil` carries the work that
   * may finish after the response (TTL extension of an unchanged session).
   */
  async commit(session: Session, waitUntil: (promise: Promise<unknown>) => void): Promise<CommitResult> {
    const { memory, external, now } = this.options;
    if (session.stateless) {
      if (await this.holdsOnlyItsToken(session)) {
        if (session.isNew && session.record.csrf !== undefined) this.metrics.statelessIssued++;
        return "stateless";
      }
      this.metrics.statelessStored++;
    }
    // A stateless session that now holds something is stored as a new one, under its id.
    const fresh = session.isNew || session.stateless === true;
    const t = now();
    const ttlMs = Math.min(this.options.idleTimeoutMs, session.record.exp - t);
    if (ttlMs <= 0) {
      if (!session.stateless) await this.destroy(session.id);
      return "gone";
    }
    const previous = fresh ? undefined : memory.get(session.id, t);
    if (!fresh && !previous && !external) return "gone"; // evicted or destroyed meanwhile
    session.stateless = false;
    const changed = fresh || session.record !== session.base;
    if (!changed && !previous?.dirty) {
      this.metrics.writesSkippedUnchanged++;
      if (external && previous?.unfiled && previous.stored)
        this.repairFiling(session.id, previous, external, waitUntil, t);
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
    const storedKid = fresh ? undefined : previous ? previous.stored?.kid : external.currentKid;
    // Filed in the back-channel index unless known to be filed already under the same
    // entries: a new session, a copy evicted meanwhile, or one whose filing failed is filed.
    const indexes = this.options.indexesOf?.(record) ?? [];
    const filed =
      previous !== undefined &&
      !previous.unfiled &&
      indexes.join() === (this.options.indexesOf?.(previous.record) ?? []).join();
    const written = await external.write(
      session.id,
      record,
      ttlMs,
      storedKid,
      { entries: indexes, ttlMs: record.exp - t, filed },
      session.sync,
    );
    if (written.kind === "gone") {
      memory.delete(session.id);
      return "gone";
    }
    if (written.kind === "written") {
      entry.stored = { kid: written.kid, tag: written.tag };
      entry.ttlSetAt = t;
      if (!written.filed) this.noteUnfiled(entry);
    } else {
      this.metrics.writeFailures++;
      entry.dirty = true;
      if (!filed && indexes.length > 0) entry.unfiled = true;
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
    const local = indexesOf
      ? this.options.memory.deleteWhere((entry) => indexesOf(entry.record).includes(index))
      : 0;
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

  /**
   * This isolate's copy is idle past the timeout, but the user may have been active on
   * another isolate, which slid the store's TTL: with a store, its TTL is the truth. One
   * read (which also slides the TTL) tells: alive, the stored copy is adopted and served;
   * gone, the session has ended (only then are the backends told); unknown (store
   * unavailable), nothing is ended and nobody is told: the copy stays for the next try.
   */
  private async idleHere(
    id: string,
    held: MemoryEntry,
    t: number,
    external: ExternalTier,
  ): Promise<LoadResult> {
    const read = await external.read(id, this.options.idleTimeoutMs);
    if (read.kind === "unavailable") return { kind: "unknown" };
    if (read.kind === "missing") {
      this.noteRejected(read.rejected);
      this.metrics.timedOut++;
      this.options.memory.delete(id); // nothing to delete in the store: it has ended there
      return { kind: "none", ended: held.record };
    }
    if (read.record.exp <= t) return this.expire(id, read.record);
    this.metrics.idleElsewhere++;
    const adopted = this.entryFromStore(read, t, t);
    this.options.memory.set(id, adopted, t);
    return {
      kind: "session",
      session: { id, record: adopted.record, isNew: false, base: adopted.record, ttlSetAt: t },
    };
  }

  /** After the response: files a stored session whose filing failed; confirmed, the mark goes. */
  private repairFiling(
    id: string,
    entry: MemoryEntry,
    external: ExternalTier,
    waitUntil: (p: Promise<unknown>) => void,
    t: number,
  ): void {
    const indexes = this.options.indexesOf?.(entry.record) ?? [];
    if (indexes.length === 0) {
      entry.unfiled = false;
      return;
    }
    this.metrics.filingRepairs++;
    waitUntil(
      external.fileIndexes(id, entry.stored!.kid, indexes, entry.record.exp - t).then((ok) => {
        if (ok) entry.unfiled = false;
      }),
    );
  }

  private noteUnfiled(entry: MemoryEntry): void {
    entry.unfiled = true;
    this.metrics.filingFailures++;
    this.options.log?.("session.index.warn", { retry: true });
  }

  private async expire(id: string, record: SessionRecord): Promise<LoadResult> {
    this.metrics.timedOut++;
    await this.destroy(id);
    return { kind: "none", ended: record };
  }

  private entryFromStore(
    read: { record: SessionRecord; kid: string; tag: string; unfiled?: true },
    t: number,
    ttlSetAt: number,
  ): MemoryEntry {
    return {
      record: deepFreeze(read.record),
      size: JSON.stringify(read.record).length,
      lastAccess: t,
      validatedAt: t,
      stored: { kid: read.kid, tag: read.tag },
      ttlSetAt,
      dirty: false,
      ...(read.unfiled ? { unfiled: true } : {}),
    };
  }

  private noteRejected(reason: string | undefined): void {
    if (reason === undefined) return;
    this.metrics.rejectedBlobs++;
    this.options.log?.("session.rejected", { reason });
  }
}
