// First-tier memory, measured in a Node child started with --expose-gc by bench/run.mjs:
//   node --expose-gc bench/memory-child.mjs '<json options>'
// options: { nodeLib, recordJson, sessions, maxBytes, maxEntries }
// 1. fills a MemoryTier (the project's, bundled for Node) with distinct sessions shaped as
//    the router keeps them (record parsed from JSON + its JSON text, as
//    SessionManager.entryFromStore builds them) up to its caps, and compares the real heap
//    growth (heapUsed after − before, each after full GCs) with the bytes the tier accounts;
// 2. churns on to `sessions` sets in total and reports what is kept;
// 3. does step 1 for a small session (CSRF token only) in a tier of its own.
// Prints one JSON line on stdout.
import { randomBytes } from "node:crypto";

const options = JSON.parse(process.argv[2] ?? "{}");
const gc = globalThis.gc;
if (typeof gc !== "function") throw new Error("run with --expose-gc");

const { MemoryTier, entryBytes } = await import(options.nodeLib);
const template = JSON.parse(options.recordJson);
const now = Date.now();
const IDLE_MS = 15 * 60_000;

/** Builds distinct entries from `record` (a fresh CSRF token each), parsed like a store read. */
function entryMaker(record) {
  const PLACEHOLDER = "\u0000CSRF\u0000";
  const [before, after] = JSON.stringify({ ...record, csrf: PLACEHOLDER }).split(JSON.stringify(PLACEHOLDER));
  return () => {
    const text = `${before}"${randomBytes(32).toString("base64url")}"${after}`;
    const parsed = JSON.parse(text);
    return {
      record: Object.freeze(parsed), // as the manager keeps it: the parsed record only
      size: text.length,
      lastAccess: now,
      validatedAt: now,
      stored: { kid: "AbCdEfGh", tag: randomBytes(16).toString("base64url").slice(0, 22) },
      ttlSetAt: now,
      dirty: false,
    };
  };
}
const newId = () => randomBytes(32).toString("base64url");

function heap() {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** Fills a fresh tier up to (not past) its caps, then churns on to `total` sets. */
function measure(makeEntry, total) {
  const tier = new MemoryTier({
    maxEntries: options.maxEntries,
    maxBytes: options.maxBytes,
    idleTimeoutMs: IDLE_MS,
  });
  const heapBefore = heap();
  let sets = 0;
  for (;;) {
    const entry = makeEntry();
    const { entries, bytes } = tier.stats();
    // the tier's own estimate; stop just before the first eviction
    if (entries + 1 > options.maxEntries || bytes + entryBytes(entry) > options.maxBytes) break;
    tier.set(newId(), entry, now);
    sets++;
  }
  const full = tier.stats();
  const heapFull = heap();
  for (; sets < total; sets++) tier.set(newId(), makeEntry(), now);
  const churned = tier.stats();
  const heapChurned = heap();
  return {
    sets,
    fill: {
      entries: full.entries,
      accountedBytes: full.bytes,
      accountedBytesPerEntry: full.bytes / full.entries,
      heapGrowthBytes: heapFull - heapBefore,
      heapBytesPerEntry: (heapFull - heapBefore) / full.entries,
    },
    churn: {
      entries: churned.entries,
      accountedBytes: churned.bytes,
      evictions: churned.evictions,
      expirations: churned.expirations,
      heapGrowthBytes: heapChurned - heapBefore,
      heapBytesPerEntry: (heapChurned - heapBefore) / churned.entries,
    },
  };
}

const started = performance.now();
const reference = measure(entryMaker(template), options.sessions);
const small = measure(entryMaker({ v: 1, iat: template.iat, exp: template.exp }), 0);

process.stdout.write(
  `${JSON.stringify({
    sessions: reference.sets,
    maxBytes: options.maxBytes,
    maxEntries: options.maxEntries,
    recordJsonBytes: JSON.stringify(template).length,
    fill: reference.fill,
    churn: reference.churn,
    small: small.fill,
    seconds: (performance.now() - started) / 1000,
  })}\n`,
);
