import type { StoredSession, UserCustomStore } from "../../src/stores/custom.js";

/**
 * A custom store driver whose methods are all synchronous (SAP's router crashes on a
 * synchronous `set`; this router must not). Timeouts are milliseconds.
 */
export class SyncCustomStore implements UserCustomStore {
  private readonly data = new Map<string, { session: StoredSession; expiresAt: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  private live(id: string) {
    const e = this.data.get(id);
    if (e && e.expiresAt <= this.now()) {
      this.data.delete(id);
      return undefined;
    }
    return e;
  }

  clear(): void {
    this.data.clear();
  }
  destroy(id: string): void {
    this.data.delete(id);
  }
  get(id: string): StoredSession | null {
    const e = this.live(id);
    return e ? { ...e.session } : null;
  }
  length(): number {
    return [...this.data.keys()].filter((k) => this.live(k)).length;
  }
  ttl(id: string): number {
    const e = this.live(id);
    return e ? e.expiresAt - this.now() : 0;
  }
  set(id: string, session: StoredSession, timeout: number): void {
    this.data.set(id, { session: { ...session }, expiresAt: this.now() + timeout });
  }
  exists(id: string): boolean {
    return this.live(id) !== undefined;
  }
  resetTimer(id: string, timeout: number): void {
    const e = this.live(id);
    if (e) e.expiresAt = this.now() + timeout;
  }
}
