import { createHash } from "node:crypto";
import type { ServerResponse } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEdgeRouter, type EdgeRouter } from "../support/edge-router.js";
import {
  closedPort,
  latch,
  readBody,
  startLoopbackServer,
  type Latch,
  type LoopbackServer,
} from "../support/loopback-http.js";
import { bundleWorker } from "../support/worker-bundle.js";
import { SPOOFED_PROXY_HEADERS } from "../support/spoofed-headers.js";

/**
 * The whole router (bundled Worker in workerd) in front of real loopback backends:
 * streaming in both directions, header hygiene, failures, redirects, the backends'
 * session cookies, CORS and route matching, as a browser and a backend see them.
 */
const MiB = 1024 * 1024;
const CHUNK = 64 * 1024;
/** 64 MiB in 64 KiB chunks. */
const CHUNKS = 1024;
/** A failure guard for the ordering gates (never a measurement): only reached when something buffers. */
const GATE_GUARD_MS = 10_000;

let backend: LoopbackServer;
let silent: LoopbackServer;
let router: EdgeRouter;
/** SEND_XFRAMEOPTIONS=false and MERGE_CSP_HEADERS=true. */
let routerNoFrameOptions: EdgeRouter;
let downPort: number;
/** Fired when the router closes its connection to the silent backend. */
let silentGaveUp: Latch = latch();

/** Per-test hooks into the backend's streaming endpoints. */
const streaming = {
  events: [] as string[],
  /** Fired by the backend when the first request body bytes arrive. */
  firstBodyBytes: latch(),
  /** What the backend received on /duplex: bytes and SHA-256. */
  received: { bytes: 0, sha256: "" },
  /** Fired by the test when the first response bytes reached it (/download). */
  clientFirstBytes: latch(),
  /** What the backend sent on /download. */
  sent: { bytes: 0, sha256: "" },
  gateResult: undefined as boolean | undefined,
};

/** The deterministic 64 KiB chunk number `i` of a test stream. */
function chunkOf(i: number): Buffer {
  const chunk = Buffer.alloc(CHUNK, i % 251);
  chunk.writeUInt32BE(i, 0);
  chunk.writeUInt32BE((0xdeadbeef ^ i) >>> 0, CHUNK - 4);
  return chunk;
}

async function write(res: ServerResponse, chunk: Buffer): Promise<void> {
  if (!res.write(chunk)) await new Promise<void>((resolve) => res.once("drain", resolve));
}

const XS_APP = {
  authenticationMethod: "none",
  responseHeaders: [
    { name: "X-Both", value: "from-xs-app" },
    { name: "Content-Security-Policy", value: "frame-ancestors 'self'" },
  ],
  cors: [
    {
      uriPattern: "^/api/cors/",
      allowedOrigin: [{ host: "app.example", protocol: "https" }],
      allowedMethods: ["GET", "PUT"],
      allowedHeaders: ["Content-Type", "X-Custom"],
      exposeHeaders: ["X-Exposed"],
      maxAge: 600,
    },
  ],
  routes: [
    { source: "^/ro/(.*)$", target: "/$1", destination: "backend", httpMethods: ["GET"] },
    { source: "^/multi/(.*)$", target: "/$1", destination: "backend", httpMethods: ["GET"] },
    { source: "^/multi/(.*)$", target: "/$1", destination: "backend", httpMethods: ["PUT"] },
    { source: "^/dollar/(.*)$", target: "$1", destination: "backend" },
    { source: "^/v1/([^?]*)", target: "/v2/$1", destination: "backend" },
    { source: "^/noxf/(.*)$", target: "/$1", destination: "noxf" },
    { source: "^/slow/(.*)$", target: "/$1", destination: "slow" },
    { source: "^/down/(.*)$", target: "/$1", destination: "down" },
    { source: "^/tight/(.*)$", target: "/$1", destination: "tight" },
    { source: "^/bsc/(.*)$", target: "/$1", destination: "backend", setBackendSessionCookies: true },
    { source: "^/other/(.*)$", target: "/$1", destination: "other" },
    { source: "^/redir/", destination: "based" },
    { source: "^/api/(.*)$", target: "/$1", destination: "backend" },
  ],
};

beforeAll(async () => {
  [backend, silent, downPort] = await Promise.all([
    startLoopbackServer(async (req, res) => {
      const url = new URL(req.url ?? "/", "http://backend");
      // "based" serves under /base, CORS paths under /cors: same handlers.
      const path = url.pathname.replace(/^\/(base|cors)(?=\/)/, "");
      switch (path) {
        case "/echo": {
          const body = await readBody(req);
          res.writeHead(200, { "content-type": "application/json" });
          res.end(
            JSON.stringify({
              method: req.method,
              url: req.url,
              cookie: req.headers.cookie ?? null,
              bodyBytes: body.length,
            }),
          );
          return;
        }
        case "/hop":
          res.writeHead(200, {
            "content-type": "text/plain",
            connection: "x-hop-resp",
            "x-hop-resp": "nominated",
            "keep-alive": "timeout=5",
            trailer: "x-checksum",
            "proxy-authenticate": "Basic",
            "proxy-connection": "keep-alive",
            upgrade: "h2c",
            public: "GET",
            "x-end-to-end": "kept",
          });
          res.end("hop");
          return;
        case "/own-headers":
          res.writeHead(200, {
            "x-frame-options": "DENY",
            "content-security-policy": "default-src 'none'",
            "x-exposed": "e",
          });
          res.end("own");
          return;
        case "/duplex": {
          // Echoes the body as it arrives: the answer starts before the request has ended.
          res.writeHead(200, { "content-type": "application/octet-stream" });
          const hash = createHash("sha256");
          let bytes = 0;
          for await (const chunk of req) {
            const buffer = chunk as Buffer;
            if (bytes === 0) {
              streaming.events.push("backend: first request bytes");
              streaming.firstBodyBytes.fire();
            }
            bytes += buffer.length;
            hash.update(buffer);
            await write(res, buffer);
          }
          streaming.events.push("backend: request ended");
          streaming.received = { bytes, sha256: hash.digest("hex") };
          res.end();
          return;
        }
        case "/download": {
          res.writeHead(200, { "content-type": "application/octet-stream" });
          const hash = createHash("sha256");
          const first = chunkOf(0);
          hash.update(first);
          await write(res, first);
          streaming.events.push("backend: first chunk written");
          // Holds the rest back until the client has the first chunk: a router that
          // buffered the response would never deliver it, and this gate would time out.
          streaming.gateResult = await streaming.clientFirstBytes.wait(GATE_GUARD_MS);
          let bytes = first.length;
          for (let i = 1; i < CHUNKS; i++) {
            const chunk = chunkOf(i);
            hash.update(chunk);
            bytes += chunk.length;
            await write(res, chunk);
          }
          streaming.events.push("backend: finished");
          streaming.sent = { bytes, sha256: hash.digest("hex") };
          res.end();
          return;
        }
        case "/late-body":
          // Head at once, body after the destination's timeout: the timeout covers the head only.
          res.writeHead(200, { "content-type": "text/plain" });
          res.write("first;");
          await new Promise((resolve) => setTimeout(resolve, 700));
          res.end("second");
          return;
        case "/redir/abs":
          res.writeHead(302, { location: `${backendUrl()}/base/redir/landing?x=1#top` }).end();
          return;
        case "/redir/root":
          res.writeHead(302, { location: `${backendUrl()}/base` }).end();
          return;
        case "/redir/outside":
          res.writeHead(302, { location: `${backendUrl()}/elsewhere` }).end();
          return;
        case "/redir/rel":
          res.writeHead(302, { location: "landing?y=2" }).end();
          return;
        case "/redir/foreign":
          res.writeHead(302, { location: "https://idp.example/login?from=backend" }).end();
          return;
        case "/redir/see-other": {
          const body = await readBody(req);
          res.writeHead(303, {
            location: `${backendUrl()}/base/redir/created/1`,
            "content-type": "text/plain",
          });
          res.end(`created from ${body.length} bytes`);
          return;
        }
        case "/redir/temporary":
          res.writeHead(307, { location: "/base/redir/moved", "content-type": "text/plain" });
          res.end("moved temporarily");
          return;
        case "/no-content":
          res.writeHead(204, { "x-done": "1" }).end();
          return;
        case "/cached":
          if (req.headers["if-none-match"] === '"v1"') res.writeHead(304, { etag: '"v1"' }).end();
          else res.writeHead(200, { etag: '"v1"', "content-type": "text/plain" }).end("fresh");
          return;
        case "/cookies/set":
          res.setHeader("set-cookie", ["BSESSION=b-1; Path=/; HttpOnly", "PREF=dark; Max-Age=3600; Path=/"]);
          res.end("set");
          return;
        case "/cookies/java":
          // A Java backend's session cookie, named like the router's.
          res.setHeader("set-cookie", ["JSESSIONID=java-1; Path=/; HttpOnly"]);
          res.end("java");
          return;
        case "/cookies/persistent-only":
          res.setHeader("set-cookie", ["PREF=light; Max-Age=3600; Path=/"]);
          res.end("persistent");
          return;
        case "/cookies/logout":
          res.setHeader("set-cookie", ["BSESSION=; Max-Age=0; Path=/"]);
          res.end("gone");
          return;
        default:
          res.writeHead(200, { "content-type": "text/plain" }).end(`default ${req.method} ${req.url}`);
      }
    }),
    // Accepts connections and requests, never answers; notes when the router gives up on one.
    startLoopbackServer((req) => {
      const gaveUp = silentGaveUp;
      req.socket.once("close", () => gaveUp.fire());
      return new Promise<void>(() => {});
    }),
    closedPort(),
  ]);
  const script = await bundleWorker();
  const destinations = JSON.stringify([
    { name: "backend", url: backend.url },
    { name: "other", url: backend.url },
    { name: "based", url: `${backend.url}/base` },
    { name: "noxf", url: backend.url, setXForwardedHeaders: false },
    { name: "slow", url: silent.url, timeout: 300 },
    { name: "tight", url: backend.url, timeout: 300 },
    { name: "down", url: `http://127.0.0.1:${downPort}`, timeout: 5000 },
  ]);
  const bindings = {
    destinations,
    XS_APP: JSON.stringify(XS_APP),
    httpHeaders: JSON.stringify([{ "X-Env-Header": "from-env" }, { "X-Both": "from-env" }]),
  };
  [router, routerNoFrameOptions] = await Promise.all([
    startEdgeRouter({ script, bindings }),
    startEdgeRouter({
      script,
      bindings: { ...bindings, SEND_XFRAMEOPTIONS: "false", MERGE_CSP_HEADERS: "true" },
    }),
  ]);
});

afterAll(async () => {
  await Promise.all([router?.dispose(), routerNoFrameOptions?.dispose()]);
  await Promise.all([backend?.close(), silent?.close()]);
});

function backendUrl(): string {
  return backend.url;
}

/** A fresh router session: its cookie pair (`JSESSIONID=…`). */
async function newSession(): Promise<string> {
  const res = await router.fetch("/api/echo", { headers: { "x-csrf-token": "fetch" } });
  await res.arrayBuffer();
  const pair = routerCookie(res);
  expect(pair).toMatch(/^JSESSIONID=[A-Za-z0-9_-]{43}(\.[0-9a-z]+\.[A-Za-z0-9_-]{22})?$/); // (a token-only session lives in its cookie)
  return pair!;
}

/** The router's session cookie pair set by a response, if any. */
function routerCookie(res: Response): string | undefined {
  return res.headers
    .getSetCookie()
    .find((c) => /^JSESSIONID=[A-Za-z0-9_-]{43}(\.[0-9a-z]+\.[A-Za-z0-9_-]{22})?;/.test(c))
    ?.split(";")[0];
}

const cookieNames = (res: Response) => res.headers.getSetCookie().map((c) => c.split("=")[0]);

describe("streaming", () => {
  it("streams a 64 MiB request body and a 64 MiB answer at the same time, both intact", async () => {
    streaming.events = [];
    streaming.firstBodyBytes = latch();
    const answerStarted = latch();
    const sent = createHash("sha256");
    let next = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (next === CHUNKS / 2) {
          // Half the body is produced; the rest only once the backend has bytes and the
          // client has the answer's head: impossible for a router that reads the whole
          // request before calling the backend, or holds the answer back until it ends.
          streaming.events.push("client: half the body produced");
          const backendHasBytes = await streaming.firstBodyBytes.wait(GATE_GUARD_MS);
          const clientHasAnswer = await answerStarted.wait(GATE_GUARD_MS);
          streaming.events.push(`client: gates ${backendHasBytes} ${clientHasAnswer}`);
        }
        if (next === CHUNKS) {
          streaming.events.push("client: body complete");
          controller.close();
          return;
        }
        const chunk = chunkOf(next++);
        sent.update(chunk);
        controller.enqueue(new Uint8Array(chunk));
      },
    });
    const res = await router.fetch("/api/duplex", { method: "POST", body, duplex: "half" } as RequestInit);
    streaming.events.push("client: answer head");
    answerStarted.fire();
    expect(res.status).toBe(200);
    const echoed = createHash("sha256");
    let bytes = 0;
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      bytes += chunk.length;
      echoed.update(chunk);
    }
    const sentHash = sent.digest("hex");
    expect(streaming.received).toEqual({ bytes: 64 * MiB, sha256: sentHash });
    expect(bytes).toBe(64 * MiB);
    expect(echoed.digest("hex")).toBe(sentHash);
    expect(streaming.events).toEqual([
      "backend: first request bytes",
      "client: answer head",
      "client: half the body produced",
      "client: gates true true",
      "client: body complete",
      "backend: request ended",
    ]);
  });

  it("delivers the first bytes of a 64 MiB answer before the backend has written the rest", async () => {
    streaming.events = [];
    streaming.clientFirstBytes = latch();
    streaming.gateResult = undefined;
    const res = await router.fetch("/api/download");
    expect(res.status).toBe(200);
    const received = createHash("sha256");
    let bytes = 0;
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      if (bytes === 0) {
        streaming.events.push("client: first bytes");
        streaming.clientFirstBytes.fire();
      }
      bytes += chunk.length;
      received.update(chunk);
    }
    expect(streaming.gateResult).toBe(true);
    expect(streaming.events).toEqual([
      "backend: first chunk written",
      "client: first bytes",
      "backend: finished",
    ]);
    expect(streaming.sent.bytes).toBe(64 * MiB);
    expect(bytes).toBe(64 * MiB);
    expect(received.digest("hex")).toBe(streaming.sent.sha256);
  });
});

describe("headers, request direction", () => {
  it("drops hop-by-hop headers and those Connection names, keeps end-to-end ones, sends the destination's Host", async () => {
    const res = await router.raw("/api/echo?q=1", {
      method: "POST",
      headers: {
        connection: "x-hop, keep-alive",
        "x-hop": "nominated",
        "keep-alive": "timeout=5",
        te: "trailers",
        trailer: "x-checksum",
        upgrade: "h2c",
        "proxy-authorization": "Basic eDp5",
        "proxy-connection": "keep-alive",
        "x-end-to-end": "kept",
        "content-type": "text/plain",
      },
      body: "payload",
    });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body.toString())).toMatchObject({ method: "POST", url: "/echo?q=1", bodyBytes: 7 });
    const seen = backend.lastHead("/echo")!;
    for (const name of [
      "x-hop",
      "keep-alive",
      "te",
      "trailer",
      "upgrade",
      "proxy-authorization",
      "proxy-connection",
    ]) {
      expect(seen.headerNames, name).not.toContain(name);
    }
    // Node's own client connection header is the only Connection the backend may see.
    expect(seen.headers.connection ?? "keep-alive").toMatch(/^(keep-alive|close)$/i);
    expect(seen.headers["x-end-to-end"]).toBe("kept");
    expect(seen.headers["content-type"]).toBe("text/plain");
    expect(seen.headers.host).toBe(`127.0.0.1:${backend.port}`);
  });

  const SPOOFED = SPOOFED_PROXY_HEADERS;
  const SPOOFED_NAMES = Object.keys(SPOOFED).filter((name) => !name.startsWith("x-forwarded-"));

  it("sets X-Forwarded-Host/Proto/Path and X-Forwarded-For from cf-connecting-ip, dropping every proxy header the client sent", async () => {
    const res = await router.raw("/api/echo?a=1&b=2", {
      headers: { "cf-connecting-ip": "203.0.113.9", ...SPOOFED },
    });
    expect(res.status).toBe(200);
    const seen = backend.lastHead("/echo")!;
    expect(seen.url).toBe("/echo?a=1&b=2");
    expect(seen.headers["x-forwarded-host"]).toBe("router.test");
    expect(seen.headers["x-forwarded-proto"]).toBe("http"); // raw() reaches the router over plain http
    expect(seen.headers["x-forwarded-path"]).toBe("/api/echo"); // the path only, as SAP sends it
    expect(seen.headers["x-forwarded-for"]).toBe("203.0.113.9"); // the platform's word, not the client's chain
    for (const name of SPOOFED_NAMES) expect(seen.headerNames, name).not.toContain(name);
  });

  it("sends no X-Forwarded-* and none of the client's proxy headers to a destination with setXForwardedHeaders: false", async () => {
    const res = await router.raw("/noxf/echo", {
      headers: { "cf-connecting-ip": "203.0.113.9", ...SPOOFED },
    });
    expect(res.status).toBe(200);
    const seen = backend.lastHead("/echo")!;
    expect(seen.headerNames.filter((n) => n.startsWith("x-forwarded-"))).toEqual([]);
    for (const name of SPOOFED_NAMES) expect(seen.headerNames, name).not.toContain(name);
    expect(seen.headers.host).toBe(`127.0.0.1:${backend.port}`);
  });

  it("passes the client's Authorization on a public route (SAP)", async () => {
    await router.raw("/api/echo", { headers: { authorization: "Basic Y2xpZW50OnNlY3JldA==" } });
    expect(backend.lastHead("/echo")!.headers.authorization).toBe("Basic Y2xpZW50OnNlY3JldA==");
  });

  it("never forwards the router's JSESSIONID (a real session or a made-up one); other cookies arrive byte-for-byte", async () => {
    const session = await newSession();
    const others = ['a=1;b="x y"', " c=%20z ;d;e=", "f=g=h"];
    for (const [cookie, expected] of [
      [`${others[0]};${session};${others[1]}; ${others[2]}`, `${others[0]};${others[1]}; ${others[2]}`],
      ["JSESSIONID=made-up; theme=dark;lang=de", "theme=dark;lang=de"],
      [`${session}`, undefined],
    ] as const) {
      const res = await router.fetch("/api/echo", { headers: { cookie } });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { cookie: string | null };
      expect(body.cookie ?? undefined).toBe(expected);
      expect(backend.lastHead("/echo")!.headers.cookie).toBe(expected);
    }
  });
});

describe("headers, response direction", () => {
  it("drops hop-by-hop response headers and what the backend's Connection names, keeps the others", async () => {
    const res = await router.fetch("/api/hop");
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("hop");
    for (const name of [
      "x-hop-resp",
      "keep-alive",
      "trailer",
      "proxy-authenticate",
      "proxy-connection",
      "upgrade",
      "public",
    ]) {
      expect(res.headers.has(name), name).toBe(false);
    }
    expect(res.headers.get("connection")).not.toBe("x-hop-resp");
    expect(res.headers.get("x-end-to-end")).toBe("kept");
  });

  it("adds X-Frame-Options: SAMEORIGIN, httpHeaders and responseHeaders (xs-app.json winning per name)", async () => {
    for (const path of ["/api/echo", "/nowhere"]) {
      const res = await router.fetch(path);
      await res.arrayBuffer();
      expect(res.headers.get("x-frame-options"), path).toBe("SAMEORIGIN");
      expect(res.headers.get("x-env-header"), path).toBe("from-env");
      expect(res.headers.get("x-both"), path).toBe("from-xs-app");
      expect(res.headers.get("content-security-policy"), path).toBe("frame-ancestors 'self'");
    }
  });

  it("leaves the backend's own X-Frame-Options and configured headers alone", async () => {
    const res = await router.fetch("/api/own-headers");
    expect(await res.text()).toBe("own");
    expect(res.headers.get("x-frame-options")).toBe("DENY");
    expect(res.headers.get("content-security-policy")).toBe("default-src 'none'");
    expect(res.headers.get("x-env-header")).toBe("from-env");
  });

  it("sends no X-Frame-Options with SEND_XFRAMEOPTIONS=false, the configured headers still", async () => {
    const res = await routerNoFrameOptions.fetch("/api/echo");
    await res.arrayBuffer();
    expect(res.status).toBe(200);
    expect(res.headers.has("x-frame-options")).toBe(false);
    expect(res.headers.get("x-env-header")).toBe("from-env");
    expect(res.headers.get("x-both")).toBe("from-xs-app");
  });

  it("MERGE_CSP_HEADERS=true: the configured Content-Security-Policy goes out besides the backend's, as SAP sends both", async () => {
    const res = await routerNoFrameOptions.fetch("/api/own-headers");
    expect(await res.text()).toBe("own");
    expect(res.headers.get("content-security-policy")).toBe("default-src 'none', frame-ancestors 'self'");
    expect(res.headers.get("x-env-header")).toBe("from-env"); // other headers as without it
  });
});

describe("failures", () => {
  /** What an error page must not reveal: addresses, ports, destination names, error names and messages. */
  const internals = () => [
    "127.0.0.1",
    String(silent.port),
    String(downPort),
    "slow",
    "down",
    "upstream timeout",
    "TimeoutError",
    "AbortError",
    "fetch failed",
    "ECONNREFUSED",
  ];

  it("answers 504 with a short page when the destination does not answer within its timeout, and hangs up on it", async () => {
    const before = silent.heads.length;
    silentGaveUp = latch();
    const res = await router.fetch("/slow/anything?x=1");
    const body = await res.text();
    expect(res.status).toBe(504);
    expect(silent.heads.length).toBe(before + 1); // it did reach the backend, which never answered
    expect(body).toContain("BACKEND_TIMEOUT"); // the router's own page
    for (const secret of internals()) expect(body).not.toContain(secret);
    for (const [name, value] of res.headers)
      for (const secret of internals().slice(0, 3)) expect(`${name}: ${value}`).not.toContain(secret);
    // The upstream request is cancelled, not left hanging (a failure guard, not a measurement).
    expect(await silentGaveUp.wait(GATE_GUARD_MS)).toBe(true);
  });

  it("answers 502 when the destination cannot be reached", async () => {
    const res = await router.fetch("/down/anything");
    const body = await res.text();
    expect(res.status).toBe(502);
    expect(body).toContain("BACKEND_UNREACHABLE"); // the router's own page
    for (const secret of internals()) expect(body).not.toContain(secret);
    for (const [name, value] of res.headers)
      for (const secret of internals().slice(0, 3)) expect(`${name}: ${value}`).not.toContain(secret);
  });

  it("lets a body outlive the timeout once the head has arrived (the timeout is for the head)", async () => {
    const res = await router.fetch("/tight/late-body");
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("first;second");
  });
});

describe("redirects", () => {
  const manual = { redirect: "manual" } as const;

  it("passes an absolute Location on the destination back unchanged, as SAP's router does", async () => {
    const res = await router.fetch("/redir/abs", manual);
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe(`${backend.url}/base/redir/landing?x=1#top`);
    expect(backend.lastHead("/base/redir/abs")).toBeDefined();
  });

  it("keeps relative Locations, foreign ones and those outside the destination's path", async () => {
    expect((await router.fetch("/redir/rel", manual)).headers.get("location")).toBe("landing?y=2");
    expect((await router.fetch("/redir/foreign", manual)).headers.get("location")).toBe(
      "https://idp.example/login?from=backend",
    );
    expect((await router.fetch("/redir/outside", manual)).headers.get("location")).toBe(
      `${backend.url}/elsewhere`,
    );
  });

  it("passes 303 and 307 through with their bodies", async () => {
    const seeOther = await router.fetch("/redir/see-other", { ...manual, method: "POST", body: "form=1" });
    expect(seeOther.status).toBe(303);
    expect(seeOther.headers.get("location")).toBe(`${backend.url}/base/redir/created/1`);
    expect(await seeOther.text()).toBe("created from 6 bytes");
    const temporary = await router.fetch("/redir/temporary", { ...manual, method: "PUT", body: "x" });
    expect(temporary.status).toBe(307);
    expect(temporary.headers.get("location")).toBe("/base/redir/moved");
    expect(await temporary.text()).toBe("moved temporarily");
  });
});

describe("bodiless statuses", () => {
  it("passes 204 and 304 through without a body", async () => {
    const noContent = await router.fetch("/api/no-content", { method: "DELETE" });
    expect(noContent.status).toBe(204);
    expect(noContent.headers.get("x-done")).toBe("1");
    expect((await noContent.arrayBuffer()).byteLength).toBe(0);
    const fresh = await router.fetch("/api/cached");
    expect(await fresh.text()).toBe("fresh");
    const notModified = await router.fetch("/api/cached", { headers: { "if-none-match": '"v1"' } });
    expect(notModified.status).toBe(304);
    expect(notModified.headers.get("etag")).toBe('"v1"');
    expect((await notModified.arrayBuffer()).byteLength).toBe(0);
  });
});

describe("backend session cookies", () => {
  const cookieSent = async (res: Response) => ((await res.json()) as { cookie: string | null }).cookie;

  it("keeps a backend's session cookie in a new router session, passes persistent ones to the browser", async () => {
    const res = await router.fetch("/api/cookies/set");
    expect(await res.text()).toBe("set");
    const setCookies = res.headers.getSetCookie();
    expect(setCookies).toContain("PREF=dark; Max-Age=3600; Path=/");
    expect(setCookies.join("\n")).not.toContain("BSESSION");
    const session = routerCookie(res);
    expect(session).toBeDefined(); // created to hold the backend's cookie
    expect(cookieNames(res).sort()).toEqual(["JSESSIONID", "PREF"]);

    // Replayed to that destination with the next request; the router's cookie is not sent.
    const echo = await router.fetch("/api/echo", { headers: { cookie: `${session}; PREF=dark` } });
    const sent = (await cookieSent(echo))!;
    expect(sent.split("; ").sort()).toEqual(["BSESSION=b-1", "PREF=dark"]);
    expect(sent).not.toContain(session!.split("=")[1]);
    expect(echo.headers.getSetCookie()).toEqual([]);

    // Not to another destination, even on the same server.
    expect(
      await cookieSent(await router.fetch("/other/echo", { headers: { cookie: `${session}; PREF=dark` } })),
    ).toBe("PREF=dark");
    // Not without the router's cookie.
    expect(await cookieSent(await router.fetch("/api/echo"))).toBeNull();

    // The backend deleting it (Max-Age=0, no Expires) empties the jar's copy; the browser
    // never held it, so the deletion stays in the router, as in SAP's router.
    const logout = await router.fetch("/api/cookies/logout", { headers: { cookie: session! } });
    await logout.arrayBuffer();
    expect(logout.headers.getSetCookie()).toEqual([]);
    expect(await cookieSent(await router.fetch("/api/echo", { headers: { cookie: session! } }))).toBeNull();
  });

  it("keeps them in the router session the browser already has, under the same id", async () => {
    const anonymous = await newSession();
    // A session that held only its token is stored now: same id, its cookie the plain id.
    const res = await router.fetch("/api/cookies/set", { headers: { cookie: anonymous } });
    await res.arrayBuffer();
    expect(cookieNames(res).sort()).toEqual(["JSESSIONID", "PREF"]);
    const session = routerCookie(res)!;
    expect(anonymous.startsWith(`${session}.`)).toBe(true);
    // A session that is stored already gets no new cookie.
    const again = await router.fetch("/api/cookies/set", { headers: { cookie: session } });
    await again.arrayBuffer();
    expect(cookieNames(again)).toEqual(["PREF"]);
    const echo = await router.fetch("/api/echo", { headers: { cookie: `theme=dark; ${session}` } });
    expect((await cookieSent(echo))!.split("; ").sort()).toEqual(["BSESSION=b-1", "theme=dark"]);
  });

  it("sends them to the browser instead on a route with setBackendSessionCookies", async () => {
    const res = await router.fetch("/bsc/cookies/set");
    await res.arrayBuffer();
    const backendCookies = res.headers.getSetCookie().filter((c) => !c.startsWith("JSESSIONID="));
    expect(backendCookies.sort()).toEqual([
      "BSESSION=b-1; Path=/; HttpOnly",
      "PREF=dark; Max-Age=3600; Path=/",
    ]);
    // (Whether a router session is created here as well is the last test's subject.)
  });

  it("never passes a backend's JSESSIONID to the browser, whatever the route says", async () => {
    for (const path of ["/api/cookies/java", "/bsc/cookies/java"]) {
      const res = await router.fetch(path);
      expect(await res.text(), path).toBe("java");
      const setCookies = res.headers.getSetCookie();
      expect(setCookies.join("\n"), path).not.toContain("java-1");
      // The only JSESSIONID the browser gets is the router's own, created to hold the backend's.
      expect(setCookies.filter((c) => c.startsWith("JSESSIONID=")).length, path).toBe(1);
      expect(routerCookie(res), path).toBeDefined();
    }
  });

  it("replays a backend's own JSESSIONID, kept in the router session, to that backend", async () => {
    const res = await router.fetch("/api/cookies/java");
    await res.arrayBuffer();
    const session = routerCookie(res)!;
    const echo = await router.fetch("/api/echo", { headers: { cookie: `${session}; theme=dark` } });
    const sent = (await cookieSent(echo)) ?? "";
    expect(sent.split("; ").sort()).toEqual(["JSESSIONID=java-1", "theme=dark"]);
  });

  it("creates no router session when nothing goes into it (persistent cookies, setBackendSessionCookies)", async () => {
    const res = await router.fetch("/api/cookies/persistent-only");
    expect(await res.text()).toBe("persistent");
    expect(res.headers.getSetCookie()).toEqual(["PREF=light; Max-Age=3600; Path=/"]);
    const bsc = await router.fetch("/bsc/cookies/set");
    await bsc.arrayBuffer();
    expect(routerCookie(bsc)).toBeUndefined();
  });
});

describe("CORS (xs-app.json rules)", () => {
  it("answers an allowed preflight with 204 and the Access-Control-* headers, without calling the backend", async () => {
    const before = backend.heads.length;
    const res = await router.fetch("/api/cors/item", {
      method: "OPTIONS",
      headers: {
        origin: "https://app.example",
        "access-control-request-method": "PUT",
        "access-control-request-headers": "x-custom, content-type",
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe("https://app.example");
    expect(res.headers.get("access-control-allow-methods")).toBe("PUT");
    expect(res.headers.get("access-control-allow-headers")).toBe("Content-Type, X-Custom");
    expect(res.headers.get("access-control-allow-credentials")).toBe("true");
    expect(res.headers.get("access-control-max-age")).toBe("600");
    expect(res.headers.get("vary")).toBe("Origin");
    expect(backend.heads.length).toBe(before);
  });

  it("refuses a disallowed origin, method or header with 403, preflight or not", async () => {
    const before = backend.heads.length;
    const cases: [string, RequestInit][] = [
      [
        "origin",
        {
          method: "OPTIONS",
          headers: { origin: "https://evil.example", "access-control-request-method": "GET" },
        },
      ],
      [
        "scheme",
        {
          method: "OPTIONS",
          headers: { origin: "http://app.example", "access-control-request-method": "GET" },
        },
      ],
      [
        "method",
        {
          method: "OPTIONS",
          headers: { origin: "https://app.example", "access-control-request-method": "DELETE" },
        },
      ],
      [
        "header",
        {
          method: "OPTIONS",
          headers: {
            origin: "https://app.example",
            "access-control-request-method": "GET",
            "access-control-request-headers": "x-other",
          },
        },
      ],
      ["actual", { headers: { origin: "https://evil.example" } }],
      ["actual method", { method: "DELETE", headers: { origin: "https://app.example" } }],
    ];
    for (const [name, init] of cases) {
      const res = await router.fetch("/api/cors/item", init);
      await res.arrayBuffer();
      expect(res.status, name).toBe(403);
      expect(res.headers.has("access-control-allow-origin"), name).toBe(false);
    }
    expect(backend.heads.length).toBe(before);
  });

  it("adds the headers to the actual response; leaves same-origin and unruled paths alone", async () => {
    const res = await router.fetch("/api/cors/own-headers", { headers: { origin: "https://app.example" } });
    expect(await res.text()).toBe("own");
    expect(res.headers.get("access-control-allow-origin")).toBe("https://app.example");
    expect(res.headers.get("access-control-allow-credentials")).toBe("true");
    expect(res.headers.get("access-control-expose-headers")).toBe("X-Exposed");
    expect(res.headers.get("vary")).toBe("Origin");

    for (const [path, origin] of [
      ["/api/echo", "https://app.example"],
      ["/api/cors/x", "https://router.test"],
    ]) {
      const plain = await router.fetch(path!, { headers: { origin: origin! } });
      await plain.arrayBuffer();
      expect(plain.status).toBe(200);
      expect(plain.headers.has("access-control-allow-origin")).toBe(false);
    }
  });
});

describe("route matching", () => {
  it("substitutes $1 into a target without a leading slash and keeps the query", async () => {
    const res = await router.fetch("/dollar/a/b%20c?x=1&y=%2F");
    expect(await res.text()).toBe("default GET /a/b%20c?x=1&y=%2F");
    const v1 = await router.fetch("/v1/items/7?expand=all");
    expect(await v1.text()).toBe("default GET /v2/items/7?expand=all");
  });

  it.each([
    // [request line path, what the backend's request line says]
    ["/api/%65cho", "/echo"], // unreserved escapes decoded
    ["/api//echo", "/echo"], // empty segments merged
    ["/dollar/a%c3%a4/b?x=%2f", "/a%C3%A4/b?x=%2f"], // hex case normalised in the path, the query as sent
    ["/dollar/x/%2e%2e/echo", "/echo"], // resolved by the URL parser before the router decides
  ])("decides on and forwards the canonical path: %s → %s", async (path, upstream) => {
    const res = await router.raw(path);
    expect(res.status).toBe(200);
    expect(backend.heads.at(-1)!.url).toBe(upstream);
  });

  it.each([
    ["/api/..;/admin"],
    ["/api/admin%2Fusers"],
    ["/api/a%5Cb"],
    ["/api/%C0%AE%C0%AE/x"],
    ["/api/x%00"],
    ["/api/%2e%2e;/x"],
  ])("refuses %s with 400 PATH_REFUSED, without calling any backend", async (path) => {
    const before = backend.heads.length;
    const res = await router.raw(path);
    expect(res.status).toBe(400);
    expect(res.body.toString()).toContain("PATH_REFUSED");
    expect(backend.heads.length).toBe(before);
  });

  it("answers 404 without a route, without calling any backend", async () => {
    const before = backend.heads.length;
    const res = await router.fetch("/nowhere/at/all");
    expect(res.status).toBe(404);
    expect(await res.text()).toContain("404");
    expect(backend.heads.length).toBe(before);
  });

  it("answers 405 with Allow only when no route accepts the method", async () => {
    const before = backend.heads.length;
    const ro = await router.fetch("/ro/x", { method: "POST", body: "x" });
    expect(ro.status).toBe(405);
    expect(ro.headers.get("allow")).toBe("GET");
    const multi = await router.fetch("/multi/x", { method: "DELETE" });
    expect(multi.status).toBe(405);
    expect(multi.headers.get("allow")).toBe("GET, PUT");
    expect(backend.heads.length).toBe(before);

    const put = await router.fetch("/multi/x", { method: "PUT", body: "y" });
    expect(put.status).toBe(200);
    expect(put.headers.has("allow")).toBe(false);
    expect(await put.text()).toBe("default PUT /x");
    const get = await router.fetch("/ro/x");
    expect(await get.text()).toBe("default GET /x");
  });
});
