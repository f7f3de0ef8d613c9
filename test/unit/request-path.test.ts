import { describe, expect, it } from "vitest";
import { giveCsrfToken, withCsrfToken } from "../../src/handlers/csrf.js";
import { metricsLogger } from "../../src/handlers/status.js";
import { jarOf, withJar } from "../../src/proxy/session-jar.js";
import type { Session, SessionManager } from "../../src/session/manager.js";
import { deepFreeze, newRecord, type SessionRecord } from "../../src/session/record.js";

// The pieces the request path is built from (src/handlers, src/proxy/session-jar.ts); the
// whole path is tested through the app in app.test.ts and backend-cookies tests.

const record = (data?: SessionRecord["data"]): SessionRecord =>
  deepFreeze({ ...newRecord(1_000, 60_000), ...(data ? { data } : {}) });

describe("session jar (record.data.cookies)", () => {
  it("reads a destination's jar, and an empty one where there is none or it is not a jar", () => {
    const jar = [{ name: "sid", value: "1", path: "/" }];
    expect(jarOf(record({ cookies: { backend: jar } }), "backend")).toEqual(jar);
    expect(jarOf(record({ cookies: { backend: jar } }), "other")).toEqual([]);
    expect(jarOf(undefined, "backend")).toEqual([]);
    expect(jarOf(record(), "backend")).toEqual([]);
    expect(jarOf(record({ cookies: null as never }), "backend")).toEqual([]);
    expect(jarOf(record({ cookies: { backend: "not a list" } }), "backend")).toEqual([]);
  });

  it("replaces one destination's jar in a new record, keeping the other jars and data", () => {
    const before = record({ auth: { sub: "u" }, cookies: { a: [{ name: "x", value: "1", path: "/" }] } });
    const after = withJar(before, "b", [{ name: "y", value: "2", path: "/" }]);
    expect(after).not.toBe(before);
    expect(after.data).toEqual({
      auth: { sub: "u" },
      cookies: { a: [{ name: "x", value: "1", path: "/" }], b: [{ name: "y", value: "2", path: "/" }] },
    });
    expect(jarOf(before, "b")).toEqual([]); // the frozen original is untouched
  });
});

describe("giveCsrfToken", () => {
  const session = (): Session => ({ id: "session-id", record: record(), isNew: false, base: undefined });

  it("gives a session without a token the one for its id, in a new record, once", async () => {
    const s = session();
    const asked: string[] = [];
    const tokenFor = async (id: string) => {
      asked.push(id);
      return `token-of-${id}`;
    };
    const first = s.record;
    expect(await giveCsrfToken(s, tokenFor)).toBe("token-of-session-id");
    expect(s.record).not.toBe(first);
    expect(s.record.csrf).toBe("token-of-session-id");
    expect(await giveCsrfToken(s, tokenFor)).toBe("token-of-session-id");
    expect(asked).toEqual(["session-id"]);
  });

  it("keeps a token the session has", async () => {
    const s = session();
    s.record = { ...s.record, csrf: "kept" };
    const before = s.record;
    expect(await giveCsrfToken(s, async () => "new")).toBe("kept");
    expect(s.record).toBe(before);
  });
});

describe("withCsrfToken", () => {
  it("adds the token, also to a response with immutable headers; nothing without a token", () => {
    const immutable = Response.redirect("https://router.test/", 302); // its headers are immutable
    expect(withCsrfToken(immutable, "t").headers.get("x-csrf-token")).toBe("t");
    const plain = new Response("x");
    expect(withCsrfToken(plain, undefined)).toBe(plain);
    expect(plain.headers.has("x-csrf-token")).toBe(false);
  });
});

describe("status endpoint and metrics log", () => {
  const manager = {
    metrics: { memoryHits: 3 },
    memory: { stats: () => ({ entries: 1 }) },
    external: undefined,
  } as unknown as SessionManager;

  it("logs the counters at most once a minute after requests", () => {
    let now = 10_000;
    const logged: [string, Record<string, unknown> | undefined][] = [];
    const afterRequest = metricsLogger({
      manager,
      startedAt: now,
      now: () => now,
      log: (event, fields) => logged.push([event, fields]),
    });
    afterRequest();
    now += 59_999;
    afterRequest();
    expect(logged).toEqual([]);
    now += 1;
    afterRequest();
    now += 30_000;
    afterRequest();
    expect(logged).toEqual([
      [
        "metrics",
        { uptimeMs: 60_000, sessions: { memoryHits: 3 }, memory: { entries: 1 }, store: null, auth: null },
      ],
    ]);
  });
});
