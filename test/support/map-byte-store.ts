import type { ByteStore } from "../../src/stores/types.js";

/** An in-memory byte store with a settable clock, plus switches to make it fail. */
export class MapByteStore implements ByteStore {
  readonly slidesTtlOnRead = true;
  readonly data = new Map<string, { value: string; expiresAt: number }>();
  calls: string[] = [];
  failWith: Error | undefined;
  /** Only these operations fail (with `failWith`, or a generic error), e.g. `["addToSet"]`. */
  failOps: string[] | undefined;
  hang = false;

  constructor(public now: () => number = Date.now) {}

  private check(op: string): Promise<void> {
    this.calls.push(op);
    if (this.hang) return new Promise(() => {});
    if (this.failOps)
      return this.failOps.includes(op)
        ? Promise.reject(this.failWith ?? new Error(`${op} failed`))
        : Promise.resolve();
    if (this.failWith) return Promise.reject(this.failWith);
    return Promise.resolve();
  }

  private live(key: string) {
    const e = this.data.get(key);
    if (e && e.expiresAt <= this.now()) {
      this.data.delete(key);
      return undefined;
    }
    return e;
  }

  async get(key: string, touchMs?: number) {
    await this.check(touchMs === undefined ? "get" : "getex");
    const e = this.live(key);
    if (e && touchMs !== undefined) e.expiresAt = this.now() + touchMs;
    return e?.value ?? null;
  }

  async set(key: string, value: string, ttlMs: number, mode: "create" | "update") {
    await this.check("set");
    const exists = this.live(key) !== undefined;
    if (mode === "create" ? exists : !exists) return false;
    this.data.set(key, { value, expiresAt: this.now() + ttlMs });
    return true;
  }

  async touch(key: string, ttlMs: number) {
    await this.check("touch");
    const e = this.live(key);
    if (!e) return false;
    e.expiresAt = this.now() + ttlMs;
    return true;
  }

  async delete(keys: readonly string[]) {
    await this.check("delete");
    for (const k of keys) this.data.delete(k);
  }

  async addToSet(key: string, members: readonly string[], ttlMs: number) {
    await this.check("addToSet");
    const current: string[] = JSON.parse(this.live(key)?.value ?? "[]");
    this.data.set(key, {
      value: JSON.stringify([...new Set([...current, ...members])]),
      expiresAt: this.now() + ttlMs,
    });
  }

  async setMembers(key: string) {
    await this.check("setMembers");
    return JSON.parse(this.live(key)?.value ?? "[]") as string[];
  }
}
