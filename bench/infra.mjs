// The benchmark's store side, in its own child process: redis-server + the local Upstash
// REST endpoint (scripts/local-redis.mjs) and the fault proxy in front of the endpoint
// (scripts/fault-proxy.mjs). The parent drives the proxy over IPC:
//   → { type: "mode", id, mode }   ← { type: "mode-set", id }
// Stops everything on SIGINT/SIGTERM, on { type: "stop" } and when the parent goes away.
import { startFaultProxy } from "../scripts/fault-proxy.mjs";
import { startLocalRedis } from "../scripts/local-redis.mjs";

/** @type {Awaited<ReturnType<typeof startLocalRedis>> | undefined} */
let redis;
/** @type {Awaited<ReturnType<typeof startFaultProxy>> | undefined} */
let proxy;
let stopping = false;

async function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  const hardExit = setTimeout(() => process.exit(code), 8000);
  hardExit.unref();
  await proxy?.close().catch(() => {});
  // redis-server first: closing the REST endpoint can wait for keep-alive connections.
  await redis?.stopRedis().catch(() => {});
  await Promise.race([redis?.stop().catch(() => {}), new Promise((r) => setTimeout(r, 1000))]);
  process.exit(code);
}

process.on("SIGINT", () => void stop(0));
process.on("SIGTERM", () => void stop(0));
process.on("disconnect", () => void stop(0));
process.on("message", async (/** @type {any} */ message) => {
  if (message?.type === "stop") return stop(0);
  if (message?.type === "count" && proxy) {
    process.send?.({ type: "count", id: message.id, requests: proxy.requests });
    return;
  }
  if (message?.type === "mode" && proxy) {
    await proxy.setMode(message.mode);
    process.send?.({ type: "mode-set", id: message.id });
  }
});

try {
  redis = await startLocalRedis();
  proxy = await startFaultProxy({ target: redis.restUrl });
  process.send?.({
    type: "ready",
    redisPort: redis.redisPort,
    restUrl: redis.restUrl,
    token: redis.token,
    proxyUrl: proxy.url,
  });
} catch (error) {
  process.send?.({ type: "error", message: error instanceof Error ? error.message : String(error) });
  await stop(1);
}
