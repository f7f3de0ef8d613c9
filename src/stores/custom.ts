import type { ByteStore } from "./types.js";

/**
 * The custom store interface of SAP's application router (EXT_SESSION_MGT
 * `externalStoreFilePath`). Every method may be synchronous or return a Promise.
 * `sessionId` is the router's store key (an HMAC of the session id, never the id);
 * `session` is `{ envelope }`, the sealed session, never plaintext; timeouts are ms.
 */
export interface UserCustomStore {
  clear(): unknown;
  destroy(sessionId: string): unknown;
  get(sessionId: string): unknown;
  length(): unknown;
  ttl(sessionId: string): unknown;
  set(sessionId: string, session: StoredSession, timeout: number): unknown;
  exists(sessionId: string): unknown;
  resetTimer(sessionId: string, timeout: number): unknown;
}

/** What a custom store keeps for one session. */
export interface StoredSession {
  envelope: string;
}

/** What `getStore` receives: enough to find bindings, never the session secret. */
export interface CustomStoreContext {
  instanceName: string;
  storageType: string;
  env: Record<string, unknown>;
}

export interface CustomStoreModule {
  getStore?: (context: CustomStoreContext) => unknown;
}

const METHODS = ["clear", "destroy", "get", "length", "ttl", "set", "exists", "resetTimer"] as const;

/** Names the methods a driver lacks; empty when it has the whole interface. */
export function missingMethods(store: unknown): string[] {
  if (typeof store !== "object" || store === null) return [...METHODS];
  return METHODS.filter((m) => typeof (store as Record<string, unknown>)[m] !== "function");
}

/**
 * Adapts a user driver to a byte store. The create/update conditions are checked with
 * `exists` first: a custom store gets them best-effort, not atomically (documented).
 */
export function adaptCustomStore(store: UserCustomStore): ByteStore {
  return {
    async get(key, touchMs) {
      const value = await store.get(key);
      let envelope: string | null = null;
      if (typeof value === "string")
        envelope = value; // drivers that keep the envelope bare
      else if (
        typeof value === "object" &&
        value !== null &&
        typeof (value as StoredSession).envelope === "string"
      ) {
        envelope = (value as StoredSession).envelope;
      }
      if (envelope !== null && touchMs !== undefined)
        await store.resetTimer(key, Math.max(1, Math.ceil(touchMs)));
      return envelope;
    },
    async set(key, envelope, ttlMs, mode) {
      const exists = Boolean(await store.exists(key));
      if (mode === "create" ? exists : !exists) return false;
      await store.set(key, { envelope }, Math.max(1, Math.ceil(ttlMs)));
      return true;
    },
    async touch(key, ttlMs) {
      if (!(await store.exists(key))) return false;
      await store.resetTimer(key, Math.max(1, Math.ceil(ttlMs)));
      return true;
    },
    async delete(keys) {
      for (const key of keys) await store.destroy(key);
    },
    // Sets are emulated as a JSON list in one entry: read-modify-write, not atomic.
    async addToSet(key, members, ttlMs) {
      const current = await readList(store, key);
      const next = [...new Set([...current, ...members])];
      await store.set(key, { envelope: JSON.stringify(next) }, Math.max(1, Math.ceil(ttlMs)));
    },
    async setMembers(key) {
      return readList(store, key);
    },
  };
}

async function readList(store: UserCustomStore, key: string): Promise<string[]> {
  const value = (await store.get(key)) as StoredSession | null;
  if (!value || typeof value.envelope !== "string") return [];
  try {
    const list: unknown = JSON.parse(value.envelope);
    return Array.isArray(list) ? list.filter((m): m is string => typeof m === "string") : [];
  } catch {
    return [];
  }
}
