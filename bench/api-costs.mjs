#!/usr/bin/env node
// `npm run bench:api-costs`: what one call into workerd's runtime APIs costs, in
// instructions counted by callgrind: a header lookup, a copy of a Headers object, a scan
// of its names, a getter of a Request. The router's own cost is mostly such calls (see
// bench:instructions), so this is the price list its hot path is written against.
//
//   node bench/api-costs.mjs [--iterations N] [--rounds N] [--only op,op] [--json file]
//
// Each operation runs N times per request in one Worker (bench/api-costs-worker.js), in
// workerd under callgrind with the V8 flags bench:instructions uses; its cost per call is
// its instructions per iteration minus those of the empty loop ("none"), the median of the
// rounds. Needs valgrind (Debian: valgrind).
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../scripts/lib/free-port.mjs";
import { ROOT } from "./bundles.mjs";
import { COMPILERS, V8_FLAGS, checkValgrind, workerdUnderCallgrind } from "./callgrind.mjs";
import { cleanupStack } from "./children.mjs";
import { benchArgs, usageError } from "./cli.mjs";

const USAGE = "Usage: node bench/api-costs.mjs [--iterations N] [--rounds N] [--only op,op] [--json file]";
const args = benchArgs(USAGE, {
  iterations: { type: "string", default: "400" },
  rounds: { type: "string", default: "3" },
  only: { type: "string" },
  json: { type: "string" },
});
const ITERATIONS = Number(args.iterations);
const ROUNDS = Number(args.rounds);
if (![ITERATIONS, ROUNDS].every((x) => Number.isInteger(x) && x > 0)) usageError(USAGE);
/** Requests per operation and round (each runs the operation ITERATIONS times). */
const REQUESTS = 5;
const WARMUP_REQUESTS = 20;
const log = (/** @type {string} */ m) => console.error(`[api-costs] ${m}`);
const { cleanups, cleanupAll } = cleanupStack();

const median = (/** @type {number[]} */ xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

async function main() {
  checkValgrind("bench/api-costs.mjs");
  const dir = mkdtempSync(join(tmpdir(), "approuter-edge-api-costs-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  copyFileSync(join(ROOT, "bench/api-costs-worker.js"), join(dir, "worker.mjs"));
  const port = await freePort();
  writeFileSync(
    join(dir, "config.capnp"),
    `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  v8Flags = ${JSON.stringify(V8_FLAGS)},
  services = [(name = "costs", worker = .costs)],
  sockets = [(name = "costs", address = "127.0.0.1:${port}", http = (), service = "costs")]
);
const costs :Workerd.Worker = (
  modules = [(name = "worker.mjs", esModule = embed "worker.mjs")],
  compatibilityDate = "2026-04-26"
);
`,
  );
  log("workerd under callgrind: starting");
  const base = `http://127.0.0.1:${port}`;
  const workerd = await workerdUnderCallgrind({
    dir,
    config: join(dir, "config.capnp"),
    cleanups,
    probe: () => fetch(`${base}/`).then((res) => /** @type {Promise<string[]>} */ (res.json())),
  });
  const all = workerd.ready;
  const wanted = args.only?.split(",").map((s) => s.trim()) ?? all;
  const unknown = wanted.filter((op) => !all.includes(op));
  if (unknown.length > 0) {
    await cleanupAll(); // workerd is running: stopped before the refusal exits
    usageError(USAGE, `no operation named ${unknown.join(", ")} (there are: ${all.join("; ")})`);
  }
  const operations = ["none", ...wanted.filter((op) => op !== "none")];

  const run = async (/** @type {string} */ op, /** @type {number} */ requests) => {
    for (let i = 0; i < requests; i++) {
      const res = await fetch(`${base}/${encodeURIComponent(op)}?n=${ITERATIONS}`);
      const body = await res.text();
      if (res.status !== 200) throw new Error(`${op}: ${res.status} ${body}`);
    }
  };
  log(`warm-up: ${WARMUP_REQUESTS} requests × ${ITERATIONS} iterations per operation`);
  for (const op of operations) await run(op, WARMUP_REQUESTS);

  /** @type {Map<string, number[]>} instructions per iteration, by round */
  const perIteration = new Map(operations.map((op) => [op, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const op of operations) {
      workerd.zero();
      await run(op, REQUESTS);
      let total = 0;
      for (const [sym, cost] of workerd.dump()) if (!COMPILERS.test(sym)) total += cost;
      perIteration.get(op)?.push(total / (REQUESTS * ITERATIONS));
    }
    log(`round ${round + 1} of ${ROUNDS} done`);
  }

  const floor = median(perIteration.get("none") ?? []);
  const rows = operations
    .filter((op) => op !== "none")
    .map((op) => {
      const rounds = perIteration.get(op) ?? [];
      return { operation: op, perCall: median(rounds) - floor, rounds };
    });
  console.log(
    `\nworkerd instructions per call (callgrind, user space, without V8's compilers; median of ${ROUNDS} rounds of ${REQUESTS} requests × ${ITERATIONS} calls, minus the empty loop's ${floor.toFixed(0)} per iteration):\n`,
  );
  console.log("| operation | instructions per call | rounds (per iteration, loop included) |");
  console.log("|---|---:|---|");
  for (const { operation, perCall, rounds } of rows) {
    const raw = rounds.map((x) => x.toFixed(0)).join(" / ");
    console.log(`| ${operation} | ${(perCall / 1000).toFixed(2)}k | ${raw} |`);
  }
  if (args.json) writeFileSync(args.json, JSON.stringify({ floor, rows }, null, 2));
}

main()
  .catch((error) => {
    console.error(error instanceof Error ? error.stack : error);
    process.exitCode = 1;
  })
  .finally(cleanupAll);
