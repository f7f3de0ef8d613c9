import { createServer, request as httpRequest, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo, Socket } from "node:net";

/**
 * A loopback proxy in front of the REST endpoint that passes every request on at once
 * (so Redis applies it) but holds the answer back for `delayMs`: a store that is slow to
 * answer, not slow to act. A client that gives up before then has had its command applied
 * anyway (the fault proxy's "delay" mode holds the request back instead, so an aborted
 * request never reaches Redis).
 */
export interface LateAnswerProxy {
  url: string;
  /** 0: answer as soon as the endpoint does. */
  setDelay(ms: number): void;
  /** Requests the endpoint has answered (applied), whether or not the client still waited. */
  readonly applied: number;
  close(): Promise<void>;
}

export async function startLateAnswerProxy(target: string): Promise<LateAnswerProxy> {
  const upstream = new URL(target);
  let delayMs = 0;
  let applied = 0;
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const headers: IncomingHttpHeaders = { ...req.headers, "content-length": String(body.length) };
      const out = httpRequest(
        { host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers },
        (up) => {
          const parts: Buffer[] = [];
          up.on("data", (c: Buffer) => parts.push(c));
          up.on("end", () => {
            applied++;
            const answer = () => {
              if (res.destroyed) return;
              res.writeHead(up.statusCode ?? 502, {
                "content-type": up.headers["content-type"] ?? "application/json",
              });
              res.end(Buffer.concat(parts));
            };
            if (delayMs > 0) setTimeout(answer, delayMs);
            else answer();
          });
        },
      );
      out.on("error", () => {
        if (!res.destroyed) res.writeHead(502).end();
      });
      out.end(body);
    });
  });
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    setDelay(ms) {
      delayMs = ms;
    },
    get applied() {
      return applied;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
