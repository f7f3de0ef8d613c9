#!/usr/bin/env node
// `npm run bench:profile`: where the router's time and allocations go under load, taken
// inside workerd through its inspector (Chrome DevTools protocol): a CPU profile
// (Profiler.start/stop) and heap allocation sampling (HeapProfiler.startSampling) of the
// router isolate while autocannon drives one scenario, printed as the top self-time
// functions and the top allocation sites.
//
//   node bench/profile.mjs [--scenario first-tier|logged-in|anonymous|all] [-d seconds] [-c connections]
//                          [--top N] [--out dir]
//
// The router bundle is built unminified (esbuild, as test/support builds it) so that the
// profile names functions; it is the same code `wrangler deploy` ships minified. --out writes
// the raw profiles (.cpuprofile, .heapprofile: open them in Chrome DevTools); commit none.
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { Redis as IORedis } from "ioredis";
import { Miniflare } from "miniflare";
import { freePort } from "../scripts/lib/free-port.mjs";
import { startLocalRedis } from "../scripts/local-redis.mjs";
import { buildBundles, buildRouterBundle, directSocketWorker } from "./bundles.mjs";
import { inspect } from "./inspector.mjs";
import { runSlice } from "./load.mjs";
import { referenceSession } from "./reference-session.mjs";
import { loggedInBindings, preloadSessions, routerBindings, seedSessions } from "./seed.mjs";
import { startInProcessBackend } from "./in-process-backend.mjs";
import { benchArgs, usageError } from "./cli.mjs";
import { cleanupStack } from "./children.mjs";

const USAGE =
  "Usage: node bench/profile.mjs [--scenario first-tier|logged-in|anonymous|all] [-d seconds] [-c connections] [--top N] [--out dir]";
const args = benchArgs(USAGE, {
  scenario: { type: "string", default: "all" },
  duration: { type: "string", short: "d", default: "8" },
  connections: { type: "string", short: "c", default: "20" },
  top: { type: "string", default: "25" },
  out: { type: "string" },
});
const SCENARIOS = ["first-tier", "logged-in", "anonymous"];
const chosen = args.scenario === "all" ? SCENARIOS : [args.scenario];
const DURATION = Number(args.duration);
const CONNECTIONS = Number(args.connections);
const TOP = Number(args.top);
if (!chosen.every((s) => SCENARIOS.includes(s)) || !(DURATION > 0 && CONNECTIONS > 0 && TOP > 0)) {
  usageError(USAGE);
}
const POOL = 100;
const log = (/** @type {string} */ m) => console.error(`[profile] ${m}`);

const { cleanups, cleanupAll } = cleanupStack();

/** Where a call frame is: `file:line` of the bundle (1-based), or the V8 category. */
const where = (/** @type {any} */ f) =>
  f.url ? `${f.url.split("/").pop()}:${f.lineNumber + 1}` : f.functionName ? "(native)" : "";
const label = (/** @type {any} */ f) => `${f.functionName || "(anonymous)"} ${where(f)}`.trim();

/** Self time per function of a CPU profile, largest first. */
function selfTimes(/** @type {any} */ profile) {
  const byNode = new Map(profile.nodes.map((/** @type {any} */ n) => [n.id, n]));
  const dt = new Map();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i];
    dt.set(id, (dt.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const totals = new Map();
  let all = 0;
  for (const [id, us] of dt) {
    const key = label(/** @type {any} */ (byNode.get(id)).callFrame);
    totals.set(key, (totals.get(key) ?? 0) + us);
    all += us;
  }
  return { all, rows: [...totals].sort((a, b) => b[1] - a[1]) };
}

/** Sampled allocation per allocation site, largest first. */
function allocationSites(/** @type {any} */ profile) {
  const totals = new Map();
  let all = 0;
  const walk = (/** @type {any} */ node, /** @type {string[]} */ stack) => {
    const key = label(node.callFrame);
    if (node.selfSize > 0) {
      // the nearest frame of our own code says where the allocation comes from
      const own = [key, ...stack].find((k) => !k.endsWith("(native)") && !/^\(/.test(k)) ?? key;
      const site = own === key ? key : `${key} ← ${own}`;
      totals.set(site, (totals.get(site) ?? 0) + node.selfSize);
      all += node.selfSize;
    }
    for (const child of node.children ?? []) walk(child, [key, ...stack]);
  };
  walk(profile.head, []);
  return { all, rows: [...totals].sort((a, b) => b[1] - a[1]) };
}

async function main() {
  const [bundles, routerBundle, reference, redis] = await Promise.all([
    buildBundles(),
    buildRouterBundle(),
    referenceSession(),
    startLocalRedis(),
  ]);
  cleanups.push(
    () => bundles.cleanup(),
    () => routerBundle.cleanup(),
    () => redis.stop(),
  );
  const backend = await startInProcessBackend();
  cleanups.push(backend.close);
  const backendUrl = backend.url;

  // Sessions sealed as the router seals them, as bench/run.mjs seeds them.
  const lib = await import(bundles.nodeLib);
  const secret = randomBytes(54).toString("base64url");
  const keyring = await lib.KeyRing.create([secret]);
  const direct = new IORedis({ port: redis.redisPort, host: "127.0.0.1", maxRetriesPerRequest: 1 });
  cleanups.push(() => direct.disconnect());
  const sessions = await seedSessions({ lib, keyring, redis: direct, record: reference.record, count: POOL });
  const store = { backendUrl, secret, storeUrl: redis.restUrl, token: redis.token };

  const inspectorPort = await freePort();
  const mf = new Miniflare({
    inspectorPort,
    cf: false,
    handleRuntimeStdio: () => {},
    workers: [
      directSocketWorker("router", routerBundle.router, routerBindings(store)),
      // A logged-in user on XSUAA routes, the user's token forwarded (bench/seed.mjs).
      directSocketWorker("router-logged-in", routerBundle.router, loggedInBindings(store)),
    ],
  });
  cleanups.push(() => mf.dispose());
  await mf.ready;
  const urlOf = async (/** @type {string} */ name) =>
    (await mf.unsafeGetDirectURL(name)).href.replace(/\/$/, "");
  const workerOf = (/** @type {string} */ scenario) =>
    scenario === "logged-in" ? "router-logged-in" : "router";
  const urls = { router: await urlOf("router"), "router-logged-in": await urlOf("router-logged-in") };

  // Every session into the first tier; then a warm-up so the JIT has settled.
  for (const scenario of chosen)
    if (scenario !== "anonymous") await preloadSessions(urls[workerOf(scenario)], sessions);
  const load = (/** @type {string} */ scenario, /** @type {number} */ duration) =>
    runSlice({
      url: urls[workerOf(scenario)],
      connections: CONNECTIONS,
      duration,
      ...(scenario === "anonymous" ? {} : { sessions, fetchToken: true }),
    });

  const outDir = args.out ? resolve(args.out) : null;
  if (outDir) mkdirSync(outDir, { recursive: true });
  for (const scenario of chosen) {
    log(`${scenario}: warm-up 2 s`);
    await load(scenario, 2);
    const session = await inspect(inspectorPort, workerOf(scenario));
    try {
      await session.call("Profiler.enable");
      await session.call("Profiler.setSamplingInterval", { interval: 100 }); // µs
      await session.call("HeapProfiler.enable");
      // every allocation counts, also what the GC already took: that is the churn
      await session.call("HeapProfiler.startSampling", {
        samplingInterval: 4096, // bytes
        includeObjectsCollectedByMajorGC: true,
        includeObjectsCollectedByMinorGC: true,
      });
      await session.call("Profiler.start");
      log(`${scenario}: profiling ${DURATION} s at -c ${CONNECTIONS}`);
      const run = await load(scenario, DURATION);
      const { profile } = await session.call("Profiler.stop");
      const { profile: heap } = await session.call("HeapProfiler.stopSampling");
      const requests = run.raw.totalCompletedRequests;
      if (outDir) {
        writeFileSync(join(outDir, `${scenario}.cpuprofile`), JSON.stringify(profile));
        writeFileSync(join(outDir, `${scenario}.heapprofile`), JSON.stringify({ head: heap.head }));
      }
      const cpu = selfTimes(profile);
      const alloc = allocationSites(heap);
      const idle = cpu.rows.find(([k]) => k.startsWith("(idle)"))?.[1] ?? 0;
      const busy = cpu.all - idle;
      console.log(
        `\n## ${scenario}: ${requests} requests (${run.raw.non2xx} non-2xx, ${run.wrongSession} not served), ` +
          `JavaScript busy ${(busy / 1000).toFixed(0)} ms = ${(busy / Math.max(1, requests)).toFixed(1)} µs/request\n`,
      );
      console.log("| self time | µs/request | share of busy | function |\n|---:|---:|---:|---|");
      for (const [key, us] of cpu.rows.filter(([k]) => !k.startsWith("(idle)")).slice(0, TOP)) {
        console.log(
          `| ${(us / 1000).toFixed(1)} ms | ${(us / Math.max(1, requests)).toFixed(2)} | ${((us / busy) * 100).toFixed(1)} % | ${key} |`,
        );
      }
      console.log(
        `\nAllocation sampling (one sample per ~4 KiB allocated, collected objects included): ${(alloc.all / 1024 / Math.max(1, requests)).toFixed(2)} KiB/request\n`,
      );
      console.log("| bytes/request | share | allocation site (← nearest bundle function) |\n|---:|---:|---|");
      for (const [key, bytes] of alloc.rows.slice(0, TOP)) {
        console.log(
          `| ${Math.round(bytes / Math.max(1, requests))} | ${((bytes / alloc.all) * 100).toFixed(1)} % | ${key} |`,
        );
      }
    } finally {
      session.close();
    }
  }
  if (outDir) log(`raw profiles in ${outDir}`);
}

main()
  .catch((error) => {
    console.error(error instanceof Error ? error.stack : error);
    process.exitCode = 1;
  })
  .finally(cleanupAll);
