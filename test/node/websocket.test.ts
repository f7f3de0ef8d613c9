import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEdgeRouter, type EdgeRouter } from "../support/edge-router.js";
import { startWsEchoServer, type WsEchoServer } from "../support/ws-echo-server.js";
import { bundleWorker } from "../support/worker-bundle.js";

/**
 * WebSockets through the router (workerd) to a loopback echo server: the upgrade is
 * forwarded only with xs-app.json `websockets.enabled` and the router's own Origin, with
 * the router's cookie removed; messages flow both ways until either side closes.
 * The client is Miniflare's fetch with `Upgrade: websocket` (the answer carries `webSocket`).
 */
let echo: WsEchoServer;
let enabled: EdgeRouter;
let disabled: EdgeRouter;

/** The client side of Miniflare's WebSocket (a subset of the standard interface). */
interface ClientSocket {
  accept(): void;
  send(data: string | ArrayBuffer | Uint8Array): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: "message", listener: (event: { data: string | ArrayBuffer }) => void): void;
  addEventListener(type: "close", listener: (event: { code: number; reason: string }) => void): void;
}

const ORIGIN = "https://router.test";

function xsApp(websockets: boolean) {
  return JSON.stringify({
    authenticationMethod: "none",
    websockets: { enabled: websockets },
    routes: [
      { source: "^/ws/(.*)$", target: "/$1", destination: "echo" },
      { source: "^/app/(.*)$", target: "/$1", destination: "echo" },
    ],
  });
}

beforeAll(async () => {
  const [server, script] = await Promise.all([startWsEchoServer(), bundleWorker()]);
  echo = server;
  const destinations = JSON.stringify([{ name: "echo", url: echo.url.replace(/^http:/, "ws:") }]);
  [enabled, disabled] = await Promise.all([
    startEdgeRouter({ script, bindings: { destinations, XS_APP: xsApp(true) } }),
    startEdgeRouter({ script, bindings: { destinations, XS_APP: xsApp(false) } }),
  ]);
});

afterAll(async () => {
  await Promise.all([enabled?.dispose(), disabled?.dispose()]);
  await echo?.close();
});

async function upgrade(
  router: EdgeRouter,
  path: string,
  headers: Record<string, string> = {},
): Promise<Response> {
  return router.fetch(path, { headers: { upgrade: "websocket", origin: ORIGIN, ...headers } });
}

/** Accepts the client side and queues what arrives, so a test can await messages in order. */
function open(res: Response) {
  const socket = (res as unknown as { webSocket: ClientSocket | null }).webSocket;
  expect(socket).toBeTruthy();
  const ws = socket!;
  const inbox: (string | Uint8Array)[] = [];
  const waiters: (() => void)[] = [];
  let closed: { code: number; reason: string } | undefined;
  const wake = () => {
    for (const w of waiters.splice(0)) w();
  };
  ws.addEventListener("message", (event) => {
    inbox.push(typeof event.data === "string" ? event.data : new Uint8Array(event.data));
    wake();
  });
  ws.addEventListener("close", (event) => {
    closed = { code: event.code, reason: event.reason };
    wake();
  });
  ws.accept();
  const until = async (ready: () => boolean) => {
    while (!ready()) await new Promise<void>((resolve) => waiters.push(resolve));
  };
  return {
    ws,
    async next(): Promise<string | Uint8Array> {
      await until(() => inbox.length > 0 || closed !== undefined);
      if (inbox.length === 0) throw new Error("closed before a message arrived");
      return inbox.shift()!;
    },
    async closed(): Promise<{ code: number; reason: string }> {
      await until(() => closed !== undefined);
      return closed!;
    },
  };
}

describe("WebSockets enabled", () => {
  it("echoes text and binary messages both ways, in order, large ones included", async () => {
    const before = echo.received.length;
    const res = await upgrade(enabled, "/ws/chat?room=1");
    expect(res.status).toBe(101);
    const client = open(res);
    const large = "x".repeat(200_000);
    const binary = new Uint8Array(70_000).map((_, i) => i % 256);
    const texts = ["hello", "grüße ✓", ...Array.from({ length: 20 }, (_, i) => `message ${i}`)];
    for (const text of texts) client.ws.send(text);
    client.ws.send(binary);
    client.ws.send(large);
    for (const text of texts) expect(await client.next()).toBe(text);
    const echoed = await client.next();
    expect(echoed).toBeInstanceOf(Uint8Array);
    expect(Buffer.from(echoed as Uint8Array).equals(Buffer.from(binary))).toBe(true);
    expect(await client.next()).toBe(large);
    // What the server received is exactly what was sent.
    const got = echo.received.slice(before);
    expect(got.slice(0, texts.length)).toEqual(texts);
    expect(
      Buffer.isBuffer(got[texts.length]) && (got[texts.length] as Buffer).equals(Buffer.from(binary)),
    ).toBe(true);
    expect(got[texts.length + 1]).toBe(large);

    client.ws.close(1000, "done");
    expect((await client.closed()).code).toBe(1000);
    expect(echo.upgrades.at(-1)!.url).toBe("/chat?room=1");
  });

  it("forwards the upgrade without the router's cookie, other cookies and X-Forwarded-* kept", async () => {
    // A router session first (a token fetch creates one that lives in its cookie).
    const plain = await enabled.fetch("/app/whatever", { headers: { "x-csrf-token": "fetch" } });
    await plain.arrayBuffer();
    const session = plain.headers
      .getSetCookie()
      .find((c) => c.startsWith("JSESSIONID="))
      ?.split(";")[0];
    expect(session).toMatch(/^JSESSIONID=[A-Za-z0-9_-]{43}(\.[0-9a-z]+\.[A-Za-z0-9_-]{22})?$/);

    const res = await upgrade(enabled, "/ws/with-cookies", {
      cookie: `theme=dark; ${session}; lang=de`,
      "cf-connecting-ip": "203.0.113.5",
    });
    expect(res.status).toBe(101);
    expect(res.headers.getSetCookie()).toEqual([]);
    const client = open(res);
    client.ws.send("ping?");
    expect(await client.next()).toBe("ping?");
    const head = echo.upgrades.at(-1)!;
    expect(head.url).toBe("/with-cookies");
    expect(head.headers.cookie).toBe("theme=dark; lang=de");
    expect(head.headers["x-forwarded-proto"]).toBe("https");
    expect(head.headers["x-forwarded-path"]).toBe("/ws/with-cookies");
    expect(head.headers["x-forwarded-for"]).toBe("203.0.113.5");
    expect(head.headers.origin).toBe(ORIGIN);
    client.ws.close(1000, "done");
    await client.closed();
  });

  it("sends no Cookie header upstream when the router's was the only one", async () => {
    const res = await upgrade(enabled, "/ws/only-router-cookie", { cookie: "JSESSIONID=made-up" });
    expect(res.status).toBe(101);
    const client = open(res);
    client.ws.send("x");
    expect(await client.next()).toBe("x");
    expect(echo.upgrades.at(-1)!.headers.cookie).toBeUndefined();
    client.ws.close(1000, "done");
    await client.closed();
  });

  it("refuses a foreign or missing Origin with 403, without contacting the backend", async () => {
    const before = echo.upgrades.length + echo.plainRequests;
    for (const headers of [{ origin: "https://evil.example" }, { origin: "null" }]) {
      const res = await upgrade(enabled, "/ws/chat", headers);
      expect(res.status).toBe(403);
      expect((res as unknown as { webSocket: unknown }).webSocket ?? null).toBeNull();
      await res.arrayBuffer();
    }
    const missing = await enabled.fetch("/ws/chat", { headers: { upgrade: "websocket" } });
    expect(missing.status).toBe(403);
    await missing.arrayBuffer();
    expect(echo.upgrades.length + echo.plainRequests).toBe(before);
  });

  it("still proxies plain requests on the same route (without Upgrade)", async () => {
    const before = echo.plainRequests;
    const res = await enabled.fetch("/ws/chat");
    expect(res.status).toBe(426); // the echo server's answer to a plain request
    expect(await res.text()).toBe("upgrade required");
    expect(echo.plainRequests).toBe(before + 1);
  });
});

describe("WebSockets disabled (the default)", () => {
  it("refuses the upgrade with 403 and never opens a connection upstream", async () => {
    const before = echo.upgrades.length + echo.plainRequests;
    const res = await upgrade(disabled, "/ws/chat");
    expect(res.status).toBe(403);
    expect((res as unknown as { webSocket: unknown }).webSocket ?? null).toBeNull();
    expect(await res.text()).toContain("403");
    expect(echo.upgrades.length + echo.plainRequests).toBe(before);
  });
});
