#!/usr/bin/env node
// `npm run bench:regions`: the multi-region simulation (bench/region-sim.mjs), first at a
// compressed pace (correctness under pressure: lost / spurious / stale / logouts), then at
// a typical user's pace for the cost model: store commands per request and per user-hour,
// with the revalidation window and the stickiness of users to an isolate varied one at a
// time. Prints a markdown table and writes JSON (default bench-results/regions.json).
// About 15 minutes (--quick: about 4).
//
//   node bench/regions.mjs [--quick] [--json path] [--only id,id]
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { ROOT } from "./bundles.mjs";
import { simulate } from "./region-sim.mjs";
import { benchArgs, usageError } from "./cli.mjs";

const USAGE = "Usage: node bench/regions.mjs [--quick] [--json path] [--only id,id]";
const args = benchArgs(USAGE, {
  quick: { type: "boolean", default: false },
  json: { type: "string" },
  only: { type: "string" },
});
const QUICK = args.quick;
const JSON_PATH = resolve(args.json ?? join(ROOT, "bench-results/regions.json"));
const log = (/** @type {string} */ m) => console.error(`[regions] ${m}`);

const REGIONS = [
  { name: "eu", primaryDelayMs: 0, replicaLagMs: 1500 },
  { name: "us", primaryDelayMs: 40, replicaLagMs: 1500 },
  { name: "ap", primaryDelayMs: 90, replicaLagMs: 1500 },
];
/**
 * A typical user: a request every 5–15 s (6 a minute), a session write every ~50 requests
 * (a token refresh or a backend cookie change), no logout within the measured time; every
 * request lands on one of the three isolates drawn at random (`jump` 1),
 * the worst case for a first tier. Its session holds something from its first request (a
 * backend's session cookie, as a login would): a stored session. A session holding nothing
 * but its CSRF token lives in its cookie alone and is measured on its own ("token-only").
 */
const TYPICAL = {
  users: QUICK ? 20 : 40,
  durationMs: QUICK ? 40_000 : 150_000,
  // Counted once every user has a session and has met every isolate (steady state).
  measureAfterMs: QUICK ? 20_000 : 50_000,
  thinkMs: /** @type {[number, number]} */ ([5000, 15000]),
  mix: { write: 0.02, logout: 0 },
  probeLogouts: false,
  tokenOnlyShare: 0,
};

const runs = [
  {
    id: "pressure",
    what: "compressed pace: a request every 0.1–0.5 s, 15 % writes, 6 % logouts, revalidateAfter 1 s",
    options: {
      regions: REGIONS,
      users: 24,
      durationMs: QUICK ? 10_000 : 30_000,
      revalidateAfterMs: 1000,
      thinkMs: /** @type {[number, number]} */ ([100, 500]),
      jump: 0.5,
      mix: { write: 0.15, logout: 0.06 },
      probeLogouts: true,
    },
  },
  {
    id: "typical",
    what: "typical user, revalidateAfter 5 s (default), random isolate per request",
    options: { regions: REGIONS, ...TYPICAL, revalidateAfterMs: 5000, jump: 1 },
  },
  {
    id: "typical-30s",
    what: "the same, revalidateAfter 30 s",
    options: { regions: REGIONS, ...TYPICAL, revalidateAfterMs: 30_000, jump: 1 },
  },
  {
    id: "typical-300s",
    what: "the same, revalidateAfter 300 s (TTL then slides by touches, at most once a minute)",
    options: { regions: REGIONS, ...TYPICAL, revalidateAfterMs: 300_000, jump: 1 },
  },
  {
    id: "token-only",
    what: "typical pace, but sessions that hold nothing but their CSRF token (no write): they live in their cookie alone",
    options: {
      regions: REGIONS,
      ...TYPICAL,
      durationMs: QUICK ? 20_000 : 40_000,
      measureAfterMs: QUICK ? 5_000 : 10_000,
      mix: { write: 0, logout: 0 },
      tokenOnlyShare: 1,
      revalidateAfterMs: 5000,
      jump: 1,
    },
  },
  {
    id: "typical-sticky",
    what: "the same as typical, but 90 % of requests stay on the previous isolate",
    options: { regions: REGIONS, ...TYPICAL, revalidateAfterMs: 5000, jump: 0.1 },
  },
];

const only = args.only?.split(",");
const unknown = only?.filter((id) => !runs.some((r) => r.id === id)) ?? [];
if (unknown.length > 0)
  usageError(USAGE, `--only: no run named ${unknown.join(", ")} (runs: ${runs.map((r) => r.id).join(", ")})`);
const results = [];
for (const run of runs.filter((r) => !only || only.includes(r.id))) {
  log(`${run.id}: ${run.what}`);
  // One run's crash (a starved workerd on a loaded machine) is reported, not the end of the others.
  try {
    const report = await simulate({ ...run.options, seed: 11, log });
    results.push({ id: run.id, what: run.what, report });
    log(
      `${run.id}: ${JSON.stringify({ counts: report.counts, addedLatencyMs: report.addedLatencyMs, store: report.store })}`,
    );
  } catch (error) {
    log(`${run.id}: FAILED ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  }
}

const rows = results.map(({ id, report: r }) => {
  const cmds = r.store.measuredByCommand;
  return [
    id,
    r.counts.requests - r.counts.probes,
    `${r.counts.created}/${r.counts.createdTokenOnly}/${r.counts.promoted}`,
    `${r.counts.lost}/${r.counts.spurious}/${r.counts.stale}`,
    r.counts.logouts ? `${r.counts.logoutsHonoured}/${r.counts.logouts}` : "–",
    `${r.router.recoveries}/${r.router.revalidations}/${r.router.touches}`,
    `${r.addedLatencyMs.recovery.p50}/${r.addedLatencyMs.recovery.p99}`,
    r.store.perRequest,
    Object.entries(cmds)
      .sort()
      .map(([k, v]) => `${k} ${v}`)
      .join(", "),
    r.store.requestsPerUserHour,
    r.store.perUserHour,
  ];
});
const header = [
  "run",
  "requests",
  "sessions/token-only/promoted",
  "lost/spurious/stale",
  "logouts honoured",
  "recoveries/revalidations/touches",
  "recovery added ms p50/p99",
  "commands/request (steady)",
  "commands (steady)",
  "requests/user-h",
  "commands/user-h (steady)",
];
console.log(
  `| ${header.join(" | ")} |\n|${header.map(() => "---").join("|")}|\n${rows.map((r) => `| ${r.join(" | ")} |`).join("\n")}`,
);
mkdirSync(dirname(JSON_PATH), { recursive: true });
writeFileSync(JSON_PATH, JSON.stringify({ quick: QUICK, runs: results }, null, 2));
log(`JSON: ${JSON_PATH}`);
