#!/usr/bin/env node
// `npm run bench:memory`: the JavaScript heap of a router isolate under sustained load, next
// to a bare pass-through Worker, read from workerd itself through its inspector (Chrome
// DevTools protocol: HeapProfiler.collectGarbage, then Runtime.getHeapUsage).
//
//   node bench/memory.mjs [--quick] [--requests N] [--sessions N] [--json path]
//
// 10,000 realistic sessions (bench/reference-session.mjs: ID, access and refresh tokens,
// about 6.3 KB of JSON each) are sealed into Redis; then 200,000 requests, cycling through
// their cookies (shuffled once) with `x-csrf-token: fetch` (the session is loaded), go to a router
// isolate with the first tier's defaults (10,000 entries, 64 MiB accounted) and the default
// revalidation window. The byte cap holds about 4,900 such sessions, so the cycle evicts on
// every request: the most allocation churn the first tier can see. The same number of
// requests go to the pass-through Worker. Heap
// figures are after a full GC. Workers isolates are limited to 128 MB.
//
// Then the process: each Worker alone in a workerd of its own, given the same requests, its
// resident set (VmRSS) sampled every tenth of them: what an operator sees of workerd's
// memory, where the allocator's and V8's reservations count too.
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { Redis as IORedis } from "ioredis";
import { Miniflare } from "miniflare";
import { startLocalRedis } from "../scripts/local-redis.mjs";
import { freePort } from "../scripts/lib/free-port.mjs";
import { buildBundles, directSocketWorker, ROOT } from "./bundles.mjs";
import { inspect } from "./inspector.mjs";
import { runSlice } from "./load.mjs";
import { rssBytes, workerdPid } from "./process-cpu.mjs";
import { referenceSession } from "./reference-session.mjs";
import { seedSessions } from "./seed.mjs";
import { startInProcessBackend } from "./in-process-backend.mjs";
import { benchArgs, usageError } from "./cli.mjs";
import { cleanupStack } from "./children.mjs";

const USAGE = "Usage: node bench/memory.mjs [--quick] [--requests N] [--sessions N] [--json path]";
const args = benchArgs(USAGE, {
  quick: { type: "boolean", default: false },
  requests: { type: "string" },
  sessions: { type: "string" },
  json: { type: "string" },
});
const QUICK = args.quick;
const REQUESTS = Number(args.requests ?? (QUICK ? 20_000 : 200_000));
const SESSIONS = Number(args.sessions ?? (QUICK ? 2_000 : 10_000));
if (!Number.isInteger(REQUESTS) || REQUESTS <= 0)
  usageError(USAGE, `--requests: a positive whole number, not ${args.requests}`);
if (!Number.isInteger(SESSIONS) || SESSIONS <= 0)
  usageError(USAGE, `--sessions: a positive whole number, not ${args.sessions}`);
const JSON_PATH = resolve(args.json ?? join(ROOT, "bench-results/memory.json"));
const CONNECTIONS = 16;
const STATUS_TOKEN = "memory-bench-status-token-0123456789";
const MB = 1024 * 1024;
const log = (/** @type {string} */ m) => console.error(`[memory] ${m}`);

const { cleanups, cleanupAll } = cleanupStack();

async function main() {
  const started = Date.now();
  const [bundles, reference, redis] = await Promise.all([
    buildBundles(),
    referenceSession(),
    startLocalRedis(),
  ]);
  cleanups.push(
    () => bundles.cleanup(),
    () => redis.stop(),
  );
  const backend = await startInProcessBackend();
  cleanups.push(backend.close);
  const backendUrl = backend.url;

  // Sessions sealed as the router seals them, each with its own id and CSRF token.
  log(`sealing ${SESSIONS} reference sessions into Redis`);
  const lib = await import(bundles.nodeLib);
  const secret = randomBytes(54).toString("base64url");
  const keyring = await lib.KeyRing.create([secret]);
  const direct = new IORedis({ port: redis.redisPort, host: "127.0.0.1", maxRetriesPerRequest: 1 });
  cleanups.push(() => direct.disconnect());
  const sessions = await seedSessions({
    lib,
    keyring,
    redis: direct,
    record: reference.record,
    count: SESSIONS,
  });
  // Shuffled once; the load then cycles through them in that order.
  for (let i = sessions.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [sessions[i], sessions[j]] = [sessions[j], sessions[i]];
  }

  const routerBindingsFor = (/** @type {string} */ url) => ({
    destinations: JSON.stringify([{ name: "backend", url }]),
    EXT_SESSION_MGT: JSON.stringify({
      instanceName: "sessions",
      storageType: "redis",
      sessionSecret: secret,
    }),
    VCAP_SERVICES: JSON.stringify({
      redis: [{ name: "sessions", label: "redis", credentials: { url: redis.restUrl, token: redis.token } }],
    }),
    STATUS_TOKEN,
  });
  const inspectorPort = await freePort();
  const worker = directSocketWorker;
  let mf = new Miniflare({
    inspectorPort,
    handleRuntimeStdio: () => {},
    workers: [
      worker("router", bundles.router, routerBindingsFor(backendUrl)),
      worker("passthrough", join(ROOT, "bench/passthrough-worker.js"), { BACKEND_URL: backendUrl }),
    ],
  });
  cleanups.push(() => mf.dispose()); // whichever Miniflare runs by then (reassigned below)
  await mf.ready;
  const urls = {
    router: (await mf.unsafeGetDirectURL("router")).href.replace(/\/$/, ""),
    passthrough: (await mf.unsafeGetDirectURL("passthrough")).href.replace(/\/$/, ""),
  };

  /** Heap of a worker's isolate after a full GC (the GC runs when the isolate next takes a request). */
  async function heap(/** @type {"router" | "passthrough"} */ name) {
    const session = await inspect(inspectorPort, name);
    try {
      await session.call("HeapProfiler.enable");
      const gc = session.call("HeapProfiler.collectGarbage");
      const poke = async () => (await fetch(`${urls[name]}/`)).arrayBuffer();
      await poke();
      await gc;
      const usage = await session.call("Runtime.getHeapUsage");
      return {
        usedBytes: usage.usedSize,
        totalBytes: usage.totalSize,
        embedderBytes: usage.embedderHeapUsedSize,
      };
    } finally {
      session.close();
    }
  }
  const firstTier = async () => {
    const res = await fetch(`${urls.router}/_approuter/status`, {
      headers: { authorization: `Bearer ${STATUS_TOKEN}` },
    });
    const body = /** @type {any} */ (await res.json());
    return { memory: body.memory, sessions: body.sessions };
  };

  const idle = { router: await heap("router"), passthrough: await heap("passthrough") };
  log(
    `idle heap: router ${(idle.router.usedBytes / MB).toFixed(1)} MB, pass-through ${(idle.passthrough.usedBytes / MB).toFixed(1)} MB`,
  );

  log(`${REQUESTS} requests to the router over ${SESSIONS} sessions (${CONNECTIONS} connections)`);
  const routerRun = await runSlice({
    url: urls.router,
    connections: CONNECTIONS,
    duration: 0,
    amount: REQUESTS,
    sessions,
    fetchToken: true,
  });
  const afterRouter = await heap("router");
  const tier = await firstTier();
  log(`${REQUESTS} requests to the pass-through Worker`);
  const floorRun = await runSlice({
    url: urls.passthrough,
    connections: CONNECTIONS,
    duration: 0,
    amount: REQUESTS,
  });
  const afterFloor = await heap("passthrough");
  await mf.dispose(); // the process part needs one workerd at a time

  /** workerd's resident set while one Worker alone takes `REQUESTS` requests, sampled every tenth. */
  async function processRss(
    /** @type {string} */ script,
    /** @type {Record<string, string>} */ bindings,
    withSessions = false,
  ) {
    mf = new Miniflare({ handleRuntimeStdio: () => {}, workers: [worker("alone", script, bindings)] });
    await mf.ready;
    const pid = workerdPid();
    const url = (await mf.unsafeGetDirectURL("alone")).href.replace(/\/$/, "");
    const samples = [{ requests: 0, rssBytes: rssBytes(pid) }];
    const step = Math.ceil(REQUESTS / 10);
    for (let done = 0; done < REQUESTS; done += step) {
      const run = await runSlice({
        url,
        connections: CONNECTIONS,
        duration: 0,
        amount: Math.min(step, REQUESTS - done),
        ...(withSessions ? { sessions, fetchToken: true } : {}),
      });
      if (run.raw.non2xx > 0) throw new Error(`process RSS run: ${run.raw.non2xx} non-2xx`);
      samples.push({ requests: done + run.sent, rssBytes: rssBytes(pid) });
    }
    await mf.dispose();
    return {
      idleBytes: samples[0].rssBytes,
      afterBytes: samples[samples.length - 1].rssBytes,
      peakBytes: Math.max(...samples.map((x) => x.rssBytes)),
      samples,
    };
  }
  log("process RSS: the pass-through Worker alone in workerd");
  const floorRss = await processRss(join(ROOT, "bench/passthrough-worker.js"), { BACKEND_URL: backendUrl });
  log("process RSS: the router alone in workerd");
  const routerRss = await processRss(bundles.router, routerBindingsFor(backendUrl), true);

  const result = {
    quick: QUICK,
    requests: REQUESTS,
    sessions: SESSIONS,
    sessionJsonBytes: Buffer.byteLength(JSON.stringify(reference.record)),
    router: {
      idle: idle.router,
      after: afterRouter,
      completed: routerRun.raw.totalCompletedRequests,
      non2xx: routerRun.raw.non2xx,
      wrongSession: routerRun.wrongSession,
      newCookies: routerRun.newCookies,
      firstTier: tier.memory,
      sessionCounters: tier.sessions,
    },
    passthrough: {
      idle: idle.passthrough,
      after: afterFloor,
      completed: floorRun.raw.totalCompletedRequests,
      non2xx: floorRun.raw.non2xx,
    },
    process: { passthrough: floorRss, router: routerRss },
    limitBytes: 128 * MB,
    seconds: Math.round((Date.now() - started) / 1000),
  };
  const mb = (/** @type {number} */ n) => (n / MB).toFixed(1);
  console.log(
    [
      `| isolate | heap idle (MB) | heap after ${REQUESTS.toLocaleString("en")} requests (MB) | share of 128 MB |`,
      "|---|---|---|---|",
      `| pass-through Worker | ${mb(idle.passthrough.usedBytes)} | ${mb(afterFloor.usedBytes)} | ${((afterFloor.usedBytes / result.limitBytes) * 100).toFixed(0)} % |`,
      `| router, ${SESSIONS.toLocaleString("en")} live sessions | ${mb(idle.router.usedBytes)} | ${mb(afterRouter.usedBytes)} | ${((afterRouter.usedBytes / result.limitBytes) * 100).toFixed(0)} % |`,
      "",
      `First tier after the run: ${tier.memory.entries} entries, ${mb(tier.memory.bytes)} MB accounted, ${tier.memory.evictions} evictions; ` +
        `router answers: ${result.router.completed} completed, ${result.router.non2xx} non-2xx, ${result.router.wrongSession} not served their session.`,
      "",
      `| workerd process, the Worker alone | RSS idle (MB) | RSS after ${REQUESTS.toLocaleString("en")} requests (MB) | peak (MB) | after ÷ pass-through's |`,
      "|---|---|---|---|---|",
      `| pass-through Worker | ${mb(floorRss.idleBytes)} | ${mb(floorRss.afterBytes)} | ${mb(floorRss.peakBytes)} | 1.00 |`,
      `| router, ${SESSIONS.toLocaleString("en")} live sessions | ${mb(routerRss.idleBytes)} | ${mb(routerRss.afterBytes)} | ${mb(routerRss.peakBytes)} | ${(routerRss.afterBytes / floorRss.afterBytes).toFixed(2)} |`,
      "",
      `RSS every tenth of the requests (MB): pass-through ${floorRss.samples.map((x) => mb(x.rssBytes)).join(" ")}; router ${routerRss.samples.map((x) => mb(x.rssBytes)).join(" ")}.`,
    ].join("\n"),
  );
  mkdirSync(dirname(JSON_PATH), { recursive: true });
  writeFileSync(JSON_PATH, JSON.stringify(result, null, 2));
  log(`JSON: ${JSON_PATH} (${result.seconds} s)`);
}

main()
  .catch((error) => {
    console.error(error instanceof Error ? error.stack : error);
    process.exitCode = 1;
  })
  .finally(cleanupAll);
