import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import type { AddressInfo, Socket } from "node:net";

/**
 * Programmable HTTP servers on 127.0.0.1 for integration tests of the proxy: each records
 * the head of every request it receives (raw header lines too, to tell what a proxy
 * really sent) and hands the request to the test's handler. `close()` also ends open
 * connections (keep-alive sockets of workerd, requests a test never answers).
 */
export interface RecordedHead {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  /** Header names as sent, lower-cased, in order (repeated names repeated). */
  headerNames: string[];
}

export type LoopbackHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export interface LoopbackServer {
  /** `http://127.0.0.1:<port>`, no trailing slash. */
  url: string;
  port: number;
  /** Heads of every request received, in order of arrival. */
  heads: RecordedHead[];
  /** The most recent head whose path (without query) is `path`. */
  lastHead(path: string): RecordedHead | undefined;
  close(): Promise<void>;
}

export async function startLoopbackServer(handler: LoopbackHandler): Promise<LoopbackServer> {
  const heads: RecordedHead[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    heads.push({
      method: req.method ?? "",
      url: req.url ?? "",
      headers: req.headers,
      headerNames: req.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase()),
    });
    Promise.resolve()
      .then(() => handler(req, res))
      .catch(() => {
        if (!res.headersSent) res.writeHead(500);
        res.destroy();
      });
  });
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    heads,
    lastHead: (path) => heads.findLast((h) => h.url.split("?")[0] === path),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A loopback port nothing listens on (bound once, then released). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Reads a request body to the end. */
export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A one-shot signal: `wait()` settles once `fire()` was called (or rejects after `guardMs`). */
export interface Latch {
  fire(): void;
  readonly fired: boolean;
  /** Resolves once fired; after `guardMs` without it, resolves to false (a failure guard, never a measurement). */
  wait(guardMs: number): Promise<boolean>;
}

export function latch(): Latch {
  let fired = false;
  let release!: () => void;
  const done = new Promise<void>((resolve) => (release = resolve));
  return {
    fire() {
      fired = true;
      release();
    },
    get fired() {
      return fired;
    },
    async wait(guardMs) {
      let timer: NodeJS.Timeout | undefined;
      const guard = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), guardMs)));
      const result = await Promise.race([done.then(() => true), guard]);
      clearTimeout(timer);
      return result;
    },
  };
}
