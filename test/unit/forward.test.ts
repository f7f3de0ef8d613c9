import fc from "fast-check";
import { describe, it, expect } from "vitest";
import type { Destination } from "../../src/config/types.js";
import {
  buildUpstreamRequest,
  checkWebSocketUpgrade,
  forward,
  isWebSocketUpgrade,
  removeCookie,
  removeRouterCookies,
  type ForwardOptions,
  type WebSocketPolicy,
} from "../../src/proxy/forward.js";
import { SPOOFED_PROXY_HEADERS } from "../support/spoofed-headers.js";
import { HOP_BY_HOP_HEADERS } from "../../src/http/hop-by-hop.js";

function destination(extra: Partial<Destination> = {}): Destination {
  return {
    name: "backend",
    url: "https://b.example/base",
    forwardAuthToken: false,
    timeoutMs: 30_000,
    setXForwardedHeaders: true,
    ...extra,
  };
}

/** A fake fetch that records the upstream Request; `this` must be undefined (as for workerd's fetch). */
function fakeFetch(respond: (req: Request) => Response | Promise<Response> = () => new Response("ok")) {
  const calls: Request[] = [];
  const fetchImpl = function (this: unknown, input: RequestInfo | URL, init?: RequestInit) {
    if (this !== undefined) throw new TypeError("Illegal invocation");
    const req = input instanceof Request && init === undefined ? input : new Request(input, init);
    calls.push(req);
    return Promise.resolve().then(() => respond(req));
  } as typeof fetch;
  return { calls, fetch: fetchImpl };
}

function options(extra: Partial<ForwardOptions> = {}): ForwardOptions {
  return {
    destination: destination(),
    target: "/x",
    fetch: fakeFetch().fetch,
    sessionCookieName: "JSESSIONID",
    ...extra,
  };
}

const encoder = new TextEncoder();

describe("buildUpstreamRequest: URL", () => {
  it.each([
    ["https://b.example/base", "/x?y=1", "https://b.example/base/x?y=1"],
    ["https://b.example/base", "/", "https://b.example/base/"],
    ["https://b.example/base", "/?q", "https://b.example/base/?q"],
    ["https://b.example", "/x", "https://b.example/x"],
    ["https://b.example", "//evil.example/x", "https://b.example//evil.example/x"], // stays on the destination host
    ["http://b.example:8080/a/b", "/c/d?e=%20f", "http://b.example:8080/a/b/c/d?e=%20f"],
  ] as const)("%s + %s → %s", (url, target, expected) => {
    const req = buildUpstreamRequest(
      new Request("https://router.example/in"),
      options({ destination: destination({ url }), target }),
    );
    expect(req.url).toBe(expected);
    expect(req.redirect).toBe("manual");
  });

  it.each([
    ["x"],
    [""],
    ["/../admin"],
    ["/%2e%2e/admin"],
    ["/a/../b"], // any dot segment: matchRoute never produces one
    ["/a\\..\\b"],
    ["/x\r\nX-Injected: 1"],
  ])("throws for a target that is a bug: %j", (target) => {
    expect(() => buildUpstreamRequest(new Request("https://router.example/in"), options({ target }))).toThrow(
      TypeError,
    );
  });
});

describe("buildUpstreamRequest: headers", () => {
  it("drops hop-by-hop headers, the ones named in Connection, and Host; keeps the rest", () => {
    const incoming = new Request("https://router.example/in", {
      headers: {
        connection: "keep-alive, X-Private , x-other",
        "keep-alive": "timeout=5",
        "proxy-authorization": "Basic Zm9vOmJhcg==",
        "proxy-authenticate": "Basic",
        "proxy-connection": "keep-alive",
        te: "trailers",
        "transfer-encoding": "chunked",
        trailer: "x-checksum",
        upgrade: "websocket",
        public: "GET",
        "x-private": "secret",
        "x-other": "1",
        host: "router.example",
        accept: "application/json",
        "x-custom": "kept",
      },
    });
    const req = buildUpstreamRequest(
      incoming,
      options({ destination: destination({ setXForwardedHeaders: false }) }),
    );
    expect([...req.headers.keys()].sort()).toEqual(["accept", "x-custom"]);
  });

  it.each([
    // [Cookie header, expected forwarded value]
    ["JSESSIONID=abc", null],
    ["a=1; JSESSIONID=abc; b=2", "a=1; b=2"],
    ["JSESSIONID=abc; a=1", "a=1"],
    ["a=1;b=2;JSESSIONID=x", "a=1;b=2"],
    ["a=1; JSESSIONID=x; JSESSIONID=y; c=3", "a=1; c=3"],
    [" JSESSIONID =x;  a=1", "a=1"],
    ["a=1; jsessionid=x", "a=1; jsessionid=x"], // names are case-sensitive
    ["a=1; JSESSIONIDX=1; XJSESSIONID=2", "a=1; JSESSIONIDX=1; XJSESSIONID=2"],
    ['a=%20x;  b==c;flag; d="q r"', 'a=%20x;  b==c;flag; d="q r"'], // byte-for-byte
    ["a=JSESSIONID=1", "a=JSESSIONID=1"],
  ] as const)("Cookie %j → %j", (cookie, expected) => {
    expect(removeCookie(cookie, "JSESSIONID")).toBe(expected);
    const req = buildUpstreamRequest(
      new Request("https://router.example/in", { headers: { cookie } }),
      options(),
    );
    expect(req.headers.get("cookie")).toBe(expected);
  });

  it("removes the router's cookies exactly as removing each by name would, with or without them", () => {
    // A header without the session cookie's name takes a shortcut; it must change nothing.
    const name = fc.constantFrom(
      "JSESSIONID",
      "JSESSIONID_SYNC",
      "JSESSIONIDX",
      "a",
      "b",
      " JSESSIONID ",
      "",
    );
    const pair = fc
      .tuple(name, fc.constantFrom("", "=", "=1", "=x=y", '="q r"', "=%20"))
      .map(([n, v]) => n + v);
    const header = fc
      .tuple(
        fc.array(pair, { maxLength: 5 }),
        fc.constantFrom(";", "; ", " ;", ";;"),
        fc.constantFrom("", " ", "  "),
      )
      .map(([pairs, separator, lead]) => lead + pairs.join(separator));
    fc.assert(
      fc.property(header, (cookie) => {
        const byName = removeCookie(removeCookie(cookie, "JSESSIONID") ?? "", "JSESSIONID_SYNC");
        expect(removeRouterCookies(cookie, "JSESSIONID")).toBe(byName);
      }),
      { numRuns: 500 },
    );
  });

  it("uses the configured session cookie name", () => {
    const incoming = new Request("https://router.example/in", {
      headers: { cookie: "JSESSIONID=j; __Host-ar=s" },
    });
    const req = buildUpstreamRequest(incoming, options({ sessionCookieName: "__Host-ar" }));
    expect(req.headers.get("cookie")).toBe("JSESSIONID=j");
  });

  it.each([
    ["Basic dXNlcjpwdw==", undefined, "Basic dXNlcjpwdw=="], // incoming passes unchanged
    ["Basic dXNlcjpwdw==", "Bearer t0k3n", "Bearer t0k3n"], // replaced by the caller's token
    [undefined, "Bearer t0k3n", "Bearer t0k3n"],
    [undefined, undefined, null],
  ] as const)("Authorization: incoming %j, opts %j → %j", (incoming, authorization, expected) => {
    const headers: Record<string, string> = incoming === undefined ? {} : { authorization: incoming };
    const opts = authorization === undefined ? options() : options({ authorization });
    const req = buildUpstreamRequest(new Request("https://router.example/in", { headers }), opts);
    expect(req.headers.get("authorization")).toBe(expected);
  });

  it("keeps Authorization out when the client names it in Connection, unless the caller sets one", () => {
    const incoming = new Request("https://router.example/in", {
      headers: { authorization: "Basic x", connection: "authorization" },
    });
    expect(buildUpstreamRequest(incoming, options()).headers.get("authorization")).toBeNull();
    expect(
      buildUpstreamRequest(incoming, options({ authorization: "Bearer t" })).headers.get("authorization"),
    ).toBe("Bearer t");
  });

  it.each([
    // [incoming URL, incoming headers, clientIp, expected x-forwarded-*]
    [
      "https://router.example/api/x?y=1",
      { host: "router.example" },
      "203.0.113.7",
      { host: "router.example", proto: "https", path: "/api/x", for: "203.0.113.7" },
    ],
    [
      "http://router.example:8787/p",
      {},
      undefined,
      { host: "router.example:8787", proto: "http", path: "/p", for: null },
    ],
    [
      "https://router.example/p",
      { "x-forwarded-for": "198.51.100.1, 10.0.0.1" },
      "203.0.113.7",
      // the client's chain is replaced by what the platform says (CF-Connecting-IP)
      { host: "router.example", proto: "https", path: "/p", for: "203.0.113.7" },
    ],
    [
      "https://router.example/p",
      { "x-forwarded-for": "198.51.100.1" },
      undefined,
      { host: "router.example", proto: "https", path: "/p", for: null },
    ],
    [
      // client-sent values are replaced by what the router saw
      "https://router.example/p",
      {
        host: "router.example",
        "x-forwarded-host": "evil.example",
        "x-forwarded-proto": "http",
        "x-forwarded-path": "/admin",
      },
      "203.0.113.7",
      { host: "router.example", proto: "https", path: "/p", for: "203.0.113.7" },
    ],
  ] as const)("X-Forwarded-* for %s %j", (url, headers, clientIp, expected) => {
    const opts = clientIp === undefined ? options() : options({ clientIp });
    const req = buildUpstreamRequest(new Request(url, { headers }), opts);
    expect({
      host: req.headers.get("x-forwarded-host"),
      proto: req.headers.get("x-forwarded-proto"),
      path: req.headers.get("x-forwarded-path"),
      for: req.headers.get("x-forwarded-for"),
    }).toEqual(expected);
  });

  it.each([
    [
      true,
      {
        "x-forwarded-host": "router.example",
        "x-forwarded-proto": "https",
        "x-forwarded-path": "/p",
        "x-forwarded-for": "203.0.113.7",
      },
    ],
    [false, {}],
  ] as const)(
    "setXForwardedHeaders %s: the client's proxy and address headers never reach the backend; only the router's own",
    (on, expected) => {
      const incoming = new Request("https://router.example/p", {
        headers: { host: "router.example", accept: "*/*", ...SPOOFED_PROXY_HEADERS },
      });
      const req = buildUpstreamRequest(
        incoming,
        options({ destination: destination({ setXForwardedHeaders: on }), clientIp: "203.0.113.7" }),
      );
      expect(Object.fromEntries(req.headers)).toEqual({ accept: "*/*", ...expected });
    },
  );

  it.each([
    // [client Authorization, dropClientAuthorization, router token, expected]
    ["Bearer client-chosen", true, undefined, null], // protected route, no token forwarded
    ["Bearer client-chosen", true, "Bearer router", "Bearer router"],
    ["Bearer client-chosen", false, undefined, "Bearer client-chosen"], // public route: the client's own (SAP)
  ] as const)(
    "Authorization %j with dropClientAuthorization %s and token %j → %j",
    (incoming, drop, authorization, expected) => {
      const req = buildUpstreamRequest(
        new Request("https://router.example/in", { headers: { authorization: incoming } }),
        options({ dropClientAuthorization: drop, ...(authorization ? { authorization } : {}) }),
      );
      expect(req.headers.get("authorization")).toBe(expected);
    },
  );

  it("sends no X-Forwarded-* at all when the destination turns them off, not even the client's (SAP)", () => {
    const incoming = new Request("https://router.example/p", {
      headers: { host: "router.example", "x-forwarded-for": "198.51.100.1", "x-forwarded-host": "evil" },
    });
    const req = buildUpstreamRequest(
      incoming,
      options({ destination: destination({ setXForwardedHeaders: false }), clientIp: "203.0.113.7" }),
    );
    for (const name of ["x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "x-forwarded-path"])
      expect(req.headers.get(name)).toBeNull();
  });
});

describe("buildUpstreamRequest: proxy headers from a destination", () => {
  it("drops a destination's headers that would speak for the router, as the client's (one pass over the names must not let them through)", () => {
    const incoming = new Request("https://router.example/p", {
      headers: { host: "router.example", forwarded: "for=198.51.100.1", "x-real-ip": "198.51.100.1" },
    });
    const req = buildUpstreamRequest(
      incoming,
      options({
        destination: destination({
          setXForwardedHeaders: false,
          headers: [
            { name: "X-Forwarded-Host", value: "dest.example" },
            { name: "sap-client", value: "100" },
          ],
          defaultHeaders: [
            { name: "X-Real-IP", value: "10.0.0.1" },
            { name: "True-Client-IP", value: "10.0.0.2" },
          ],
        }),
      }),
    );
    for (const name of ["x-forwarded-host", "x-real-ip", "true-client-ip", "forwarded"])
      expect(req.headers.get(name), name).toBeNull();
    expect(req.headers.get("sap-client")).toBe("100");
  });
});

describe("buildUpstreamRequest: method and body", () => {
  it.each(["GET", "HEAD"])("%s has no body", (method) => {
    const req = buildUpstreamRequest(new Request("https://router.example/in", { method }), options());
    expect(req.method).toBe(method);
    expect(req.body).toBeNull();
  });

  it.each(["POST", "PUT", "PATCH", "DELETE"])("%s carries the body", async (method) => {
    const incoming = new Request("https://router.example/in", {
      method,
      body: "payload é",
      headers: { "content-type": "text/plain" },
    });
    const req = buildUpstreamRequest(incoming, options());
    expect(req.method).toBe(method);
    expect(req.headers.get("content-type")).toBe("text/plain");
    expect(await req.text()).toBe("payload é");
  });

  it("DELETE without a body stays without one", () => {
    const req = buildUpstreamRequest(
      new Request("https://router.example/in", { method: "DELETE" }),
      options(),
    );
    expect(req.body).toBeNull();
  });
});

describe("forward", () => {
  it("streams the request body upstream without buffering it", async () => {
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c) });
    controller.enqueue(encoder.encode("first,"));

    let firstChunkSeen!: () => void;
    const firstChunk = new Promise<void>((resolve) => (firstChunkSeen = resolve));
    const upstream = fakeFetch(async (req) => {
      expect(req.body).toBeInstanceOf(ReadableStream);
      const reader = req.body!.getReader();
      const chunks: Uint8Array[] = [];
      let sawFirstBeforeEnd = false;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        chunks.push(value);
        if (!sawFirstBeforeEnd) {
          sawFirstBeforeEnd = true;
          firstChunkSeen(); // the client only sends the rest now: a buffering proxy would deadlock
        }
      }
      const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
      let offset = 0;
      for (const c of chunks) {
        all.set(c, offset);
        offset += c.length;
      }
      return new Response(all);
    });

    const incoming = new Request("https://router.example/in", { method: "POST", body });
    const pending = forward(incoming, options({ fetch: upstream.fetch }));
    await firstChunk;
    controller.enqueue(encoder.encode("second"));
    controller.close();

    const res = await pending;
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("first,second");
    expect(upstream.calls[0]!.body).toBeInstanceOf(ReadableStream);
  });

  it("returns status, statusText and headers from upstream minus hop-by-hop, body streamed", async () => {
    const upstreamBody = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(encoder.encode("hello "));
        c.enqueue(encoder.encode("world"));
        c.close();
      },
    });
    const headers = new Headers({
      "content-type": "text/plain",
      connection: "x-internal",
      "x-internal": "1",
      "keep-alive": "timeout=5",
      "x-backend": "yes",
    });
    headers.append("set-cookie", "a=1; Path=/");
    headers.append("set-cookie", "b=2; Path=/");
    const upstream = fakeFetch(
      () => new Response(upstreamBody, { status: 201, statusText: "Created Here", headers }),
    );

    const res = await forward(new Request("https://router.example/in"), options({ fetch: upstream.fetch }));
    expect(res.status).toBe(201);
    expect(res.statusText).toBe("Created Here");
    expect(res.headers.get("x-backend")).toBe("yes");
    expect(res.headers.get("content-type")).toBe("text/plain");
    expect(res.headers.get("x-internal")).toBeNull();
    expect(res.headers.get("connection")).toBeNull();
    expect(res.headers.get("keep-alive")).toBeNull();
    expect(res.headers.getAll("set-cookie")).toEqual(["a=1; Path=/", "b=2; Path=/"]);
    expect(res.body).toBeInstanceOf(ReadableStream);
    expect(await res.text()).toBe("hello world");
  });

  it("drops every hop-by-hop response header, nominated by Connection (any case) or not", async () => {
    const headers = new Headers({
      connection: "Keep-Alive, X-Private, TE",
      "x-private": "1",
      "x-kept": "yes",
    });
    for (const name of HOP_BY_HOP_HEADERS) if (name !== "connection") headers.set(name, "x");
    const upstream = fakeFetch(() => new Response("ok", { headers }));
    const res = await forward(new Request("https://router.example/in"), options({ fetch: upstream.fetch }));
    for (const name of [...HOP_BY_HOP_HEADERS, "x-private"]) expect(res.headers.get(name), name).toBeNull();
    expect(res.headers.get("x-kept")).toBe("yes");
  });

  it.each([204, 304])("passes a %i without body", async (status) => {
    const upstream = fakeFetch(() => new Response(null, { status, headers: { etag: '"1"' } }));
    const res = await forward(new Request("https://router.example/in"), options({ fetch: upstream.fetch }));
    expect(res.status).toBe(status);
    expect(res.headers.get("etag")).toBe('"1"');
    expect(res.body).toBeNull();
  });

  it("sends the built request: URL, method, redirect manual, headers", async () => {
    const upstream = fakeFetch();
    const incoming = new Request("https://router.example/api/x?y=1", {
      method: "PUT",
      body: "b",
      headers: { host: "router.example", cookie: "JSESSIONID=s; other=o" },
    });
    await forward(
      incoming,
      options({
        fetch: upstream.fetch,
        target: "/x?y=1",
        authorization: "Bearer t",
        clientIp: "203.0.113.7",
      }),
    );
    const req = upstream.calls[0]!;
    expect(req.url).toBe("https://b.example/base/x?y=1");
    expect(req.method).toBe("PUT");
    expect(req.redirect).toBe("manual");
    expect(req.headers.get("cookie")).toBe("other=o");
    expect(req.headers.get("authorization")).toBe("Bearer t");
    expect(req.headers.get("x-forwarded-for")).toBe("203.0.113.7");
    expect(req.headers.get("x-forwarded-path")).toBe("/api/x"); // the path only, as SAP
    expect(await req.text()).toBe("b");
  });

  it.each([["https://b.example/base/login?next=%2F"], ["/base/x"], ["https://idp.example/authorize?x=1"]])(
    "passes backend redirects back with their Location unchanged, as SAP's router does: %s",
    async (location) => {
      const upstream = fakeFetch(() => new Response(null, { status: 302, headers: { location } }));
      const res = await forward(
        new Request("https://router.example/app"),
        options({ fetch: upstream.fetch }),
      );
      expect(res.status).toBe(302);
      expect(res.headers.get("location")).toBe(location);
    },
  );

  it("answers 504 when the destination does not answer in time (fetch ignores the signal)", async () => {
    const upstream = fakeFetch(() => new Promise<Response>(() => {}));
    const started = Date.now();
    const res = await forward(
      new Request("https://router.example/in"),
      options({ fetch: upstream.fetch, destination: destination({ timeoutMs: 50 }) }),
    );
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(res.status).toBe(504);
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(await res.text()).toContain("BACKEND_TIMEOUT");
    expect(upstream.calls[0]!.signal.aborted).toBe(true);
  });

  it("answers 504 when the fetch honours the abort signal", async () => {
    const upstream = fakeFetch(
      (req) =>
        new Promise<Response>((_, reject) => {
          req.signal.addEventListener("abort", () => reject(req.signal.reason));
        }),
    );
    const res = await forward(
      new Request("https://router.example/in"),
      options({ fetch: upstream.fetch, destination: destination({ timeoutMs: 50 }) }),
    );
    expect(res.status).toBe(504);
    expect(await res.text()).toContain("BACKEND_TIMEOUT");
  });

  it.each([
    [
      "a rejected fetch",
      () => Promise.reject(new TypeError("Network connection lost: https://internal.b.example:8443/secret")),
    ],
    [
      "a fetch that throws synchronously",
      () => {
        throw new Error("connect ECONNREFUSED 10.0.0.5:443");
      },
    ],
  ])("answers 502 for %s, without internal details", async (_, impl) => {
    const res = await forward(
      new Request("https://router.example/in"),
      options({ fetch: impl as unknown as typeof fetch }),
    );
    expect(res.status).toBe(502);
    const text = await res.text();
    expect(text).toContain("BACKEND_UNREACHABLE");
    expect(text).not.toMatch(/internal|10\.0\.0\.5|b\.example/);
  });

  it("stops the timeout once the response head arrived: a slow body is not cut", async () => {
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    const slowBody = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c) });
    const upstream = fakeFetch(() => new Response(slowBody));
    const res = await forward(
      new Request("https://router.example/in"),
      options({ fetch: upstream.fetch, destination: destination({ timeoutMs: 30 }) }),
    );
    expect(res.status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(upstream.calls[0]!.signal.aborted).toBe(false);
    controller.enqueue(encoder.encode("late"));
    controller.close();
    expect(await res.text()).toBe("late");
  });

  it("cancels the upstream call when the client goes away first", async () => {
    const client = new AbortController();
    const upstream = fakeFetch(() => new Promise<Response>(() => {}));
    const incoming = new Request("https://router.example/in", { signal: client.signal });
    const pending = forward(incoming, options({ fetch: upstream.fetch }));
    await new Promise((resolve) => setTimeout(resolve, 10));
    client.abort();
    const res = await pending;
    expect(res.status).toBe(502);
    expect(upstream.calls[0]!.signal.aborted).toBe(true);
  });

  it("leaves the client's signal alone with clientAbort: false (a runtime that never aborts it)", async () => {
    const client = new AbortController();
    let answer!: (res: Response) => void;
    const upstream = fakeFetch(() => new Promise<Response>((resolve) => void (answer = resolve)));
    const incoming = new Request("https://router.example/in", { signal: client.signal });
    const pending = forward(incoming, options({ fetch: upstream.fetch, clientAbort: false }));
    await new Promise((resolve) => setTimeout(resolve, 10));
    client.abort();
    answer(new Response("late but wanted"));
    const res = await pending;
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("late but wanted");
    expect(upstream.calls[0]!.signal.aborted).toBe(false);
  });

  it("does not call upstream for a client that is already gone", async () => {
    const client = new AbortController();
    client.abort();
    const upstream = fakeFetch(() => new Promise<Response>(() => {}));
    const res = await forward(
      new Request("https://router.example/in", { signal: client.signal }),
      options({ fetch: upstream.fetch }),
    );
    expect(res.status).toBe(502);
    expect(upstream.calls).toHaveLength(0);
  });

  it("throws (a bug, not an expected failure) for a target matchRoute never produces", async () => {
    await expect(
      forward(new Request("https://router.example/in"), options({ target: "/../up" })),
    ).rejects.toThrow(TypeError);
  });
});

describe("WebSockets", () => {
  const ROUTER = "https://router.example";
  /** A handshake; a header given as null is left out. */
  const upgrade = (headers: Record<string, string | null> = {}, method = "GET") => {
    const all: Record<string, string | null> = {
      upgrade: "websocket",
      connection: "Upgrade",
      "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
      "sec-websocket-version": "13",
      "sec-websocket-protocol": "chat",
      origin: ROUTER,
      cookie: "JSESSIONID=router-secret; app=1",
      host: "router.example",
      ...headers,
    };
    const present = Object.entries(all).filter((e): e is [string, string] => e[1] !== null);
    return new Request(`${ROUTER}/ws/chat?room=1`, { method, headers: present });
  };
  const ENABLED: WebSocketPolicy = { enabled: true };

  /** An upstream that accepts the upgrade as workerd's fetch does: 101 with a webSocket. */
  function acceptingUpstream() {
    return fakeFetch(() => {
      const pair = new WebSocketPair();
      pair[1].accept();
      return new Response(null, { status: 101, webSocket: pair[0] });
    });
  }

  it.each([
    [{ upgrade: "websocket" }, true],
    [{ upgrade: "WebSocket" }, true],
    [{ upgrade: "h2c, websocket" }, true],
    [{ upgrade: "h2c" }, false],
    [{}, false],
  ])("isWebSocketUpgrade(%j) → %s", (headers, expected) => {
    expect(isWebSocketUpgrade(new Request(ROUTER, { headers }))).toBe(expected);
  });

  it.each([
    ["no policy (websockets not configured)", undefined, {}, 403],
    ["websockets.enabled false", { enabled: false }, {}, 403],
    ["enabled, own origin", ENABLED, {}, null],
    ["enabled, own origin in other case", ENABLED, { origin: "HTTPS://ROUTER.EXAMPLE" }, null],
    ["enabled, no Origin (SAP: 403)", ENABLED, { origin: null }, 403],
    [
      "enabled, foreign origin (cross-site WebSocket hijacking)",
      ENABLED,
      { origin: "https://evil.example" },
      403,
    ],
    [
      "WS_ALLOWED_ORIGINS allows it",
      { enabled: true, allowedOrigins: [{ host: "app.example.com", protocol: "https" }] },
      { origin: "https://app.example.com" },
      null,
    ],
    [
      "WS_ALLOWED_ORIGINS adds to the router's own origin, which stays allowed",
      { enabled: true, allowedOrigins: [{ host: "app.example.com" }] },
      {},
      null,
    ],
    [
      "WS_ALLOWED_ORIGINS: an origin neither listed nor the router's",
      { enabled: true, allowedOrigins: [{ host: "app.example.com" }] },
      { origin: "https://evil.example" },
      403,
    ],
  ] as const)("checkWebSocketUpgrade: %s → %s", (_, policy, headers, expected) => {
    expect(checkWebSocketUpgrade(upgrade(headers), policy)?.status ?? null).toBe(expected);
  });

  it("forwards an allowed upgrade and returns the 101 with its webSocket as it is", async () => {
    const upstream = acceptingUpstream();
    const res = await forward(
      upgrade(),
      options({
        fetch: upstream.fetch,
        target: "/chat?room=1",
        clientIp: "203.0.113.7",
        websockets: ENABLED,
      }),
    );
    expect(res.status).toBe(101);
    expect(res.webSocket).toBeInstanceOf(WebSocket);
    res.webSocket!.accept();
    res.webSocket!.close(1000, "done");

    const sent = upstream.calls[0]!;
    expect(sent.url).toBe("https://b.example/base/chat?room=1");
    expect(sent.method).toBe("GET");
    expect(sent.headers.get("upgrade")).toBe("websocket");
    expect(sent.headers.get("connection")).toBeNull();
    expect(sent.headers.get("sec-websocket-key")).toBe("dGhlIHNhbXBsZSBub25jZQ==");
    expect(sent.headers.get("sec-websocket-protocol")).toBe("chat");
    expect(sent.headers.get("cookie")).toBe("app=1"); // the router's session cookie never goes upstream
    expect(sent.headers.get("x-forwarded-host")).toBe("router.example");
    expect(sent.headers.get("x-forwarded-proto")).toBe("https");
    expect(sent.headers.get("x-forwarded-for")).toBe("203.0.113.7");
  });

  it.each([
    ["disabled", { enabled: false }, {}],
    ["not configured", undefined, {}],
    ["foreign origin", ENABLED, { origin: "https://evil.example" }],
  ] as const)("refuses an upgrade (%s) with 403 without calling upstream", async (_, websockets, headers) => {
    const upstream = acceptingUpstream();
    const res = await forward(
      upgrade(headers),
      options({ fetch: upstream.fetch, ...(websockets ? { websockets } : {}) }),
    );
    expect(res.status).toBe(403);
    expect(upstream.calls).toHaveLength(0);
  });

  it("a backend that does not upgrade: its answer is passed on as a normal response", async () => {
    const upstream = fakeFetch(
      () => new Response("no sockets here", { status: 426, headers: { upgrade: "websocket" } }),
    );
    const res = await forward(upgrade(), options({ fetch: upstream.fetch, websockets: ENABLED }));
    expect(res.status).toBe(426);
    expect(res.headers.get("upgrade")).toBeNull(); // hop-by-hop, stripped as always
    expect(await res.text()).toBe("no sockets here");
  });

  it("buildUpstreamRequest keeps Upgrade only when told, and only on a GET", () => {
    expect(buildUpstreamRequest(upgrade(), options()).headers.get("upgrade")).toBeNull();
    expect(
      buildUpstreamRequest(upgrade(), { ...options(), upgradeWebSocket: true }).headers.get("upgrade"),
    ).toBe("websocket");
    expect(
      buildUpstreamRequest(upgrade({}, "POST"), { ...options(), upgradeWebSocket: true }).headers.get(
        "upgrade",
      ),
    ).toBeNull();
  });
});
