import fc from "fast-check";
import { base64url } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_LIMITS, open, seal, type CodecLimits, type SealContext } from "../../src/session/codec.js";
import { ExternalTier } from "../../src/session/external-tier.js";
import { newSessionId } from "../../src/session/id.js";
import { KeyRing } from "../../src/session/keyring.js";
import type { SessionManager } from "../../src/session/manager.js";
import { isSessionRecord } from "../../src/session/record.js";
import { ResilientStore, realSleep } from "../../src/stores/resilient.js";
import { envelopeParts, forgeEnvelope, joinEnvelope } from "../support/envelope-forge.js";
import { MapByteStore } from "../support/map-byte-store.js";
import { SECRET_A, SECRET_B } from "../support/secrets.js";
import { testSessionManager } from "../support/session-manager.js";

/**
 * Tamper resistance, by property: whatever is done to a sealed envelope (or whatever the
 * store hands back instead of one), opening it ends as "no session": `open()` answers
 * `{ ok: false }` (never throws, never another record) and `SessionManager.load` over a
 * store holding the value answers `{ kind: "none" }`. Envelopes are sealed once per file
 * (per run only where the case needs its own plaintext); the numRuns budgets below add up
 * to well over 10,000 cases, counted and checked by the last test.
 */
const NOW = 1_764_090_000_000;
const RECORD = {
  v: 1 as const,
  iat: NOW,
  exp: NOW + 8 * 3600_000,
  csrf: "csrf-token-of-the-session-000000000000000000",
  data: { user: "alice" },
};
const BIG: CodecLimits = { maxEnvelopeChars: 64 * 1024 * 1024, maxPlaintextBytes: 64 * 1024 * 1024 };
const B64URL = [..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"];

/** Cases executed (each corrupted value opened or loaded), runs planned, and properties that failed. */
let cases = 0;
let planned = 0;
let failedProperties = 0;
async function run<Ts extends unknown[]>(property: fc.IAsyncProperty<Ts>, numRuns: number): Promise<void> {
  planned += numRuns;
  try {
    await fc.assert(property, { numRuns });
  } catch (error) {
    failedProperties++;
    throw error;
  }
}

interface Sealed {
  envelope: string;
  storeKey: string;
  /** Ciphertext bytes mod 3: 1 and 2 leave unused bits in the last base64url character. */
  residue: number;
}

let ring: KeyRing; // [A]
let ringB: KeyRing; // [B]
let ringAB: KeyRing; // [A, B]: both open, A seals
const sessionId = newSessionId();
let ctx: SealContext;
/** One envelope of the session per ciphertext length mod 3. */
let sealed: Sealed[];
/** The same session sealed under secret B (under B's store key). */
let sealedB: { envelope: string; storeKey: string };
/** Another session's envelope and store key (same secret). */
let otherSession: { id: string; envelope: string; storeKey: string };
let otherKeys: string[];

beforeAll(async () => {
  [ring, ringB, ringAB] = await Promise.all([
    KeyRing.create([SECRET_A]),
    KeyRing.create([SECRET_B]),
    KeyRing.create([SECRET_A, SECRET_B]),
  ]);
  ctx = { keyring: ring, sessionId };
  const byResidue = new Map<number, Sealed>();
  for (let n = 0; byResidue.size < 3 && n < 200; n++) {
    const record = {
      ...RECORD,
      data: { user: "alice", pad: "abcdefghijklmnopqrstuvwxyz".repeat(3).slice(0, n) },
    };
    const s = await seal(record, ctx);
    const residue = base64url.decode(envelopeParts(s.envelope).ct).byteLength % 3;
    if (!byResidue.has(residue))
      byResidue.set(residue, { envelope: s.envelope, storeKey: s.storeKey, residue });
  }
  sealed = [0, 1, 2].map((r) => byResidue.get(r)!);
  expect(sealed.every(Boolean)).toBe(true);
  for (const s of sealed) expect(await open(s.envelope, s.storeKey, ctx)).toMatchObject({ ok: true });
  sealedB = await seal(RECORD, { keyring: ringB, sessionId });
  const id = newSessionId();
  otherSession = { id, ...(await seal(RECORD, { keyring: ring, sessionId: id })) };
  otherKeys = await Promise.all(
    Array.from({ length: 16 }, () => ring.storeKey(ring.current, newSessionId())),
  );
});

/** Opens and demands "no session"; a throw fails the property as well. */
async function rejected(
  envelope: unknown,
  storeKey: string,
  context: SealContext = ctx,
  limits: CodecLimits = DEFAULT_LIMITS,
) {
  cases++;
  const result = await open(envelope, storeKey, context, limits);
  if (result.ok) {
    throw new Error(
      `opened a corrupted envelope (${JSON.stringify(envelope).slice(0, 120)}…) as ${JSON.stringify(result.value).slice(0, 120)}`,
    );
  }
  return result.reason;
}

function replaceAt(text: string, index: number, replacement: string): string {
  return text.slice(0, index) + replacement + text.slice(index + 1);
}

function flipBit(bytes: Uint8Array, position: number, bit: number): Uint8Array {
  const copy = bytes.slice();
  copy[position % copy.length]! ^= 1 << bit;
  return copy;
}

const anySealed = fc.integer({ min: 0, max: 2 });
/** Bits of a UTF-16 code unit, the ASCII ones more often. */
const charBit = fc.oneof(
  { arbitrary: fc.integer({ min: 0, max: 6 }), weight: 4 },
  { arbitrary: fc.integer({ min: 7, max: 15 }), weight: 1 },
);
const base64urlText = (min: number, max: number) =>
  fc.string({ unit: fc.constantFrom(...B64URL), minLength: min, maxLength: max });

describe("open(): every corruption of a sealed envelope is no session", () => {
  it("bit flips anywhere in the envelope string (the tail included)", async () => {
    // A third of the flips hit the last 3 characters, where base64url keeps unused bits.
    const position = fc.oneof(
      fc.integer({ min: 0, max: 4096 }),
      fc.integer({ min: 1, max: 3 }).map((k) => -k),
    );
    await run(
      fc.asyncProperty(anySealed, position, charBit, async (which, pos, bit) => {
        const { envelope, storeKey } = sealed[which]!;
        const i = pos < 0 ? envelope.length + pos : pos % envelope.length;
        const flipped = replaceAt(envelope, i, String.fromCharCode(envelope.charCodeAt(i) ^ (1 << bit)));
        await rejected(flipped, storeKey);
      }),
      2000,
    );
  });

  it("bit flips in the decoded ciphertext (tag included) and IV fail authentication", async () => {
    await run(
      fc.asyncProperty(
        anySealed,
        fc.nat(),
        fc.integer({ min: 0, max: 7 }),
        fc.boolean(),
        async (which, pos, bit, inIv) => {
          const { envelope, storeKey } = sealed[which]!;
          const parts = envelopeParts(envelope);
          const field = inIv ? "iv" : "ct";
          const changed = joinEnvelope({
            ...parts,
            [field]: base64url.encode(flipBit(base64url.decode(parts[field]), pos, bit)),
          });
          expect(await rejected(changed, storeKey)).toBe("decrypt");
        },
      ),
      2000,
    );
  });

  it("truncation at any point, of the string or of the decoded ciphertext", async () => {
    await run(
      fc.asyncProperty(anySealed, fc.nat(), fc.boolean(), async (which, cut, ofBytes) => {
        const { envelope, storeKey } = sealed[which]!;
        if (!ofBytes) {
          await rejected(envelope.slice(0, cut % envelope.length), storeKey);
          return;
        }
        const parts = envelopeParts(envelope);
        const ct = base64url.decode(parts.ct);
        const shorter = ct.slice(0, cut % ct.length);
        expect(await rejected(joinEnvelope({ ...parts, ct: base64url.encode(shorter) }), storeKey)).toMatch(
          /^(decrypt|malformed)$/,
        );
      }),
      1000,
    );
  });

  it("appended characters (base64url, padding, whitespace, anything) and appended ciphertext bytes", async () => {
    const suffix = fc.oneof(
      base64urlText(1, 12),
      fc.string({ unit: fc.constantFrom(" ", "\t", "\n", "\r", "\f", "="), minLength: 1, maxLength: 4 }),
      fc.string({ unit: "binary", minLength: 1, maxLength: 12 }),
      fc.constantFrom(".", ".e1", "\u0000", "==", "%3D", "A=", "\u00a0"),
    );
    await run(
      fc.asyncProperty(
        anySealed,
        suffix,
        fc.uint8Array({ minLength: 1, maxLength: 32 }),
        fc.boolean(),
        async (which, text, bytes, asBytes) => {
          const { envelope, storeKey } = sealed[which]!;
          if (!asBytes) {
            await rejected(envelope + text, storeKey);
            return;
          }
          const parts = envelopeParts(envelope);
          const ct = base64url.decode(parts.ct);
          const longer = new Uint8Array([...ct, ...bytes]);
          expect(await rejected(joinEnvelope({ ...parts, ct: base64url.encode(longer) }), storeKey)).toBe(
            "decrypt",
          );
        },
      ),
      1000,
    );
  });

  it("characters inserted anywhere (whitespace inside base64url included)", async () => {
    const inserted = fc.oneof(
      fc.constantFrom(" ", "\n", "\t", "\r\n", "=", ".", "+", "/"),
      fc.string({ unit: "binary", minLength: 1, maxLength: 3 }),
    );
    await run(
      fc.asyncProperty(anySealed, fc.nat(), inserted, async (which, pos, text) => {
        const { envelope, storeKey } = sealed[which]!;
        const i = pos % (envelope.length + 1);
        await rejected(envelope.slice(0, i) + text + envelope.slice(i), storeKey);
      }),
      500,
    );
  });

  it("a wrong version prefix", async () => {
    const version = fc.oneof(
      fc.constantFrom(
        "e0",
        "e3",
        "E2",
        "e1 ",
        " e1",
        "",
        "e",
        "e11",
        "v1",
        "e\u0031\u0301",
        "\u0065\u0031\u200b",
      ),
      fc.string({ maxLength: 4 }).filter((v) => v !== "e1" && v !== "e2"),
    );
    await run(
      fc.asyncProperty(anySealed, version, async (which, v) => {
        const { envelope, storeKey } = sealed[which]!;
        expect(await rejected(joinEnvelope({ ...envelopeParts(envelope), version: v }), storeKey)).toBe(
          "malformed",
        );
      }),
      300,
    );
    // Relabelled as another version this router reads: the version is in the AAD.
    for (const { envelope, storeKey } of sealed) {
      const { version } = envelopeParts(envelope);
      for (const other of ["e1", "e2"].filter((v) => v !== version)) {
        expect(await rejected(joinEnvelope({ ...envelopeParts(envelope), version: other }), storeKey)).toBe(
          "decrypt",
        );
      }
    }
  });

  it("a foreign key id: sealed under another secret, or the kid swapped", async () => {
    const scenario = fc.oneof(
      // Sealed under B, opened by a router that only knows A (at either key).
      fc.boolean().map((atB) => ({
        envelope: sealedB.envelope,
        storeKey: atB ? sealedB.storeKey : sealed[0]!.storeKey,
        keyring: ring,
        reason: "unknown-key",
      })),
      // Sealed under B, kid relabelled as A's.
      fc.constant(null).map(() => ({
        envelope: joinEnvelope({ ...envelopeParts(sealedB.envelope), kid: ring.current.kid }),
        storeKey: sealed[0]!.storeKey,
        keyring: ring,
        reason: "decrypt",
      })),
      // Sealed under A, kid relabelled as B's, and both secrets configured.
      anySealed.map((which) => ({
        envelope: joinEnvelope({ ...envelopeParts(sealed[which]!.envelope), kid: ringB.current.kid }),
        storeKey: sealed[which]!.storeKey,
        keyring: ringAB,
        reason: "decrypt",
      })),
      // A kid no configured secret has.
      fc
        .tuple(anySealed, base64urlText(0, 12))
        .filter(([, kid]) => kid !== ring.current.kid && kid !== ringB.current.kid)
        .map(([which, kid]) => ({
          envelope: joinEnvelope({ ...envelopeParts(sealed[which]!.envelope), kid }),
          storeKey: sealed[which]!.storeKey,
          keyring: ringAB,
          reason: "unknown-key",
        })),
    );
    await run(
      fc.asyncProperty(scenario, async (s) => {
        expect(await rejected(s.envelope, s.storeKey, { keyring: s.keyring, sessionId })).toBe(s.reason);
      }),
      400,
    );
  });

  it("the blob moved to another store key", async () => {
    const key = fc.oneof(
      fc.integer({ min: 0, max: 15 }).map((i) => otherKeys[i]!),
      base64urlText(43, 43).map((h) => `approuter-edge:s:${h}`),
      fc.string({ maxLength: 80 }),
      fc.constant(null).map(() => sealedB.storeKey), // the same session's key under the other secret
    );
    await run(
      fc.asyncProperty(anySealed, key, async (which, storeKey) => {
        fc.pre(storeKey !== sealed[which]!.storeKey);
        expect(await rejected(sealed[which]!.envelope, storeKey, { keyring: ringAB, sessionId })).toBe(
          "decrypt",
        );
      }),
      300,
    );
  });

  it("an envelope sealed for another session id, at its key or at ours", async () => {
    const otherId = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => base64url.encode(b));
    await run(
      fc.asyncProperty(anySealed, otherId, fc.boolean(), async (which, id, atItsKey) => {
        fc.pre(id !== sessionId);
        const { envelope, storeKey } = sealed[which]!;
        const key = atItsKey ? storeKey : await ring.storeKey(ring.current, id);
        // The envelope of `sessionId` opened as session `id`…
        expect(await rejected(envelope, key, { keyring: ring, sessionId: id })).toBe("decrypt");
        // …and another session's envelope opened as ours, at our key.
        expect(await rejected(otherSession.envelope, storeKey)).toBe("decrypt");
      }),
      300,
    );
  });

  it("oversized input is refused before any decoding", async () => {
    const small: CodecLimits = {
      maxEnvelopeChars: 1000,
      maxPlaintextBytes: DEFAULT_LIMITS.maxPlaintextBytes,
    };
    await run(
      fc.asyncProperty(
        anySealed,
        fc.integer({ min: 1, max: 4000 }),
        fc.constantFrom(...B64URL, " ", "."),
        async (which, extra, filler) => {
          const { envelope, storeKey } = sealed[which]!;
          const big = envelope + filler.repeat(small.maxEnvelopeChars - envelope.length + extra);
          expect(await rejected(big, storeKey, ctx, small)).toBe("too-large");
        },
      ),
      200,
    );
    await run(
      fc.asyncProperty(fc.integer({ min: 1, max: 1024 }), async (extra) => {
        const big = `e1.${ring.current.kid}.${"A".repeat(16)}.${"A".repeat(DEFAULT_LIMITS.maxEnvelopeChars + extra)}`;
        expect(await rejected(big, sealed[0]!.storeKey)).toBe("too-large");
      }),
      5,
    );
  });

  it("a size limit is a limit, not an off-by-one: exactly maxEnvelopeChars opens", async () => {
    const { envelope, storeKey } = sealed[0]!;
    const exact = { ...DEFAULT_LIMITS, maxEnvelopeChars: envelope.length };
    expect(await open(envelope, storeKey, ctx, exact)).toMatchObject({ ok: true });
    expect(await open(envelope, storeKey, ctx, { ...exact, maxEnvelopeChars: envelope.length - 1 })).toEqual({
      ok: false,
      reason: "too-large",
    });
  });

  it("a decompression bomb: a validly sealed record that inflates past maxPlaintextBytes", async () => {
    await run(
      fc.asyncProperty(
        fc.integer({ min: 64, max: 16_384 }),
        fc.integer({ min: 1, max: 50_000 }),
        fc.constantFrom("x", "0", " ", "ab"),
        async (max, over, unit) => {
          const record = { ...RECORD, data: { pad: unit.repeat(Math.ceil((max + over) / unit.length)) } };
          const bomb = await seal(record, ctx, BIG);
          expect(
            await rejected(bomb.envelope, bomb.storeKey, ctx, {
              maxEnvelopeChars: DEFAULT_LIMITS.maxEnvelopeChars,
              maxPlaintextBytes: max,
            }),
          ).toBe("inflate");
        },
      ),
      150,
    );
    // Under the default limits: a few hundred characters that would inflate past 256 KiB.
    await run(
      fc.asyncProperty(fc.integer({ min: 1, max: 4 * DEFAULT_LIMITS.maxPlaintextBytes }), async (over) => {
        const bomb = await seal(
          { ...RECORD, data: { pad: "x".repeat(DEFAULT_LIMITS.maxPlaintextBytes + over) } },
          ctx,
          BIG,
        );
        expect(bomb.envelope.length).toBeLessThan(4096);
        expect(await rejected(bomb.envelope, bomb.storeKey)).toBe("inflate");
      }),
      4,
    );
  });

  it("maxPlaintextBytes is exact: a record of exactly the cap opens, one byte more does not", async () => {
    const max = 4096;
    const base = JSON.stringify({ ...RECORD, data: { pad: "" } }).length;
    const exact = { ...RECORD, data: { pad: "y".repeat(max - base) } };
    expect(new TextEncoder().encode(JSON.stringify(exact)).byteLength).toBe(max);
    const limits = { maxEnvelopeChars: DEFAULT_LIMITS.maxEnvelopeChars, maxPlaintextBytes: max };
    const fits = await seal(exact, ctx, limits);
    expect(await open(fits.envelope, fits.storeKey, ctx, limits)).toMatchObject({ ok: true, value: exact });
    const over = await seal({ ...exact, data: { pad: `${exact.data.pad}y` } }, ctx, BIG);
    expect(await open(over.envelope, over.storeKey, ctx, limits)).toEqual({ ok: false, reason: "inflate" });
  });

  it("non-JSON plaintext sealed validly (invalid UTF-8, not JSON, empty)", async () => {
    const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });
    const isJson = (bytes: Uint8Array) => {
      try {
        JSON.parse(strict.decode(bytes));
        return true;
      } catch {
        return false;
      }
    };
    const utf8 = (s: string) => new TextEncoder().encode(s);
    const payload = fc
      .oneof(
        fc.string({ maxLength: 80 }).map(utf8),
        fc.uint8Array({ maxLength: 80 }),
        fc
          .constantFrom(
            "",
            "{",
            "undefined",
            "NaN",
            "{'v':1}",
            "\uFEFF",
            '{"v":1,',
            "[1,2",
            '{"v":1}\u0000',
            "\u0000",
          )
          .map(utf8),
        fc.constantFrom(
          new Uint8Array([0xff]),
          new Uint8Array([0xc3]),
          new Uint8Array([0x7b, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x7d]),
        ), // lone byte, cut sequence, UTF-8 surrogate
      )
      .filter((bytes) => !isJson(bytes));
    await run(
      fc.asyncProperty(payload, async (bytes) => {
        const forged = await forgeEnvelope(bytes, { keyring: ring, sessionId });
        expect(await rejected(forged.envelope, forged.storeKey)).toBe("not-json");
      }),
      300,
    );
  });

  it("a validly sealed payload that is not a DEFLATE stream", async () => {
    await run(
      fc.asyncProperty(fc.uint8Array({ minLength: 0, maxLength: 200 }), async (bytes) => {
        cases++;
        const forged = await forgeEnvelope(bytes, { keyring: ring, sessionId, compress: false });
        const result = await open(forged.envelope, forged.storeKey, ctx);
        // Random bytes may happen to inflate to some JSON; never to a session record.
        if (result.ok) expect(isSessionRecord(result.value)).toBe(false);
        else expect(["inflate", "not-json"]).toContain(result.reason);
      }),
      200,
    );
  });

  it("random strings", async () => {
    const text = fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.string({ unit: "binary", maxLength: 300 }),
      fc.string({ unit: "grapheme", maxLength: 100 }),
      fc.base64String({ maxLength: 300 }),
    );
    await run(
      fc.asyncProperty(text, async (t) => {
        await rejected(t, sealed[0]!.storeKey);
      }),
      1000,
    );
  });

  it("random base64url in the shape of an envelope, with our kid", async () => {
    const part = fc.oneof(
      fc.uint8Array({ maxLength: 300 }).map((b) => base64url.encode(b)),
      base64urlText(0, 100),
    );
    const iv = fc.oneof(
      {
        arbitrary: fc.uint8Array({ minLength: 12, maxLength: 12 }).map((b) => base64url.encode(b)),
        weight: 4,
      },
      { arbitrary: part, weight: 1 },
    );
    const kid = fc.oneof(
      { arbitrary: fc.constant(null).map(() => ring.current.kid), weight: 4 },
      { arbitrary: base64urlText(8, 8), weight: 1 },
    );
    await run(
      fc.asyncProperty(fc.constantFrom("e1", "e2"), kid, iv, part, async (v, k, i, c) => {
        await rejected(`${v}.${k}.${i}.${c}`, sealed[0]!.storeKey);
      }),
      1000,
    );
  });
});

describe("open() accepts only the canonical base64url it wrote", () => {
  // base64url.decode (Uint8Array.fromBase64, "loose") skips ASCII whitespace, accepts "="
  // padding and ignores the unused bits of the last character: without a canonical-form
  // check, distinct strings open to the same record (a malleable envelope).
  it.each([
    ["a trailing space", (e: string) => `${e} `],
    ["a trailing newline", (e: string) => `${e}\n`],
    ["whitespace inside the ciphertext", (e: string) => `${e.slice(0, -10)} \t${e.slice(-10)}`],
    [
      "whitespace inside the IV",
      (e: string) =>
        joinEnvelope({
          ...envelopeParts(e),
          iv: `${envelopeParts(e).iv.slice(0, 8)}\n${envelopeParts(e).iv.slice(8)}`,
        }),
    ],
    ['"=" padding', (e: string) => `${e}${"=".repeat((4 - (envelopeParts(e).ct.length % 4)) % 4)}`],
    [
      "non-zero unused bits in the last character",
      (e: string) => {
        const last = B64URL.indexOf(e.at(-1)!);
        return e.slice(0, -1) + B64URL[last ^ 1];
      },
    ],
  ])("rejects %s", async (_name, mutate) => {
    for (const s of sealed) {
      const changed = mutate(s.envelope);
      if (changed === s.envelope) continue;
      // Only residues 1 and 2 have unused bits; with residue 0 flipping the last bit is a real change.
      const result = await open(changed, s.storeKey, ctx);
      expect({ residue: s.residue, ok: result.ok }).toEqual({ residue: s.residue, ok: false });
    }
  });
});

describe("SessionManager.load: a store holding a corrupted value is no session", () => {
  const clock = { t: NOW };
  const REVALIDATE = 5_000;
  let store: MapByteStore;
  let manager: SessionManager;
  const logged: { event: string; fields: Record<string, unknown> | undefined }[] = [];

  beforeAll(() => {
    store = new MapByteStore(() => clock.t);
    const external = new ExternalTier(
      new ResilientStore(store, {
        budgetMs: 1000,
        backOffMs: 1,
        maxAttempts: 1,
        cooldownMs: 0,
        now: () => clock.t,
        sleep: realSleep,
      }),
      ring,
    );
    manager = testSessionManager({
      external,
      absoluteTimeoutMs: 8 * 3600_000,
      revalidateAfterMs: REVALIDATE,
      now: () => clock.t,
      log: (event, fields) => logged.push({ event, fields }),
    });
  });

  const put = (value: string) =>
    store.data.set(sealed[0]!.storeKey, { value, expiresAt: clock.t + 3600_000 });

  /** Loads with `value` in the store: straight from the store, or as the revalidation of a copy held in memory. */
  async function expectNone(value: string, viaRevalidation: boolean) {
    cases++;
    manager.memory.delete(sessionId);
    if (viaRevalidation) {
      put(sealed[0]!.envelope);
      expect((await manager.load(sessionId)).kind).toBe("session");
      clock.t += REVALIDATE;
    }
    put(value);
    const rejectedBefore = manager.metrics.rejectedBlobs;
    logged.length = 0;
    const result = await manager.load(sessionId);
    manager.memory.delete(sessionId);
    expect(result).toEqual({ kind: "none" });
    // Counted and logged with its reason only: never the value, the key or the id.
    expect(manager.metrics.rejectedBlobs).toBe(rejectedBefore + 1);
    expect(logged).toEqual([{ event: "session.rejected", fields: { reason: expect.any(String) } }]);
    expect(store.data.has(sealed[0]!.storeKey)).toBe(true); // a rejected blob is not the router's to delete
  }

  const corruption = fc.oneof(
    fc.tuple(anySealed, fc.nat(), charBit).map(([w, p, b]) => {
      const e = sealed[w]!.envelope;
      const i = p % e.length;
      return replaceAt(e, i, String.fromCharCode(e.charCodeAt(i) ^ (1 << b)));
    }),
    fc
      .tuple(anySealed, fc.nat())
      .map(([w, cut]) => sealed[w]!.envelope.slice(0, cut % sealed[w]!.envelope.length)),
    fc
      .tuple(
        anySealed,
        fc.oneof(
          base64urlText(1, 8),
          fc.constantFrom(" ", "\n", "=", "=="),
          fc.string({ minLength: 1, maxLength: 8 }),
        ),
      )
      .map(([w, s]) => sealed[w]!.envelope + s),
    fc.tuple(anySealed, fc.oneof(fc.constantFrom("e1", "e2"), fc.string({ maxLength: 3 }))).map(([w, v]) => {
      const parts = envelopeParts(sealed[w]!.envelope);
      return joinEnvelope({ ...parts, version: v === parts.version ? `${v}x` : v });
    }),
    fc.constant(null).map(() => sealedB.envelope), // another secret
    fc.constant(null).map(() => otherSession.envelope), // another session's blob under our key
    fc
      .integer({ min: 1, max: 64 })
      .map(
        (n) => `e1.${ring.current.kid}.${"A".repeat(16)}.${"A".repeat(DEFAULT_LIMITS.maxEnvelopeChars + n)}`,
      ),
    fc.string({ maxLength: 200 }),
    fc
      .tuple(
        fc.constantFrom("e1", "e2"),
        fc.uint8Array({ minLength: 12, maxLength: 12 }),
        fc.uint8Array({ maxLength: 200 }),
      )
      .map(([v, iv, ct]) => `${v}.${ring.current.kid}.${base64url.encode(iv)}.${base64url.encode(ct)}`),
  );

  it("for every kind of corruption, on recovery and on revalidation", async () => {
    await run(
      fc.asyncProperty(corruption, fc.boolean(), async (value, viaRevalidation) => {
        await expectNone(value, viaRevalidation);
      }),
      1000,
    );
  });

  it("for validly sealed plaintext of the wrong shape (the record shape check)", async () => {
    const valid = { ...RECORD };
    const roundTrip = (v: unknown) => JSON.parse(JSON.stringify(v)) as unknown;
    const wrongShape = fc
      .oneof(
        fc.jsonValue({ maxDepth: 3 }),
        fc
          .tuple(fc.constantFrom("v", "iat", "exp", "csrf", "data"), fc.jsonValue({ maxDepth: 2 }))
          .map(([field, value]) => ({ ...valid, [field]: value })),
        fc
          .constantFrom("v", "iat", "exp")
          .map((field) => Object.fromEntries(Object.entries(valid).filter(([k]) => k !== field))),
        fc.constantFrom<unknown>(
          [valid],
          { record: valid },
          { ...valid, v: "1" },
          { ...valid, v: 2 },
          { ...valid, iat: "1" },
          { ...valid, exp: null },
          { ...valid, data: [] },
          { ...valid, data: null },
          { ...valid, data: "x" },
          { ...valid, csrf: null },
          { ...valid, csrf: 1 },
          { ...valid, csrf: { token: "x" } },
          null,
          1,
          "e1",
          true,
        ),
      )
      .filter((v) => v !== undefined && !isSessionRecord(roundTrip(v)));
    await run(
      fc.asyncProperty(wrongShape, fc.boolean(), async (value, viaRevalidation) => {
        const forged = await seal(value, ctx, BIG);
        // The codec opens it (its shape is not the codec's business)…
        const opened = await open(forged.envelope, forged.storeKey, ctx);
        expect(opened).toMatchObject({ ok: true, kid: ring.current.kid });
        expect((opened as { value?: unknown }).value).toEqual(roundTrip(value));
        // …the manager refuses it.
        await expectNone(forged.envelope, viaRevalidation);
        expect(logged[0]!.fields).toEqual({ reason: "shape" });
      }),
      500,
    );
  });

  it("for validly sealed non-JSON and non-DEFLATE payloads", async () => {
    await run(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 120 }),
        fc.boolean(),
        fc.boolean(),
        async (bytes, compress, viaRevalidation) => {
          fc.pre(!isJsonRecordBytes(bytes, compress));
          const forged = await forgeEnvelope(bytes, { keyring: ring, sessionId, compress });
          await expectNone(forged.envelope, viaRevalidation);
        },
      ),
      300,
    );
  });

  it("for a decompression bomb under the default limits", async () => {
    const bomb = await seal(
      { ...RECORD, data: { pad: "x".repeat(DEFAULT_LIMITS.maxPlaintextBytes) } },
      ctx,
      BIG,
    );
    await expectNone(bomb.envelope, false);
    expect(logged[0]!.fields).toEqual({ reason: "inflate" });
    await expectNone(bomb.envelope, true);
  });
});

/** Whether a forged payload could (by chance) decode to a session record: such runs are not corruptions. */
function isJsonRecordBytes(bytes: Uint8Array, compressed: boolean): boolean {
  if (!compressed) return false; // a raw payload is not a DEFLATE stream of a record in any practical run; the manager checks shape anyway
  try {
    return isSessionRecord(
      JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes)),
    );
  } catch {
    return false;
  }
}

describe("budget", () => {
  it("ran at least 10,000 tamper cases", () => {
    expect(planned).toBeGreaterThanOrEqual(10_000);
    // A failed property stops early (and is reported on its own); otherwise every planned run happened.
    if (failedProperties === 0) expect(cases).toBeGreaterThanOrEqual(planned);
  });
});
