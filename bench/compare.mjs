#!/usr/bin/env node
import { randomBytes } from "node:crypto";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { Redis as IORedis } from "ioredis";
import { Miniflare } from "miniflare";
import { freePort } from "../scripts/lib/free-port.mjs";
import { startLocalRedis } from "../scripts/local-redis.mjs";
import {
  buildNodeLib,
  buildRouterCpuFrom,
  buildRouterFrom,
  directSocketWorker,
  extractRevision,
  ROOT,
} from "./bundles.mjs";
import { cleanupStack, forkReady, killAllNow, stopChild } from "./children.mjs";
import { heapOf } from "./inspector.mjs";
import { runSlice } from "./load.mjs";
import { cpuMs, cpuNs, pinLoadGenerator, pinWorkerd, workerdPid } from "./process-cpu.mjs";
import { referenceSession } from "./reference-session.mjs";
import { preloadSessions, routerBindings, seedSessions } from "./seed.mjs";
import { benchArgs, usageError } from "./cli.mjs";

const USAGE =
  "Usage: node bench/compare.mjs [--base REF] [--rounds N] [-d seconds] [-c connections] [--isolate]";
const args = benchArgs(USAGE, {
  base: { type: "string", default: "HEAD" },
  rounds: { type: "string", default: "6" },
  duration: { type: "string", short: "d", default: "2" },
  connections: { type: "string", short: "c", default: "20" },
  isolate: { type: "boolean", default: false },
});
const ROUNDS = Number(args.rounds);
const SLICE = Number(args.duration);
const CONNECTIONS = Number(args.connections);
if (!(ROUNDS > 0 && SLICE > 0 && CONNECTIONS > 0)) {
  usageError(USAGE);
}
const POOL = 100;
const log = (/** @type {string} */ m) => console.error(`[compare] ${m}`);
const sleep = (/** @type {number} */ ms) => new Promise((r) => setTimeout(r, ms));

const { cleanups, cleanupAll } = cleanupStack();
process.on("exit", killAllNow);

/** @param {number[]} values */
const median = (values) => {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2
    ? /** @type {number} */ (s[mid])
    : /** @type {number} */ (s[mid - 1] + /** @type {number} */ (s[mid])) / 2;
};

async function main() {
  // workerd gets a CPU of its own, as in bench/run.mjs (children inherit the rest).
  const pinned = pinLoadGenerator();
  mkdirSync(join(ROOT, "node_modules/.cache"), { recursive: true });
  const dir = mkdtempSync(join(ROOT, "node_modules/.cache/bench-compare-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const baseRoot = join(dir, "base");
  // The base revision's sources; dependencies resolve from the working tree's node_modules.
  const commit = extractRevision(args.base, baseRoot);
  mkdirSync(join(baseRoot, "bench"), { recursive: true }); // router-cpu-worker.ts resolves from there
  // The working tree's traffic, also for a revision from before the file existed.
  copyFileSync(join(ROOT, "bench/traffic-headers.mjs"), join(baseRoot, "bench/traffic-headers.mjs"));
  const nodeLib = join(dir, "node-lib.mjs");
  const [, , , , , reference, redis, backend] = await Promise.all([
    buildRouterFrom(baseRoot, join(dir, "base.mjs")),
    buildRouterFrom(ROOT, join(dir, "new.mjs")),
    buildRouterCpuFrom(baseRoot, join(dir, "base-cpu.mjs")),
    buildRouterCpuFrom(ROOT, join(dir, "new-cpu.mjs")),
    buildNodeLib(nodeLib),
    referenceSession(),
    startLocalRedis(),
    forkReady(join(ROOT, "bench/backend.mjs")),
  ]);
  cleanups.push(
    () => redis.stop(),
    () => stopChild(backend.child),
  );
  const backendUrl = backend.ready.url;
  const lib = await import(nodeLib);
  const secret = randomBytes(54).toString("base64url");
  const keyring = await lib.KeyRing.create([secret]);
  const direct = new IORedis({ port: redis.redisPort, host: "127.0.0.1", maxRetriesPerRequest: 1 });
  cleanups.push(() => direct.disconnect());
  const sessions = await seedSessions({ lib, keyring, redis: direct, record: reference.record, count: POOL });

  const bindings = routerBindings({ backendUrl, secret, storeUrl: redis.restUrl, token: redis.token });
  /** Each scenario on its own isolate. */
  const scenarios = [
    { id: "floor", worker: "passthrough", script: join(ROOT, "bench/passthrough-worker.js") },
    { id: `anonymous ${commit}`, worker: "base-anonymous", script: join(dir, "base.mjs") },
    { id: "anonymous new", worker: "new-anonymous", script: join(dir, "new.mjs") },
    { id: `first-tier ${commit}`, worker: "base-first-tier", script: join(dir, "base.mjs"), sessions },
    { id: "first-tier new", worker: "new-first-tier", script: join(dir, "new.mjs"), sessions },
  ];
  const inspectorPort = await freePort();
  const mf = new Miniflare({
    cf: false,
    inspectorPort,
    handleRuntimeStdio: () => {},
    workers: [
      ...scenarios.map((s) =>
        directSocketWorker(
          s.worker,
          s.script,
          s.worker === "passthrough" ? { BACKEND_URL: backendUrl } : bindings,
        ),
      ),
      directSocketWorker("base-cpu", join(dir, "base-cpu.mjs"), {}),
      directSocketWorker("new-cpu", join(dir, "new-cpu.mjs"), {}),
    ],
  });
  cleanups.push(() => mf.dispose());
  await mf.ready;
  const workerd = workerdPid();
  if (pinned && pinWorkerd(workerd)) log("workerd has the last CPU to itself");
  /** @type {Record<string, string>} */
  const urls = {};
  for (const s of scenarios) urls[s.id] = (await mf.unsafeGetDirectURL(s.worker)).href.replace(/\/$/, "");
  for (const s of scenarios) if (s.sessions) await preloadSessions(urls[s.id], s.sessions);

  // In-isolate cost per request, no network (bench/router-cpu-worker.ts): workerd's CPU time
  // (schedstat: time waiting for a CPU does not count) for n=N minus n=0, base and new
  // alternating; median and minimum over rounds.
  log("in-isolate time per request");
  const cpuUrls = {
    base: (await mf.unsafeGetDirectURL("base-cpu")).href.replace(/\/$/, ""),
    new: (await mf.unsafeGetDirectURL("new-cpu")).href.replace(/\/$/, ""),
  };
  /** workerd's CPU time (ms, schedstat) for one request to the router-CPU worker. */
  const timed = async (/** @type {string} */ url) => {
    const t = cpuNs(workerd);
    const res = await fetch(url, { signal: AbortSignal.timeout(60_000) });
    await res.text();
    if (res.status !== 200) throw new Error(`${url}: ${res.status}`);
    return (cpuNs(workerd) - t) / 1e6;
  };
  const N = 1000;
  /** @type {Record<string, Record<string, number[]>>} */
  const inIsolate = {};
  for (const step of ["forward", "anonymous", "first-tier", "protected"]) {
    inIsolate[step] = { base: [], new: [] };
    for (const which of /** @type {const} */ (["base", "new"]))
      await timed(`${cpuUrls[which]}/${step}?n=${N}`);
    for (let r = 0; r < 3 * ROUNDS; r++) {
      for (const which of /** @type {const} */ (["base", "new"])) {
        const empty = await timed(`${cpuUrls[which]}/${step}?n=0`);
        const full = await timed(`${cpuUrls[which]}/${step}?n=${N}`);
        inIsolate[step][which].push(((full - empty) / N) * 1000);
      }
    }
  }

  console.log(
    `\n| workerd CPU µs/request in the isolate, no network (median of ${3 * ROUNDS} rounds; min) | ${commit} | new | new − base (median) |\n|---|---:|---:|---:|`,
  );
  for (const [step, t] of Object.entries(inIsolate)) {
    const b = Math.min(...t.base);
    const n = Math.min(...t.new);
    console.log(
      `| ${step} | ${median(t.base).toFixed(1)} (${b.toFixed(1)}) | ${median(t.new).toFixed(1)} (${n.toFixed(1)}) | ${(median(t.new) - median(t.base)).toFixed(1)} |`,
    );
  }
  if (args.isolate) return; // --isolate: the in-isolate measurement only
  const load = (/** @type {(typeof scenarios)[number]} */ s, /** @type {number} */ duration) =>
    runSlice({
      url: urls[s.id],
      connections: CONNECTIONS,
      duration,
      ...(s.sessions ? { sessions: s.sessions, fetchToken: true } : {}),
    });
  log(`base ${commit} vs working tree: warm-up`);
  for (const s of scenarios) await load(s, 1);
  /** @type {Record<string, { reqPerSec: number, cpuMsPerRequest: number, notServed: number, non2xx: number }[]>} */
  const rounds = Object.fromEntries(scenarios.map((s) => [s.id, []]));
  for (let r = 0; r < ROUNDS; r++) {
    const order = scenarios.map((_, i) => scenarios[(i + r) % scenarios.length]);
    log(`round ${r + 1}/${ROUNDS}`);
    for (const s of order) {
      const before = cpuMs(workerd);
      const run = await load(s, SLICE);
      await sleep(200); // after-response work lands
      const cpu = cpuMs(workerd) - before;
      rounds[s.id].push({
        reqPerSec: run.raw.totalCompletedRequests / run.raw.duration,
        cpuMsPerRequest: cpu / Math.max(1, run.sent),
        notServed: run.wrongSession,
        non2xx: run.raw.non2xx,
      });
    }
  }
  /** @type {Record<string, any>} */
  const heaps = {};
  for (const s of scenarios)
    heaps[s.id] = await heapOf(inspectorPort, s.worker, () =>
      fetch(`${urls[s.id]}/`).then((r) => r.arrayBuffer()),
    );

  const floor = rounds.floor;
  const fmt = (/** @type {number[]} */ v, /** @type {number} */ d) =>
    `${median(v).toFixed(d)} (${Math.min(...v).toFixed(d)}–${Math.max(...v).toFixed(d)})`;
  console.log(
    `Base ${commit} vs working tree, -c ${CONNECTIONS}, ${ROUNDS} rounds × ${SLICE} s, medians of the per-round figures (range):\n`,
  );
  console.log(
    "| scenario | req/s | ratio to floor | workerd CPU ms/req | above floor ms/req | heap MiB after run (live) | not served / non-2xx |",
  );
  console.log("|---|---:|---:|---:|---:|---:|---:|");
  for (const s of scenarios) {
    const rs = rounds[s.id];
    const ratio = rs.map((x, i) => x.reqPerSec / /** @type {any} */ (floor[i]).reqPerSec);
    const above = rs.map((x, i) => x.cpuMsPerRequest - /** @type {any} */ (floor[i]).cpuMsPerRequest);
    const h = heaps[s.id];
    console.log(
      `| ${s.id} | ${Math.round(median(rs.map((x) => x.reqPerSec)))} | ${fmt(ratio, 2)} | ${fmt(
        rs.map((x) => x.cpuMsPerRequest),
        3,
      )} | ${s.id === "floor" ? "" : fmt(above, 3)} | ${(h.usedBytes / 2 ** 20).toFixed(1)} (${(h.liveBytes / 2 ** 20).toFixed(1)}) | ${rs.reduce((a, x) => a + x.notServed, 0)} / ${rs.reduce((a, x) => a + x.non2xx, 0)} |`,
    );
  }
  // Adjacent slices share the machine's noise best: the change's effect as the median of
  // the per-round differences new − base.
  console.log("\n| paired, per round: new − base | CPU ms/req | ratio to floor |\n|---|---:|---:|");
  for (const kind of ["anonymous", "first-tier"]) {
    const base = rounds[`${kind} ${commit}`];
    const now = rounds[`${kind} new`];
    const cpu = now.map((x, i) => x.cpuMsPerRequest - /** @type {any} */ (base[i]).cpuMsPerRequest);
    const ratio = now.map(
      (x, i) =>
        (x.reqPerSec - /** @type {any} */ (base[i]).reqPerSec) / /** @type {any} */ (floor[i]).reqPerSec,
    );
    console.log(`| ${kind} | ${fmt(cpu, 3)} | ${fmt(ratio, 2)} |`);
  }
}

main()
  .catch((error) => {
    console.error(error instanceof Error ? error.stack : error);
    process.exitCode = 1;
  })
  .finally(cleanupAll);
