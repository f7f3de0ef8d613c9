/**
 * A per-isolate cache of looked-up values with two deadlines per entry: until `freshUntil`
 * an entry is served as it is; until `usableUntil` it is still served, and a background
 * refresh (handed to `waitUntil`) replaces it; after that a request waits for the lookup.
 * One lookup per key at a time (single flight), for foreground and background callers
 * alike. A lookup whose result should not be kept (the service is down) leaves the old
 * entry in place, and background refreshes of that key pause for `retryAfterMs`; where there
 * is no entry it may be kept briefly (`keepIfNone`), so an outage is not asked again by
 * every request. Bounded:
 * the least recently used entry goes first.
 */
export interface Lifetime {
  /** Served without a refresh this long, ms. */
  freshMs: number;
  /** Served at all this long (≥ freshMs), ms. */
  usableMs: number;
}

/** What a lookup returns: the value, and how long to keep it (none: do not keep it). */
export interface Loaded<T> {
  value: T;
  keep?: Lifetime;
  /** Kept this long only where no usable entry exists (a failure must not replace a good entry). */
  keepIfNone?: Lifetime;
}

interface Entry<T> {
  value: T;
  freshUntil: number;
  usableUntil: number;
  /** No background refresh before this (after a failed one). */
  retryAt: number;
}

export interface CacheOptions {
  now: () => number;
  maxEntries?: number;
  /** Pause between background refreshes of a key after one failed. Default 10 s. */
  retryAfterMs?: number;
}

export class RefreshingCache<T> {
  private readonly entries = new Map<string, Entry<T>>();
  private readonly inFlight = new Map<string, Promise<Loaded<T>>>();
  private readonly maxEntries: number;
  private readonly retryAfterMs: number;

  constructor(private readonly options: CacheOptions) {
    this.maxEntries = options.maxEntries ?? 1000;
    this.retryAfterMs = options.retryAfterMs ?? 10_000;
  }

  get size(): number {
    return this.entries.size;
  }

  /** The cached value, or the result of `load` (shared with concurrent callers). */
  async get(
    key: string,
    load: () => Promise<Loaded<T>>,
    waitUntil: (work: Promise<unknown>) => void,
  ): Promise<T> {
    const now = this.options.now();
    const entry = this.entries.get(key);
    if (entry && now < entry.usableUntil) {
      this.touch(key, entry);
      if (now >= entry.freshUntil && now >= entry.retryAt && !this.inFlight.has(key)) {
        waitUntil(
          this.load(key, load).then((loaded) => {
            if (!loaded.keep) entry.retryAt = this.options.now() + this.retryAfterMs;
          }),
        );
      }
      return entry.value;
    }
    return (await this.load(key, load)).value;
  }

  set(key: string, value: T, keep: Lifetime): void {
    const now = this.options.now();
    this.entries.delete(key);
    this.entries.set(key, {
      value,
      freshUntil: now + keep.freshMs,
      usableUntil: now + Math.max(keep.freshMs, keep.usableMs),
      retryAt: 0,
    });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  private load(key: string, load: () => Promise<Loaded<T>>): Promise<Loaded<T>> {
    let pending = this.inFlight.get(key);
    if (!pending) {
      pending = load()
        .then((loaded) => {
          if (loaded.keep) this.set(key, loaded.value, loaded.keep);
          else if (loaded.keepIfNone && !this.usable(key)) this.set(key, loaded.value, loaded.keepIfNone);
          return loaded;
        })
        .finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, pending);
    }
    return pending;
  }

  private usable(key: string): boolean {
    const entry = this.entries.get(key);
    return entry !== undefined && this.options.now() < entry.usableUntil;
  }

  private touch(key: string, entry: Entry<T>): void {
    // Most recently used last (Map order); cheap enough for a few hundred entries.
    this.entries.delete(key);
    this.entries.set(key, entry);
  }
}
