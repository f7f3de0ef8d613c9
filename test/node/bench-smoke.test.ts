import type { ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";
import { runNodeScript } from "../support/node-script.js";

/**
 * `node bench/run.mjs --quick` end to end: structure and invariants of its JSON only,
 * never speed (the machine is shared and noisy).
 */
const SCENARIOS = [
  "direct",
  "floor",
  "proxy-floor",
  "proxy-floor-timeout",
  "anonymous",
  "first-tier",
  "logged-in",
  "recovery",
  "first-tier-slow",
  "recovery-slow",
  "first-tier-down",
  "recovery-down",
];

let child: ChildProcess | undefined;
let dir: string | undefined;
afterEach(() => {
  // A failed or timed-out run must not leave the benchmark behind; it stops its own children on SIGTERM.
  if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
  child = undefined;
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

function runBench(jsonPath: string) {
  const run = runNodeScript("bench/run.mjs", ["--quick", "--json", jsonPath]);
  child = run.child;
  return run.done;
}

const isNumber = (value: unknown): value is number => typeof value === "number" && Number.isFinite(value);

it("runs every scenario and reports numbers, store calls and sizes", { timeout: 120_000 }, async () => {
  dir = mkdtempSync(join(tmpdir(), "bench-smoke-"));
  const jsonPath = join(dir, "bench.json");
  const { code, stdout, stderr } = await runBench(jsonPath);
  expect(code, stderr.slice(-3000)).toBe(0);
  expect(stdout).toContain(
    "| scenario | req/s | ratio to floor | p50 ms | p99 ms | non-2xx | store calls/req | target |",
  );
  expect(stdout).toContain("| measure | value | target |");
  expect(stdout).toContain(
    "| scenario | ratio to floor | workerd CPU ms/req | above floor ms/req | heap MiB after run (live after GC) | floor heap MiB | target |",
  );

  const results = JSON.parse(readFileSync(jsonPath, "utf8"));
  expect(results.meta.quick).toBe(true);

  // Every scenario, with numbers
  const byId = Object.fromEntries(results.scenarios.map((s: { id: string }) => [s.id, s]));
  expect(Object.keys(byId).sort()).toEqual([...SCENARIOS].sort());
  for (const id of SCENARIOS) {
    const s = byId[id];
    expect(s.requests, id).toBeGreaterThan(0);
    expect(s.sent, id).toBeGreaterThanOrEqual(s.requests);
    for (const value of [
      s.reqPerSec,
      s.ratioToFloor,
      s.latencyMs.p50,
      s.latencyMs.p99,
      s.store.callsPerRequest,
    ]) {
      expect(isNumber(value), id).toBe(true);
    }
    expect(s.ratioToFloor, id).toBeGreaterThan(0);
    // Cost in workerd: process CPU per request and the isolate's heap, for every scenario it serves.
    if (id === "direct") {
      expect(s.workerdCpuMsPerRequest, id).toBeNull();
    } else {
      expect(isNumber(s.workerdCpuMsPerRequest) && s.workerdCpuMsPerRequest >= 0, id).toBe(true);
      expect(isNumber(s.workerdCpuMsAboveFloor), id).toBe(true);
      expect(isNumber(s.heap.usedBytes) && s.heap.usedBytes > 0, id).toBe(true);
      expect(isNumber(s.heap.liveBytes) && s.heap.liveBytes > 0, id).toBe(true);
    }
    expect(Number.isInteger(s.non2xx) && s.non2xx >= 0, id).toBe(true);
  }
  expect(isNumber(results.floor.reqPerSec) && results.floor.reqPerSec > 0).toBe(true);
  expect(isNumber(results.floor.workerdCpuMsPerRequest)).toBe(true);
  expect(isNumber(results.floor.heap.liveBytes)).toBe(true);
  // Whether workerd had a CPU of its own is stated (the tables say so too).
  expect(typeof results.workerd.pinned).toBe("boolean");
  // The reference proxies are served by workerd and make no store calls.
  for (const id of ["proxy-floor", "proxy-floor-timeout"]) expect(byId[id].store.calls, id).toBe(0);

  // The first tier answers without the store, and serves the right session.
  expect(byId["first-tier"].store.calls).toBe(0);
  expect(byId["first-tier"].sessions.notServed).toBe(0);
  // So does it for a logged-in user on an XSUAA route (the token fresh: nothing to refresh).
  expect(byId["logged-in"].store.calls).toBe(0);
  expect(byId["logged-in"].sessions.notServed).toBe(0);
  expect(byId["logged-in"].non2xx).toBe(0);
  // Recovery: one read per request (in-run deltas, divided by the requests sent).
  expect(byId.recovery.store.getPerRequest).toBeGreaterThan(0.9);
  expect(byId.recovery.store.getPerRequest).toBeLessThan(1.1);
  expect(isNumber(byId.recovery.store.pexpirePerRequest)).toBe(true);
  // Store down: nothing reaches redis.
  expect(byId["first-tier-down"].store.calls).toBe(0);
  expect(byId["recovery-down"].store.calls).toBe(0);

  // Sizes, codec CPU, memory
  const { sizes, codecCpu, memory } = results;
  for (const value of [sizes.jsonBytes, sizes.storedBytes, sizes.sapStyleBytes, sizes.storedToSapRatio]) {
    expect(isNumber(value) && value > 0).toBe(true);
  }
  expect(sizes.storedBytes).toBeLessThan(sizes.jsonBytes); // compressed before sealing
  expect(isNumber(sizes.storedBytesWorkerd)).toBe(true);
  expect(isNumber(codecCpu.seal.msPerOp)).toBe(true);
  expect(isNumber(codecCpu.open.msPerOp)).toBe(true);
  expect(memory.churn.entries).toBeGreaterThan(0);
  expect(memory.churn.evictions).toBeGreaterThan(0);
  expect(memory.churn.accountedBytes).toBeLessThanOrEqual(memory.maxBytes);
  expect(isNumber(memory.fill.heapBytesPerEntry)).toBe(true);

  // Every target judged
  expect(results.targets.length).toBeGreaterThanOrEqual(8);
  const targetIds = results.targets.map((t: { id: string }) => t.id);
  for (const id of ["first-tier-cpu-above-floor", "anonymous-vs-floor", "anonymous-cpu-above-floor"])
    expect(targetIds).toContain(id);
  for (const target of results.targets) expect(typeof target.met).toBe("boolean");
});
