import type { SessionRecord } from "./record.js";

/**
 * The first tier: one per isolate, a Map kept in least-recently-used order (a hit
 * moves the entry to the end), bounded by entries and by estimated bytes, with idle
 * and absolute expiry. It holds plain data only.
 */
export interface MemoryEntry {
  /** Frozen; shared with the requests that use the session. */
  record: SessionRecord;
  /** Length of the record's JSON: the basis of the byte estimate. */
  size: number;
  lastAccess: number;
  /** When this copy was last known to match the store (or was made here). */
  validatedAt: number;
  /** What the store holds for it: the secret's kid and the envelope fingerprint. Unset: not stored yet. */
  stored?: { kid: string; tag: string };
  /** When the store TTL was last set (write or touch). */
  ttlSetAt: number;
  /** A write to the store failed; the next request retries it. */
  dirty: boolean;
  /** The back-channel index is not known to hold it: the next write or touch files it. */
  unfiled?: boolean;
}

export interface MemoryTierOptions {
  maxEntries: number;
  maxBytes: number;
  idleTimeoutMs: number;
}

export interface MemoryTierStats {
  entries: number;
  bytes: number;
  evictions: number;
  expirations: number;
}

/**
 * An upper bound of what an entry costs in the isolate's heap: the parsed record's
 * strings (at most two bytes a character) plus objects, Map slot and id. The benchmark
 * compares it with the real heap growth.
 */
const ENTRY_OVERHEAD_BYTES = 1024;

export function entryBytes(entry: MemoryEntry): number {
  return ENTRY_OVERHEAD_BYTES + entry.size * 2;
}

export class MemoryTier {
  // The size is kept beside the entry, so accounting stays right even if a caller mutates the entry.
  private readonly entries = new Map<string, { entry: MemoryEntry; size: number }>();
  private bytes = 0;
  private evictions = 0;
  private expirations = 0;

  constructor(private readonly options: MemoryTierOptions) {}

  /** A live entry, now the most recently used (access stamped); expired entries are dropped. */
  get(id: string, now: number): MemoryEntry | undefined {
    const slot = this.entries.get(id);
    if (!slot) return undefined;
    if (this.isExpired(slot.entry, now)) {
      this.remove(id);
      this.expirations++;
      return undefined;
    }
    // Moving it to the end and stamping the access keeps the Map ordered by last access,
    // which lets `shrink` sweep expired entries from the front.
    slot.entry.lastAccess = now;
    this.entries.delete(id);
    this.entries.set(id, slot);
    return slot.entry;
  }

  /** The entry as it is, expired or not, without touching order or access time. */
  peek(id: string): MemoryEntry | undefined {
    return this.entries.get(id)?.entry;
  }

  isExpired(entry: MemoryEntry, now: number): boolean {
    return now - entry.lastAccess >= this.options.idleTimeoutMs || entry.record.exp <= now;
  }

  set(id: string, entry: MemoryEntry, now: number): void {
    this.remove(id);
    const size = entryBytes(entry);
    if (size > this.options.maxBytes) return; // could never fit; the store still has it
    this.entries.set(id, { entry, size });
    this.bytes += size;
    this.shrink(now);
  }

  delete(id: string): void {
    this.remove(id);
  }

  /** Removes every entry whose record matches; returns how many (rare events only: O(n)). */
  deleteWhere(matches: (entry: MemoryEntry) => boolean): number {
    let removed = 0;
    for (const [id, slot] of this.entries) {
      if (matches(slot.entry)) {
        this.remove(id);
        removed++;
      }
    }
    return removed;
  }

  stats(): MemoryTierStats {
    return {
      entries: this.entries.size,
      bytes: this.bytes,
      evictions: this.evictions,
      expirations: this.expirations,
    };
  }

  /** Drops expired entries from the cold end, then evicts until within both bounds. */
  private shrink(now: number): void {
    for (const [id, slot] of this.entries) {
      if (!this.isExpired(slot.entry, now)) break;
      this.remove(id);
      this.expirations++;
    }
    while (this.entries.size > this.options.maxEntries || this.bytes > this.options.maxBytes) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.remove(oldest.value);
      this.evictions++;
    }
  }

  private remove(id: string): void {
    const slot = this.entries.get(id);
    if (!slot) return;
    this.entries.delete(id);
    this.bytes -= slot.size;
  }
}
