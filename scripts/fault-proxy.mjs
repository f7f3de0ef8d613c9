// A loopback HTTP proxy that injects faults between the router and the Upstash REST
// endpoint: delay, HTTP 500, garbage bodies, wrong JSON shapes, hanging, or refusing
// connections. For resilience tests and the benchmark.
import { createServer, request as httpRequest } from "node:http";

/**
 * @typedef {{ kind: "pass" } | { kind: "delay", ms: number } | { kind: "status", status: number, body?: string }
 *   | { kind: "garbage" } | { kind: "wrong-shape" } | { kind: "hang" } | { kind: "refuse" }} FaultMode
 */

/**
 * @param {{ target: string, host?: string, port?: number }} options target: the REST endpoint URL
 * @returns {Promise<{ url: string, port: number, requests: number, setMode(mode: FaultMode): Promise<void>, close(): Promise<void> }>}
 */
export async function startFaultProxy({ target, host = "127.0.0.1", port = 0 }) {
  const upstream = new URL(target);
  /** @type {FaultMode} */
  let mode = { kind: "pass" };
  const sockets = new Set();
  const state = { requests: 0 };

  const server = createServer((req, res) => {
    state.requests++;
    const current = mode;
    if (current.kind === "hang") return; // never answers; the client's timeout must end it
    if (current.kind === "status") {
      res.writeHead(current.status, { "content-type": "application/json" });
      res.end(current.body ?? JSON.stringify({ error: "ERR injected failure" }));
      return;
    }
    if (current.kind === "garbage") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end("<html>not json");
      return;
    }
    const forward = () => {
      const out = httpRequest(
        {
          host: upstream.hostname,
          port: upstream.port,
          path: req.url,
          method: req.method,
          headers: req.headers,
        },
        (up) => {
          if (current.kind === "wrong-shape") {
            up.resume();
            res.writeHead(200, { "content-type": "application/json" });
            res.end(JSON.stringify({ unexpected: [1, 2, 3] }));
            return;
          }
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        },
      );
      out.on("error", () => {
        res.writeHead(502);
        res.end();
      });
      req.pipe(out);
    };
    if (current.kind === "delay") setTimeout(forward, current.ms);
    else forward();
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });

  const listen = (/** @type {number} */ p) =>
    new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(p, host, () => resolve(undefined));
    });
  const unlisten = () =>
    new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve(undefined));
    });

  await listen(port);
  const bound = /** @type {import("node:net").AddressInfo} */ (server.address()).port;
  let listening = true;

  return {
    url: `http://${host}:${bound}`,
    port: bound,
    get requests() {
      return state.requests;
    },
    async setMode(next) {
      mode = next;
      // "refuse" closes the listener, so connections are refused; any other mode reopens it.
      if (next.kind === "refuse" && listening) {
        listening = false;
        await unlisten();
      } else if (next.kind !== "refuse" && !listening) {
        await listen(bound);
        listening = true;
      }
    },
    async close() {
      if (listening) await unlisten();
      listening = false;
    },
  };
}
