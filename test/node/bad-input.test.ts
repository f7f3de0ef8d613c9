import { dirname } from "node:path";
import type { Readable } from "node:stream";
import { Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEchoBackend } from "../support/backend.js";
import { startCluster, type Cluster } from "../support/cluster.js";
import { externalSessionBindings, startLocalRedis, type LocalRedis } from "../support/redis.js";
import {
  STATELESS_SESSION_COOKIE,
  answer,
  fetchTokenInit,
  newSession,
  tokenFetch,
  type Answer,
} from "../support/router-client.js";
import { SECRET_A, SECRET_B } from "../support/secrets.js";
import { bundleWorker } from "../support/worker-bundle.js";

/**
 * Hostile and broken input: malformed session cookies, huge headers, invalid JSON in every
 * configuration variable, and paths that try to smuggle CR/LF or dot segments into the
 * upstream request through the route's `target`. Never a 5xx (but the generic 503 of an
 * invalid configuration), never a stack or a secret in an answer or a log line, never a
 * request upstream that carries CR/LF or leaves the destination's base path.
 */
let redis: LocalRedis;
let backend: Awaited<ReturnType<typeof startEchoBackend>>;
let script: string;
let router: Cluster;

const REDIS_TOKEN_MARK = "redis-token-that-must-not-leak-0123456789";

beforeAll(async () => {
  [redis, backend, script] = await Promise.all([
    startLocalRedis({ token: REDIS_TOKEN_MARK }),
    startEchoBackend(),
    bundleWorker(),
  ]);
  router = await startCluster({
    script,
    workers: ["a"],
    bindings: {
      ...externalSessionBindings(redis, { sessionSecret: SECRET_A, defaultRetryTimeout: 1000 }),
      destinations: JSON.stringify([{ name: "backend", url: `${backend.url}/base` }]),
    },
  });
});
afterAll(async () => {
  await router?.dispose();
  await redis?.stop();
  await backend?.close();
});

/** Nothing of the router's inside in an answer: no stack, no error text, no secret. */
function expectNothingLeaks(
  a: Pick<Answer, "body" | "setCookies">,
  secrets: string[] = [SECRET_A, SECRET_B, REDIS_TOKEN_MARK],
) {
  expect(a.body).not.toMatch(/\bat\s+\S+\s+\(|\.(ts|js|mjs):\d+|Error:|TypeError|SyntaxError|stack/i);
  for (const secret of secrets) {
    expect(a.body).not.toContain(secret);
    expect(a.body).not.toContain(secret.slice(0, 20));
  }
}

describe("malformed session cookies", () => {
  const ID = "A".repeat(43); // well-formed, never issued
  const COOKIES: [string, string][] = [
    ["empty value", "JSESSIONID="],
    ["no value at all", "JSESSIONID"],
    ["only separators", "; ; ;=;="],
    ["10 KB value", `JSESSIONID=${"A".repeat(10 * 1024)}`],
    ["10 KB of well-formed-looking ids", `JSESSIONID=${"A".repeat(43)};`.repeat(230)],
    ["non-ASCII (Latin-1) value", "JSESSIONID=\u00e9\u00e8\u00ff\u00a0x"],
    ["UTF-8 bytes read as Latin-1", `JSESSIONID=${Buffer.from("sessión-ü-😀", "utf8").toString("latin1")}`],
    ["non-ASCII name", "JSESSIONID\u00e9=abc; \u00fcber=1"],
    ["500 JSESSIONID pairs", Array.from({ length: 500 }, (_, i) => `JSESSIONID=${i}`).join("; ")],
    ["quoted well-formed id", `JSESSIONID="${ID}"`],
    ["unterminated quote", `JSESSIONID="${ID}`],
    ["empty quotes", 'JSESSIONID=""'],
    ["quote inside", `JSESSIONID=${ID.slice(0, 20)}"${ID.slice(21)}`],
    ["broken percent-encoding", "JSESSIONID=%E0%A4%A; other=%"],
    ["percent-encoded id", `JSESSIONID=${"%41".repeat(43)}`],
    ["control-looking text", "JSESSIONID=%00%0d%0a"],
    ["comma-joined pairs", `JSESSIONID=${ID},JSESSIONID=${ID}`],
  ];

  it.each(COOKIES)(
    "%s: no 5xx, no cookie change on a plain request, a fresh session on a token fetch",
    async (_name, cookie) => {
      const seenBefore = backend.seen.length;
      const plain = await answer(await router.fetch("a", "/app", { headers: { cookie } }));
      expect(plain.status).toBe(200);
      expect(plain.setCookies).toEqual([]);
      expectNothingLeaks(plain);
      const fetched = await answer(await router.fetch("a", "/app", fetchTokenInit(cookie)));
      expect(fetched.status).toBe(200);
      expect(fetched.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(fetched.newCookie).toMatch(STATELESS_SESSION_COOKIE); // a new session, holding only its token
      expectNothingLeaks(fetched);
      // The router's own cookie never reaches the backend, however it was written.
      for (const seen of backend.seen.slice(seenBefore))
        expect(String(seen.headers.cookie ?? "")).not.toMatch(/(^|;)\s*JSESSIONID\s*=/);
    },
  );

  it("a valid session among junk pairs: the first JSESSIONID pair decides", async () => {
    const { cookie, token } = await newSession(router, "a");
    const junk = Array.from({ length: 200 }, (_, i) => `JSESSIONID=junk${i}`).join("; ");
    const first = await tokenFetch(router, "a", `${cookie}; ${junk}`);
    expect(first).toMatchObject({ status: 200, token, setCookies: [] });
    const last = await tokenFetch(router, "a", `${junk}; ${cookie}`);
    expect(last.status).toBe(200);
  });
});

describe("huge headers", () => {
  const CASES: [string, Record<string, string>][] = [
    ["one 64 KB header", { "x-big": "a".repeat(64 * 1024) }],
    [
      "200 headers of 256 bytes",
      Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`x-h${i}`, "b".repeat(256)])),
    ],
    [
      "a 60 KB cookie header",
      { cookie: Array.from({ length: 2000 }, (_, i) => `c${i}=${"v".repeat(25)}`).join("; ") },
    ],
    ["a 60 KB x-csrf-token", { "x-csrf-token": "f".repeat(60 * 1024) }],
  ];
  it.each(CASES)("%s: answered without a 5xx", async (_name, headers) => {
    const res = await router.fetch("a", "/app", { headers });
    const a = await answer(res);
    expect(a.status).toBeLessThan(500);
    expectNothingLeaks(a);
  });
});

describe("invalid configuration: the generic 503 page, nothing else", () => {
  const valid = {
    EXT_SESSION_MGT: JSON.stringify({
      instanceName: "sessions",
      storageType: "redis",
      sessionSecret: SECRET_A,
      previousSessionSecrets: [SECRET_B],
    }),
    VCAP_SERVICES: JSON.stringify({
      redis: [
        {
          name: "sessions",
          label: "redis",
          credentials: { url: "http://127.0.0.1:1", token: REDIS_TOKEN_MARK },
        },
      ],
    }),
    destinations: JSON.stringify([
      { name: "backend", url: "http://user:destination-password-0123456789@127.0.0.1:1" },
    ]),
  };
  /** Cut in the middle: invalid JSON that still holds the secret. */
  const cut = (json: string) => json.slice(0, Math.floor(json.length * 0.8));
  const VARIANTS: [string, Record<string, string>][] = [
    ["EXT_SESSION_MGT not JSON", { ...valid, EXT_SESSION_MGT: cut(valid.EXT_SESSION_MGT) }],
    ["EXT_SESSION_MGT not an object", { ...valid, EXT_SESSION_MGT: JSON.stringify([SECRET_A]) }],
    [
      "EXT_SESSION_MGT with a secret of the wrong type",
      {
        ...valid,
        EXT_SESSION_MGT: JSON.stringify({
          instanceName: "sessions",
          storageType: "redis",
          sessionSecret: [SECRET_A],
        }),
      },
    ],
    ["VCAP_SERVICES not JSON", { ...valid, VCAP_SERVICES: cut(valid.VCAP_SERVICES) }],
    [
      "VCAP_SERVICES of the wrong shape",
      {
        ...valid,
        VCAP_SERVICES: JSON.stringify({
          redis: { name: "sessions", credentials: { token: REDIS_TOKEN_MARK } },
        }),
      },
    ],
    ["destinations not JSON", { ...valid, destinations: cut(valid.destinations) }],
    [
      "destinations of the wrong shape",
      {
        ...valid,
        destinations: JSON.stringify({
          name: "backend",
          url: "http://user:destination-password-0123456789@x",
        }),
      },
    ],
    ["XS_APP not JSON", { ...valid, XS_APP: '{"routes":[{"source":"^/(.*)$","destination":"backend"' }],
    ["XS_APP of the wrong shape", { ...valid, XS_APP: JSON.stringify([{ source: 42 }]) }],
  ];
  const secrets = [SECRET_A, SECRET_B, REDIS_TOKEN_MARK, "destination-password-0123456789"];
  let mf: Miniflare;
  let logs = "";

  beforeAll(async () => {
    const capture = (stream: Readable) =>
      stream.on("data", (chunk: Buffer) => (logs += chunk.toString("utf8")));
    mf = new Miniflare({
      workers: VARIANTS.map(([, bindings], i) => ({
        name: `w${i}`,
        modules: true,
        scriptPath: script,
        modulesRoot: dirname(script),
        compatibilityDate: "2026-04-26",
        bindings,
      })),
      handleRuntimeStdio(stdout: Readable, stderr: Readable) {
        capture(stdout);
        capture(stderr);
      },
    } as never);
    await mf.ready;
  });
  afterAll(async () => {
    await mf?.dispose();
  });

  it.each(VARIANTS.map(([name], i) => [name, i] as const))("%s", async (_name, i) => {
    const worker = await mf.getWorker(`w${i}`);
    for (const init of [{}, fetchTokenInit(`JSESSIONID=${"A".repeat(43)}`), { method: "POST", body: "x" }]) {
      const res = (await worker.fetch("https://router.test/app", init as never)) as unknown as Response;
      const a = await answer(res);
      expect(a.status).toBe(503);
      expect(a.body).toContain("CONFIGURATION_INVALID");
      expect(a.setCookies).toEqual([]);
      expect(a.token).toBeNull();
      expectNothingLeaks(a, secrets);
    }
  });

  it("logs the problems by path, never a secret or the parser's text", async () => {
    await new Promise((r) => setTimeout(r, 100)); // the last lines
    expect(logs).toContain("config.invalid");
    for (const secret of secrets) {
      expect(logs).not.toContain(secret);
      expect(logs).not.toContain(secret.slice(0, 24));
    }
    expect(logs).not.toMatch(/Unexpected token|Unterminated string|in JSON at position/);
  });
});

describe("traversal and header injection through the target", () => {
  /** Every request the backend got since `from` carries no raw CR/LF/NUL and stays under the base path. */
  function expectCleanUpstream(from: number) {
    for (const seen of backend.seen.slice(from)) {
      expect(seen.url).not.toMatch(/[\r\n\0]/);
      for (const [name, value] of Object.entries(seen.headers))
        expect(`${name}: ${String(value)}`).not.toMatch(/[\r\n\0]/);
      expect(seen.url.startsWith("/base/") || seen.url === "/base").toBe(true);
      expect(seen.headers["x-injected"]).toBeUndefined();
      expect(seen.headers["set-cookie"]).toBeUndefined();
    }
  }

  const INJECTION = [
    "/%0d%0aX-Injected:%20yes",
    "/a%0D%0ASet-Cookie:%20evil=1",
    "/a%0aX-Injected:%20yes",
    "/a%0d",
    "/a%00b",
    "/%0d%0a%0d%0aGET%20/admin%20HTTP/1.1",
  ];
  // Dot segments whose separator is percent-encoded: a backend that decodes %2F or %5C
  // before resolving dot segments leaves the destination's base path.
  const TRAVERSAL = [
    "/..%2f..%2fetc%2fpasswd",
    "/..%2Fadmin",
    "/a/..%2f..%2fadmin",
    "/%2e%2e%2fadmin",
    "/..%5cadmin",
    "/a/%2e%2e%5c%2e%2e%5cadmin",
  ];
  // Encoded dot segments with a literal separator: the URL parser resolves them before the
  // router sees the path (it gets "/admin"), so they stay under the base path.
  const NORMALISED = ["/%2e%2e/admin", "/.%2e/admin", "/a/%2E%2E/%2e%2e/admin"];

  it.each([...INJECTION, ...TRAVERSAL, ...NORMALISED])(
    "%s: never a 5xx, never CR/LF or a path outside the base upstream",
    async (path) => {
      const from = backend.seen.length;
      for (const init of [{}, fetchTokenInit()]) {
        const a = await answer(await router.fetch("a", path, init));
        expect(a.status).toBeLessThan(500);
        expectNothingLeaks(a);
      }
      expectCleanUpstream(from);
    },
  );

  /** The paths the router did not refuse with a 4xx, and what went upstream for them. */
  async function notRefused(paths: string[]) {
    const offenders: { path: string; status: number; upstream: string[] }[] = [];
    for (const path of paths) {
      const from = backend.seen.length;
      const a = await answer(await router.fetch("a", path));
      const upstream = backend.seen.slice(from).map((x) => x.url);
      if (a.status < 400 || a.status >= 500 || upstream.length > 0)
        offenders.push({ path, status: a.status, upstream });
    }
    return offenders;
  }

  it("paths with CR, LF or NUL percent-encoded are refused with a 4xx, nothing sent upstream", async () => {
    expect(await notRefused(INJECTION)).toEqual([]);
  });

  it("dot segments with percent-encoded separators (..%2f, %2e%2e%2f, ..%5c) are refused with a 4xx, nothing sent upstream", async () => {
    expect(await notRefused(TRAVERSAL)).toEqual([]);
  });

  it("an encoded CR/LF in the query is passed on encoded (forms send multi-line text that way)", async () => {
    const from = backend.seen.length;
    const a = await answer(await router.fetch("a", "/app?text=line1%0D%0Aline2"));
    expect(a.status).toBe(200);
    expect(backend.seen.slice(from).map((s) => s.url)).toEqual(["/base/app?text=line1%0D%0Aline2"]);
    expectCleanUpstream(from);
  });
});
