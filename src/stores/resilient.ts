import type { ByteStore, SetMode, SyncSlot } from "./types.js";

/**
 * Store calls with a bounded cost. Every operation has a total time budget (SAP's
 * `defaultRetryTimeout`), a few attempts with exponential pauses (`backOffMultiplier`
 * ms, doubled each time) inside it, and never throws: the caller gets a value and
 * carries on. After an operation fails, the store is skipped for `cooldownMs`, so an
 * outage costs one budget per cooldown, not one per request.
 */
export type StoreFailure = "timeout" | "error" | "skipped";
export type StoreOutcome<T> = { ok: true; value: T } | { ok: false; failure: StoreFailure };

export interface ResilienceOptions {
  budgetMs: number;
  backOffMs: number;
  maxAttempts: number;
  cooldownMs: number;
  now: () => number;
  /** Resolves after `ms`, or early once `signal` aborts; injected so tests can drive the clock. */
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export interface StoreCounters {
  calls: number;
  failures: number;
  timeouts: number;
  skipped: number;
}

export const realSleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    });
  });

export class ResilientStore {
  readonly counters: StoreCounters = { calls: 0, failures: 0, timeouts: 0, skipped: 0 };
  private skipUntil = 0;

  constructor(
    private readonly store: ByteStore,
    private readonly options: ResilienceOptions,
  ) {}

  get(key: string, touchMs?: number, sync?: SyncSlot): Promise<StoreOutcome<string | null>> {
    return this.run(() => this.store.get(key, touchMs, sync));
  }

  set(
    key: string,
    value: string,
    ttlMs: number,
    mode: SetMode,
    sync?: SyncSlot,
  ): Promise<StoreOutcome<boolean>> {
    return this.run(() => this.store.set(key, value, ttlMs, mode, sync));
  }

  touch(key: string, ttlMs: number, sync?: SyncSlot): Promise<StoreOutcome<boolean>> {
    return this.run(() => this.store.touch(key, ttlMs, sync));
  }

  delete(keys: readonly string[], sync?: SyncSlot): Promise<StoreOutcome<void>> {
    return this.run(() => this.store.delete(keys, sync));
  }

  addToSet(key: string, members: readonly string[], ttlMs: number): Promise<StoreOutcome<void>> {
    return this.run(() => this.store.addToSet(key, members, ttlMs));
  }

  setMembers(key: string): Promise<StoreOutcome<string[]>> {
    return this.run(() => this.store.setMembers(key));
  }

  get slidesTtlOnRead(): boolean {
    return this.store.slidesTtlOnRead === true;
  }

  /** See ByteStore.syncTokens. */
  get syncTokens(): boolean {
    return this.store.syncTokens === true;
  }

  /** How long after a failure calls are skipped: when a retry can be worth it. */
  get cooldownMs(): number {
    return this.options.cooldownMs;
  }

  /** Resolves after `ms` on this store's clock. */
  sleep(ms: number): Promise<void> {
    return this.options.sleep(ms);
  }

  /** True while calls are being skipped after a failure. */
  get degraded(): boolean {
    return this.options.now() < this.skipUntil;
  }

  private async run<T>(operation: () => Promise<T>): Promise<StoreOutcome<T>> {
    const { budgetMs, backOffMs, maxAttempts, now, sleep, cooldownMs } = this.options;
    if (this.degraded) {
      this.counters.skipped++;
      return { ok: false, failure: "skipped" };
    }
    const deadline = now() + budgetMs;
    let failure: StoreFailure = "error";
    for (let attempt = 0; attempt < maxAttempts; attempt++) {
      const remaining = deadline - now();
      if (remaining <= 0) {
        failure = "timeout";
        break;
      }
      this.counters.calls++;
      const result = await raceDeadline(operation, remaining, sleep);
      if (result.ok) return result;
      failure = result.failure;
      if (failure === "timeout") break;
      const pause = backOffMs * 2 ** attempt;
      if (attempt + 1 >= maxAttempts || now() + pause >= deadline) break;
      await sleep(pause);
    }
    this.counters.failures++;
    if (failure === "timeout") this.counters.timeouts++;
    this.skipUntil = now() + cooldownMs;
    return { ok: false, failure };
  }
}

async function raceDeadline<T>(
  operation: () => Promise<T>,
  ms: number,
  sleep: ResilienceOptions["sleep"],
): Promise<StoreOutcome<T>> {
  const done = new AbortController(); // stops the deadline timer once the attempt settles
  const attempt = (async (): Promise<StoreOutcome<T>> => {
    try {
      return { ok: true, value: await operation() };
    } catch {
      return { ok: false, failure: "error" };
    }
  })();
  const deadline = sleep(ms, done.signal).then((): StoreOutcome<T> => ({ ok: false, failure: "timeout" }));
  try {
    return await Promise.race([attempt, deadline]);
  } finally {
    done.abort();
  }
}
