/**
 * An example custom session store driver for approuter-edge, on a Cloudflare KV namespace.
 *
 * It implements the custom store interface of SAP's application router
 * (`EXT_SESSION_MGT.externalStoreFilePath`). The router hands it sealed envelopes under
 * hashed keys; it never sees a session id or plaintext.
 *
 * Use: bind a KV namespace under the name you give as `instanceName`, and point the
 * `approuter-custom-store` alias in wrangler.toml at this file (see README).
 *
 * KV is eventually consistent (a change may take up to 60 s to reach other locations)
 * and its shortest TTL is 60 s: fine for sessions, but cross-location revalidation is
 * then bounded by KV's propagation, not by the router's `revalidateAfter`.
 */
interface StoredSession {
  envelope: string;
}

interface Metadata {
  expiresAt: number;
}

const PREFIX = "session:";
const MIN_TTL_SECONDS = 60; // KV's minimum expirationTtl

export class KvSessionStore {
  constructor(
    private readonly kv: KVNamespace,
    private readonly now: () => number = Date.now,
  ) {}

  async clear(): Promise<void> {
    for await (const name of this.names()) await this.kv.delete(name);
  }

  async destroy(sessionId: string): Promise<void> {
    await this.kv.delete(PREFIX + sessionId);
  }

  async get(sessionId: string): Promise<StoredSession | null> {
    const { value, metadata } = await this.kv.getWithMetadata<Metadata>(PREFIX + sessionId, "text");
    if (value === null || (metadata && metadata.expiresAt <= this.now())) return null;
    try {
      const parsed = JSON.parse(value) as StoredSession;
      return typeof parsed.envelope === "string" ? parsed : null;
    } catch {
      return null;
    }
  }

  async length(): Promise<number> {
    let count = 0;
    for await (const _ of this.names()) count++;
    return count;
  }

  /** Remaining lifetime in ms; 0 when absent. */
  async ttl(sessionId: string): Promise<number> {
    const { value, metadata } = await this.kv.getWithMetadata<Metadata>(PREFIX + sessionId, "text");
    if (value === null || !metadata) return 0;
    return Math.max(0, metadata.expiresAt - this.now());
  }

  async set(sessionId: string, session: StoredSession, timeout: number): Promise<void> {
    // Expiry is kept exact in metadata; KV's own TTL (whole seconds, ≥ 60) only cleans up.
    const expiresAt = this.now() + timeout;
    await this.kv.put(PREFIX + sessionId, JSON.stringify({ envelope: session.envelope }), {
      expirationTtl: Math.max(MIN_TTL_SECONDS, Math.ceil(timeout / 1000)),
      metadata: { expiresAt } satisfies Metadata,
    });
  }

  async exists(sessionId: string): Promise<boolean> {
    return (await this.get(sessionId)) !== null;
  }

  async resetTimer(sessionId: string, timeout: number): Promise<void> {
    const current = await this.get(sessionId);
    if (current) await this.set(sessionId, current, timeout);
  }

  private async *names(): AsyncGenerator<string> {
    let cursor: string | undefined;
    do {
      const page: KVNamespaceListResult<unknown> = await this.kv.list({
        prefix: PREFIX,
        ...(cursor ? { cursor } : {}),
      });
      for (const key of page.keys) yield key.name;
      cursor = page.list_complete ? undefined : page.cursor;
    } while (cursor);
  }
}

let store: KvSessionStore | undefined;

/** The router calls this once per isolate with `{ instanceName, storageType, env }`. */
export function getStore(context: { instanceName: string; env: Record<string, unknown> }): KvSessionStore {
  if (!store) {
    const kv = context.env[context.instanceName] as KVNamespace | undefined;
    if (!kv || typeof kv.getWithMetadata !== "function") {
      throw new Error(
        `no KV namespace bound as "${context.instanceName}" (the EXT_SESSION_MGT instanceName)`,
      );
    }
    store = new KvSessionStore(kv);
  }
  return store;
}
