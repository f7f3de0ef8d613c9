// A loopback TCP relay that delivers what one side sends `lagMs` late, in order: put in
// the replication link of a redis replica (replica → relay → primary), it makes the
// replica apply the primary's stream that much later, as a replica far from its primary
// does. The other direction (the replica's REPLCONF ACKs) passes at once.
import { connect, createServer } from "node:net";

/**
 * @param {{ targetHost: string, targetPort: number, lagMs: number, host?: string }} options
 * @returns {Promise<{ port: number, setLag(ms: number): void, close(): Promise<void> }>}
 */
export async function startLagLink({ targetHost, targetPort, lagMs: initialLagMs, host = "127.0.0.1" }) {
  let lagMs = initialLagMs;
  /** @type {Set<import("node:net").Socket>} */
  const sockets = new Set();
  const server = createServer((inbound) => {
    const outbound = connect({ host: targetHost, port: targetPort });
    sockets.add(inbound);
    sockets.add(outbound);
    inbound.pipe(outbound);
    // One queue per connection, drained by one timer: the order of the stream is kept
    // whatever the timer resolution.
    /** @type {{ at: number, chunk: Buffer }[]} */
    const queue = [];
    /** @type {NodeJS.Timeout | undefined} */
    let timer;
    const drain = () => {
      timer = undefined;
      const now = Date.now();
      while (queue.length > 0 && queue[0].at <= now) {
        if (!inbound.destroyed) inbound.write(queue.shift().chunk);
        else queue.length = 0;
      }
      if (queue.length > 0) timer = setTimeout(drain, queue[0].at - now);
    };
    outbound.on("data", (chunk) => {
      queue.push({ at: Date.now() + lagMs, chunk });
      timer ??= setTimeout(drain, lagMs);
    });
    const close = () => {
      if (timer) clearTimeout(timer);
      inbound.destroy();
      outbound.destroy();
      sockets.delete(inbound);
      sockets.delete(outbound);
    };
    inbound.on("close", close);
    outbound.on("close", close);
    inbound.on("error", close);
    outbound.on("error", close);
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, host, () => resolve(undefined));
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    port,
    /** From now on; what is queued keeps its time (the stream's order is kept either way). */
    setLag(ms) {
      lagMs = ms;
    },
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve(undefined));
      }),
  };
}
