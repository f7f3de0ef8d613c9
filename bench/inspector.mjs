// The workerd inspector (Chrome DevTools protocol) of one Worker's isolate, for Miniflare
// started with `inspectorPort`.
import WebSocket from "ws";

/**
 * One DevTools protocol session with a worker's isolate.
 * @param {number} port @param {string} worker
 */
export async function inspect(port, worker) {
  const list = /** @type {any[]} */ (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json());
  const target = list.find((t) => t.id === `core:user:${worker}`);
  if (!target) throw new Error(`no inspector target for worker ${worker}`);
  const ws = new WebSocket(target.webSocketDebuggerUrl, { maxPayload: 1024 * 1024 * 1024 });
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  let id = 0;
  /** @type {(method: string, params?: object) => Promise<any>} */
  const call = (method, params = {}) =>
    new Promise((resolve, reject) => {
      const mine = ++id;
      const onMessage = (/** @type {Buffer} */ data) => {
        const message = JSON.parse(data.toString());
        if (message.id === mine) {
          ws.off("message", onMessage);
          if (message.error) reject(new Error(`${method}: ${message.error.message}`));
          else resolve(message.result);
        }
      };
      ws.on("message", onMessage);
      ws.send(JSON.stringify({ id: mine, method, params }));
    });
  return { call, close: () => ws.close() };
}

/**
 * The isolate's JavaScript heap: as it is, then after a full GC (workerd runs the GC when
 * the isolate next takes a request, so `poke` sends requests until it ran).
 * @param {number} port @param {string} worker @param {() => Promise<unknown>} poke
 */
export async function heapOf(port, worker, poke) {
  const session = await inspect(port, worker);
  try {
    const before = await session.call("Runtime.getHeapUsage");
    await session.call("HeapProfiler.enable");
    let collected = false;
    const gc = session.call("HeapProfiler.collectGarbage").then(() => {
      collected = true;
    });
    // The isolate handles inspector messages while it runs: a poke may come before the GC
    // request is seen, so poke until the GC is done.
    for (let i = 0; !collected; i++) {
      if (i === 50) throw new Error(`no garbage collection in ${worker} after 50 requests`);
      await poke();
      await Promise.race([gc, new Promise((r) => setTimeout(r, 200))]);
    }
    const after = await session.call("Runtime.getHeapUsage");
    await session.call("HeapProfiler.disable");
    return {
      usedBytes: before.usedSize,
      liveBytes: after.usedSize,
      totalBytes: after.totalSize,
      embedderBytes: after.embedderHeapUsedSize,
    };
  } finally {
    session.close();
  }
}
