#!/usr/bin/env node
// `npm run bench:process-profile`: where the workerd process's CPU goes per request, split
// by what spends it (the router's JavaScript, V8's garbage collector and handles, the memory
// allocator, workerd's API bindings, KJ's event loop and HTTP, the kernel), for the router
// and, in the same run, for the bare pass-through and the reference proxy. `perf record`
// samples the whole process (every thread, kernel included) the way an operator's profiler
// would; bench/profile.mjs (the inspector) sees JavaScript only.
//
//   node bench/process-profile.mjs [--scenario anonymous|first-tier|logged-in|all] [-d seconds]
//                                  [-c connections] [--warmup seconds] [--top N] [--out dir]
//
// --out keeps perf's raw data (<column>.data, for `perf report -i`); commit none.
// Needs `perf` (Debian: linux-perf) and kernel.perf_event_paranoid ≤ 2. workerd gets a CPU of
// its own as in `npm run bench`. The sampling slows workerd a little; read the split and the
// differences between the columns, not the absolute figures.
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Miniflare } from "miniflare";
import { directSocketWorker, ROOT } from "./bundles.mjs";
import { CATEGORIES, sumByCategory } from "./cpu-categories.mjs";
import { runSlice } from "./load.mjs";
import { pinLoadGenerator, pinWorkerd, workerdPid } from "./process-cpu.mjs";
import { loggedInBindings, preloadSessions, routerBindings } from "./seed.mjs";
import { chosenScenarios, ROUTER_SCENARIOS, startBenchServices } from "./services.mjs";
import { benchArgs, usageError } from "./cli.mjs";
import { cleanupStack } from "./children.mjs";

const USAGE =
  "Usage: node bench/process-profile.mjs [--scenario anonymous|first-tier|logged-in|all] [-d seconds] [-c connections] [--warmup seconds] [--top N] [--out dir]";
const args = benchArgs(USAGE, {
  scenario: { type: "string", default: "all" },
  duration: { type: "string", short: "d", default: "5" },
  connections: { type: "string", short: "c", default: "20" },
  top: { type: "string", default: "15" },
  // Long enough for V8 to have compiled the hot code: compilation would count otherwise.
  warmup: { type: "string", default: "5" },
  out: { type: "string" },
});
const chosen = chosenScenarios(args.scenario) ?? [];
const DURATION = Number(args.duration);
const CONNECTIONS = Number(args.connections);
const TOP = Number(args.top);
const WARMUP = Number(args.warmup);
if (chosen.length === 0 || !(DURATION > 0 && CONNECTIONS > 0 && TOP > 0 && WARMUP >= 0)) {
  usageError(USAGE);
}
const SAMPLE_HZ = 2000;
const log = (/** @type {string} */ m) => console.error(`[process-profile] ${m}`);

/** perf's samples of one run, per (dso, symbol): `{ total, rows: [{ dso, sym, samples }] }`. */
function readSamples(/** @type {string} */ file) {
  const out = execFileSync(
    "perf",
    [
      "report",
      "-i",
      file,
      "--no-children",
      "-g",
      "none",
      "--sort",
      "dso,sym",
      "--stdio",
      "-F",
      "sample,dso,sym",
    ],
    { encoding: "utf8", maxBuffer: 256 * 1024 * 1024, stdio: ["ignore", "pipe", "ignore"] },
  );
  const rows = [];
  let total = 0;
  for (const line of out.split("\n")) {
    // "   1234  workerd   [.] symbol"
    const m = line.match(/^\s+(\d+)\s+(\S+(?: tid \d+)?)\s+\[[.k]\]\s+(.*)$/);
    if (!m) continue;
    const samples = Number(m[1]);
    rows.push({ dso: m[2], sym: m[3].trim(), samples });
    total += samples;
  }
  return { total, rows };
}

/** Checks that perf can sample a process of ours; a clear message otherwise. */
function checkPerf() {
  try {
    execFileSync("perf", ["stat", "-e", "cpu-clock", "--", "true"], { stdio: "ignore" });
  } catch {
    console.error(
      "bench/process-profile.mjs needs `perf` (Debian: apt-get install linux-perf) and " +
        "kernel.perf_event_paranoid ≤ 2 (software events of one's own processes).",
    );
    process.exit(2);
  }
}

const { cleanups, cleanupAll } = cleanupStack();

async function main() {
  checkPerf();
  const pinned = pinLoadGenerator(); // before the children start: they inherit the CPUs
  const { bundles, backendUrl, redis, secret, sessions } = await startBenchServices(cleanups);
  const store = { backendUrl, secret, storeUrl: redis.restUrl, token: redis.token };

  const mf = new Miniflare({
    cf: false,
    handleRuntimeStdio: () => {},
    workers: [
      directSocketWorker("floor", join(ROOT, "bench/passthrough-worker.js"), { BACKEND_URL: backendUrl }),
      directSocketWorker("reference", join(ROOT, "bench/proxy-floor-worker.js"), {
        BACKEND_URL: backendUrl,
        HEAD_TIMEOUT_MS: "30000",
      }),
      directSocketWorker("router", bundles.router, routerBindings(store)),
      directSocketWorker("router-logged-in", bundles.router, loggedInBindings(store)),
    ],
  });
  cleanups.push(() => mf.dispose());
  await mf.ready;
  const pid = workerdPid();
  const workerdPinned = pinned && pinWorkerd(pid);
  log(workerdPinned ? "workerd has a CPU of its own" : "workerd not pinned (fewer than 2 CPUs?)");
  const url = async (/** @type {string} */ name) =>
    (await mf.unsafeGetDirectURL(name)).href.replace(/\/$/, "");
  const urls = {
    floor: await url("floor"),
    reference: await url("reference"),
    router: await url("router"),
    loggedIn: await url("router-logged-in"),
  };
  // Sessions into the first tier of the router isolates the chosen scenarios use.
  if (chosen.includes("first-tier")) await preloadSessions(urls.router, sessions);
  if (chosen.includes("logged-in")) await preloadSessions(urls.loggedIn, sessions);

  const columns = [
    { id: "floor", name: "pass-through", url: urls.floor },
    { id: "reference", name: "reference proxy", url: urls.reference },
    ...chosen.map((scenario) => ({
      id: scenario,
      name: `router ${scenario}`,
      url: scenario === "logged-in" ? urls.loggedIn : urls.router,
      ...(scenario === "anonymous" ? {} : { sessions, fetchToken: true }),
    })),
  ];
  const dir = args.out ? resolve(args.out) : mkdtempSync(join(tmpdir(), "approuter-edge-perf-"));
  if (args.out) mkdirSync(dir, { recursive: true });
  else cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  /** @type {Array<{ id: string, name: string, requests: number, byCategory: Map<string, number>, profile: any }>} */
  const results = [];
  for (const column of columns) {
    const load = (/** @type {number} */ duration) =>
      runSlice({
        url: column.url,
        connections: CONNECTIONS,
        duration,
        ...(column.sessions ? { sessions: column.sessions, fetchToken: column.fetchToken } : {}),
      });
    log(`${column.name}: warm-up ${WARMUP} s, then ${DURATION} s sampled`);
    if (WARMUP > 0) await load(WARMUP);
    const file = join(dir, `${column.id}.data`);
    const perf = spawn(
      "perf",
      ["record", "-q", "-e", "cpu-clock", "-F", String(SAMPLE_HZ), "-p", String(pid), "-o", file],
      {
        stdio: "ignore",
      },
    );
    const exited = new Promise((resolve) => perf.once("exit", resolve));
    let run;
    try {
      await new Promise((resolve) => setTimeout(resolve, 300)); // perf attached
      run = await load(DURATION);
    } finally {
      perf.kill("SIGINT"); // also when the load failed: perf must not outlive the run
      await exited;
    }
    if (run.raw.non2xx > 0 || run.wrongSession > 0)
      throw new Error(`${column.name}: ${run.raw.non2xx} non-2xx, ${run.wrongSession} not served`);
    const profile = readSamples(file);
    results.push({
      id: column.id,
      name: column.name,
      requests: run.sent,
      byCategory: sumByCategory(profile.rows.map((r) => ({ dso: r.dso, sym: r.sym, cost: r.samples }))),
      profile,
    });
  }

  const usPerRequest = (/** @type {number} */ samples, /** @type {number} */ requests) =>
    (samples * 1e6) / SAMPLE_HZ / Math.max(1, requests);
  const reference = /** @type {(typeof results)[number]} */ (results.find((r) => r.id === "reference"));
  const routers = results.filter((r) => ROUTER_SCENARIOS.includes(r.id));
  console.log(
    `\nworkerd process CPU per request (µs), by what spends it: perf cpu-clock at ${SAMPLE_HZ} Hz, -c ${CONNECTIONS}, ${DURATION} s each${workerdPinned ? ", workerd on a CPU of its own" : ""}.\n`,
  );
  console.log(
    `| spent in | ${results.map((r) => r.name).join(" | ")} | ${routers.map((r) => `${r.name} − reference`).join(" | ")} |`,
  );
  console.log(`|---|${results.map(() => "---:").join("|")}|${routers.map(() => "---:").join("|")}|`);
  const cell = (/** @type {number} */ x) => x.toFixed(1);
  for (const [category] of [...CATEGORIES, ["total"]]) {
    const of = (/** @type {(typeof results)[number]} */ r) =>
      usPerRequest(
        category === "total" ? r.profile.total : /** @type {number} */ (r.byCategory.get(category)),
        r.requests,
      );
    const label = category === "total" ? "**total**" : category;
    console.log(
      `| ${label} | ${results.map((r) => cell(of(r))).join(" | ")} | ${routers.map((r) => `${of(r) - of(reference) >= 0 ? "+" : ""}${cell(of(r) - of(reference))}`).join(" | ")} |`,
    );
  }
  // The symbols that grew most from the reference to the router, per router scenario.
  const refBySym = new Map(reference.profile.rows.map((/** @type {any} */ x) => [x.sym, x.samples]));
  for (const router of routers) {
    const grown = router.profile.rows
      .map((/** @type {any} */ x) => ({
        sym: x.sym,
        delta:
          usPerRequest(x.samples, router.requests) -
          usPerRequest(refBySym.get(x.sym) ?? 0, reference.requests),
      }))
      .sort((a, b) => b.delta - a.delta)
      .slice(0, TOP);
    console.log(`\nGrew most from the reference proxy to ${router.name} (µs/request):\n`);
    console.log("| + µs | symbol |\n|---:|---|");
    for (const { sym, delta } of grown)
      console.log(`| ${cell(delta)} | ${sym.slice(0, 140).replaceAll("|", "\\|")} |`);
  }
}

main()
  .catch((error) => {
    console.error(error instanceof Error ? error.stack : error);
    process.exitCode = 1;
  })
  .finally(cleanupAll);
