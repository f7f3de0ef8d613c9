#!/usr/bin/env node
// `npm run bench:instructions`: how many instructions workerd executes per request, counted
// by valgrind's callgrind, for the bare pass-through, the reference proxy and the router's
// scenarios, all in one workerd process, the deployed bundle. CPU time on a shared 2-core
// machine moves by a third between runs; an instruction count moves by about 1 %: the
// figure to judge a change of a few microseconds by (A/B: run it on both trees).
//
//   node bench/instructions.mjs [--scenario anonymous|first-tier|logged-in|all] [-n requests]
//                               [--warmup requests] [--rounds N] [--base REF] [--top N]
//                               [--steps] [--json file] [--out dir]
//
// --base REF adds the router of a git revision (`git archive`, both built as wrangler.toml
// minifies): one run says what a change buys, in instructions.
//
// --steps adds the reference proxy's parts one at a time: forwarding the request's headers
// and the backend's response as they are, then with the request's headers copied, with the
// response copied, with both, with only the bounded wait. They show what of the reference's
// cost no proxy that changes headers can avoid in workerd.
//
// Counted: every instruction of the workerd process in user space (V8, workerd, KJ, the
// allocator), not the kernel's. Not counted: V8's optimizing compilers (tier-up work, done
// once), shown apart. V8 runs single-threaded (compilation and GC on the measured thread,
// so nothing escapes the count), with lower tier-up thresholds: under valgrind (about 50×
// slower) the warm-up then reaches the optimized code a long run would. --out keeps
// callgrind's files (callgrind_annotate); commit none. Needs valgrind (Debian: valgrind).
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { freePort } from "../scripts/lib/free-port.mjs";
import { buildRouterFrom, extractRevision, ROOT } from "./bundles.mjs";
import { CATEGORIES, sumByCategory } from "./cpu-categories.mjs";
import { runSlice } from "./load.mjs";
import { loggedInBindings, preloadSessions, routerBindings } from "./seed.mjs";
import { chosenScenarios, startBenchServices } from "./services.mjs";
import { benchArgs, usageError } from "./cli.mjs";
import { cleanupStack } from "./children.mjs";
import { COMPILERS, V8_FLAGS, checkValgrind, workerdUnderCallgrind } from "./callgrind.mjs";

const USAGE =
  "Usage: node bench/instructions.mjs [--scenario anonymous|first-tier|logged-in|all] [-n requests] [--warmup requests] [--rounds N] [--base REF] [--top N] [--steps] [--json file] [--out dir]";
const args = benchArgs(USAGE, {
  scenario: { type: "string", default: "all" },
  requests: { type: "string", short: "n", default: "1000" },
  warmup: { type: "string", default: "2500" },
  rounds: { type: "string", default: "3" },
  base: { type: "string" },
  top: { type: "string", default: "15" },
  json: { type: "string" },
  out: { type: "string" },
  steps: { type: "boolean", default: false },
});
const chosen = chosenScenarios(args.scenario) ?? [];
const N = Number(args.requests);
const WARMUP = Number(args.warmup);
const ROUNDS = Number(args.rounds);
const TOP = Number(args.top);
if (
  chosen.length === 0 ||
  ![N, ROUNDS, TOP].every((x) => Number.isInteger(x) && x > 0) ||
  !(Number.isInteger(WARMUP) && WARMUP >= 0)
) {
  usageError(USAGE);
}
/**
 * --steps: the reference proxy taken apart (bench/proxy-floor-worker.js's switches), from
 * forwarding as is up to what it does but the bounded wait.
 * @type {Array<{ id: string, name: string, bindings: Record<string, string> }>}
 */
const STEPS = [
  { id: "step-as-is", name: "forward as is", bindings: { KEEP_REQUEST_HEADERS: "1", KEEP_RESPONSE: "1" } },
  { id: "step-request", name: "+ request headers copied", bindings: { KEEP_RESPONSE: "1" } },
  { id: "step-response", name: "+ response copied", bindings: { KEEP_REQUEST_HEADERS: "1" } },
  { id: "step-both", name: "+ both copied", bindings: {} },
  {
    id: "step-wait",
    name: "+ bounded wait only",
    bindings: { KEEP_REQUEST_HEADERS: "1", KEEP_RESPONSE: "1", HEAD_TIMEOUT_MS: "30000" },
  },
];
const steps = args.steps ? STEPS : [];

/** The columns that are not the router (pass-through, references and the reference's steps). */
const REFERENCE_IDS = ["floor", "reference", "reference-token", ...STEPS.map((s) => s.id)];
const log = (/** @type {string} */ m) => console.error(`[instructions] ${m}`);

/**
 * workerd's configuration: one service and socket per Worker, text bindings, loopback
 * subrequests allowed (the backend and the store are on 127.0.0.1).
 * @param {Array<{ id: string, file: string, port: number, bindings: Record<string, string> }>} workers
 */
function workerdConfig(workers) {
  const ident = (/** @type {string} */ id) => `w${id.replace(/[^A-Za-z0-9]/g, "")}`;
  const str = JSON.stringify;
  return `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  v8Flags = ${str(V8_FLAGS)},
  services = [
    (name = "internet", network = (allow = ["public", "private", "local"])),
${workers.map((w) => `    (name = ${str(w.id)}, worker = .${ident(w.id)})`).join(",\n")}
  ],
  sockets = [
${workers.map((w) => `    (name = ${str(w.id)}, address = "127.0.0.1:${w.port}", http = (), service = ${str(w.id)})`).join(",\n")}
  ]
);
${workers
  .map(
    (w) => `const ${ident(w.id)} :Workerd.Worker = (
  modules = [(name = "worker.mjs", esModule = embed ${str(w.file)})],
  compatibilityDate = "2026-04-26",
  globalOutbound = "internet",
  bindings = [${Object.entries(w.bindings)
    .map(([name, value]) => `(name = ${str(name)}, text = ${str(value)})`)
    .join(", ")}]
);`,
  )
  .join("\n")}
`;
}

/** A C++ function's name without its parameter list, at most 140 characters. */
function shortName(/** @type {string} */ sym) {
  return sym.replaceAll("(anonymous namespace)", "{anon}").replace(/\(.*$/, "").slice(0, 140);
}

/**
 * The router bundles to measure: the deployed one, or with --base the working tree's and the
 * revision's, both built alike.
 * @returns {Promise<Array<{ tag: string, label: string, file: string }>>}
 */
async function routerBuilds(/** @type {string} */ dir, /** @type {string} */ deployed) {
  if (args.base === undefined) {
    copyFileSync(deployed, join(dir, "router.mjs"));
    return [{ tag: "", label: "", file: "router.mjs" }];
  }
  // Under node_modules/.cache: the revision's sources resolve their dependencies from ours.
  mkdirSync(join(ROOT, "node_modules/.cache"), { recursive: true });
  const baseRoot = mkdtempSync(join(ROOT, "node_modules/.cache/bench-instructions-"));
  cleanups.push(() => rmSync(baseRoot, { recursive: true, force: true }));
  const commit = extractRevision(args.base, baseRoot);
  await Promise.all([
    buildRouterFrom(ROOT, join(dir, "router.mjs")),
    buildRouterFrom(baseRoot, join(dir, "router-base.mjs")),
  ]);
  return [
    { tag: "", label: " (working tree)", file: "router.mjs" },
    { tag: "-base", label: ` (${commit})`, file: "router-base.mjs" },
  ];
}

const { cleanups, cleanupAll } = cleanupStack();

async function main() {
  checkValgrind("bench/instructions.mjs");
  const { bundles, backendUrl, redis, secret, sessions, accessToken } = await startBenchServices(cleanups);
  // Valgrind slows workerd some 50-fold: store calls get a minute before they count as
  // failed, and first-tier copies are trusted for the whole run (no revalidation reads
  // among the counted requests: the first-tier scenarios' premise).
  const store = {
    backendUrl,
    secret,
    storeUrl: redis.restUrl,
    token: redis.token,
    session: { defaultRetryTimeout: 60_000, revalidateAfter: 3_600_000 },
  };

  const dir = args.out ? resolve(args.out) : mkdtempSync(join(tmpdir(), "approuter-edge-instructions-"));
  if (args.out) mkdirSync(dir, { recursive: true });
  else cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  copyFileSync(join(ROOT, "bench/passthrough-worker.js"), join(dir, "floor.mjs"));
  copyFileSync(join(ROOT, "bench/proxy-floor-worker.js"), join(dir, "reference.mjs"));
  const routers = await routerBuilds(dir, bundles.router);
  const workers = [
    { id: "floor", file: "floor.mjs", bindings: { BACKEND_URL: backendUrl } },
    {
      id: "reference",
      file: "reference.mjs",
      bindings: { BACKEND_URL: backendUrl, HEAD_TIMEOUT_MS: "30000" },
    },
    ...steps.map((step) => ({
      id: step.id,
      file: "reference.mjs",
      bindings: { BACKEND_URL: backendUrl, ...step.bindings },
    })),
    // What forwarding the logged-in user's token costs any proxy: workerd checks and copies it.
    ...(chosen.includes("logged-in")
      ? [
          {
            id: "reference-token",
            file: "reference.mjs",
            bindings: {
              BACKEND_URL: backendUrl,
              HEAD_TIMEOUT_MS: "30000",
              AUTHORIZATION: `Bearer ${accessToken}`,
            },
          },
        ]
      : []),
    ...routers.flatMap(({ tag, file }) => [
      { id: `router${tag}`, file, bindings: routerBindings(store) },
      ...(chosen.includes("logged-in")
        ? [{ id: `router-logged-in${tag}`, file, bindings: loggedInBindings(store) }]
        : []),
    ]),
  ];
  const withPorts = [];
  for (const w of workers) withPorts.push({ ...w, port: await freePort() });
  writeFileSync(join(dir, "config.capnp"), workerdConfig(withPorts));
  const url = (/** @type {string} */ id) => `http://127.0.0.1:${withPorts.find((w) => w.id === id)?.port}`;

  log("workerd under callgrind (about 50× slower): starting");
  const workerd = await workerdUnderCallgrind({
    dir,
    config: join(dir, "config.capnp"),
    cleanups,
    probe: () => fetch(`${url("floor")}/`).then((res) => res.arrayBuffer().then(() => true)),
  });
  for (const { tag } of routers) {
    if (chosen.includes("first-tier")) await preloadSessions(url(`router${tag}`), sessions);
    if (chosen.includes("logged-in")) await preloadSessions(url(`router-logged-in${tag}`), sessions);
  }

  const columns = [
    { id: "floor", name: "pass-through", url: url("floor") },
    { id: "reference", name: "reference proxy", url: url("reference") },
    ...steps.map((step) => ({ id: step.id, name: step.name, url: url(step.id) })),
    ...(chosen.includes("logged-in")
      ? [{ id: "reference-token", name: "reference proxy + token", url: url("reference-token") }]
      : []),
    ...chosen.flatMap((scenario) =>
      routers.map(({ tag, label }) => ({
        id: `${scenario}${tag}`,
        name: `router ${scenario}${label}`,
        url: url(scenario === "logged-in" ? `router-logged-in${tag}` : `router${tag}`),
        // Four of the sessions: each gets its TTL extended in the store (a touch) at most once a
        // minute, and under valgrind's slowdown a minute is a few thousand requests, not a
        // hundred thousand; with all of them the touches made some rounds 10 % dearer.
        ...(scenario === "anonymous" ? {} : { sessions: sessions.slice(0, 4), fetchToken: true }),
      })),
    ),
  ];
  const load = (/** @type {(typeof columns)[number]} */ column, /** @type {number} */ amount) =>
    runSlice({
      url: column.url,
      connections: 2,
      duration: 0,
      amount,
      ...("sessions" in column ? { sessions: column.sessions, fetchToken: column.fetchToken } : {}),
    });
  for (const column of columns) {
    log(`${column.name}: ${WARMUP} requests of warm-up`);
    if (WARMUP > 0) await load(column, WARMUP);
  }

  /** @type {Map<string, Array<{ perRequest: number, compilers: number, self: Map<string, number> }>>} */
  const measured = new Map(columns.map((c) => [c.id, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const column of columns) {
      workerd.zero();
      const run = await load(column, N);
      const self = workerd.dump();
      if (run.raw.non2xx > 0 || run.raw.errors > 0 || run.wrongSession > 0)
        throw new Error(`${column.name}: ${run.raw.non2xx} non-2xx, ${run.wrongSession} not served`);
      let total = 0;
      let compilers = 0;
      // The compilers' share counted apart and left out of the split and the symbols.
      for (const [sym, cost] of self) {
        if (COMPILERS.test(sym)) {
          compilers += cost;
          self.delete(sym); // deleting the current entry keeps a Map's iteration going
        } else total += cost;
      }
      measured.get(column.id)?.push({ perRequest: total / run.sent, compilers: compilers / run.sent, self });
      log(
        `${column.name}, round ${round + 1}: ${(total / run.sent / 1000).toFixed(1)}k instructions/request`,
      );
    }
  }
  report(columns, measured);
}

/**
 * @param {Array<{ id: string, name: string }>} columns
 * @param {Map<string, Array<{ perRequest: number, compilers: number, self: Map<string, number> }>>} measured
 */
function report(columns, measured) {
  const median = (/** @type {number[]} */ xs) =>
    [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
  const k = (/** @type {number} */ x) => `${(x / 1000).toFixed(1)}k`;
  const rows = columns.map((c) => {
    const runs = measured.get(c.id) ?? [];
    // The round of median count stands for the column (its split and symbols).
    const per = runs.map((r) => r.perRequest);
    const mid = runs.find((r) => r.perRequest === median(per)) ?? runs[0];
    return {
      ...c,
      perRequest: median(per),
      rounds: per,
      compilers: median(runs.map((r) => r.compilers)),
      mid,
    };
  });
  const floor = rows[0];
  const reference = rows[1];
  console.log(
    `\nworkerd instructions per request (callgrind, user space, without V8's compilers; median of ${ROUNDS} rounds of ${N} requests, 2 connections, after ${WARMUP} of warm-up):\n`,
  );
  console.log(
    "| Worker | instructions/request | rounds | ratio to pass-through | above pass-through | above reference |",
  );
  console.log("|---|---:|---|---:|---:|---:|");
  for (const r of rows) {
    const above = (/** @type {typeof r} */ base) =>
      `${r.perRequest >= base.perRequest ? "+" : ""}${k(r.perRequest - base.perRequest)}`;
    console.log(
      `| ${r.name} | ${k(r.perRequest)} | ${r.rounds.map(k).join(" / ")} | ${(r.perRequest / floor.perRequest).toFixed(2)} | ${above(floor)} | ${above(reference)} |`,
    );
  }
  for (const r of rows) {
    const base = rows.find((b) => b.id === `${r.id}-base`);
    if (!base) continue;
    // Paired by round: the two ran one after the other in the same process.
    const diffs = r.rounds.map((x, i) => x - (base.rounds[i] ?? Number.NaN));
    console.log(
      `\n${r.name} − ${base.name}: ${k(r.perRequest - base.perRequest)} instructions/request (${((r.perRequest / base.perRequest - 1) * 100).toFixed(1)} %; by round ${diffs.map(k).join(" / ")})`,
    );
  }
  const routers = rows.filter((r) => !REFERENCE_IDS.includes(r.id));
  const withToken = rows.find((r) => r.id === "reference-token");
  for (const r of withToken ? routers.filter((row) => row.id.startsWith("logged-in")) : []) {
    const d = r.perRequest - (withToken?.perRequest ?? 0);
    console.log(
      `\n${r.name} − ${withToken?.name}: ${d >= 0 ? "+" : ""}${k(d)} instructions/request (the router's own cost of a logged-in request, the token's transfer set apart)`,
    );
  }
  const splits = rows.map((r) =>
    sumByCategory([...(r.mid?.self ?? [])].map(([sym, cost]) => ({ dso: "", sym, cost: cost / N }))),
  );
  console.log(`\nBy what spends them (instructions/request, the median round):\n`);
  console.log(
    `| spent in | ${rows.map((r) => r.name).join(" | ")} | ${routers.map((r) => `${r.name} − reference`).join(" | ")} |`,
  );
  console.log(`|---|${rows.map(() => "---:").join("|")}|${routers.map(() => "---:").join("|")}|`);
  for (const [name] of CATEGORIES) {
    if (name.startsWith("kernel")) continue; // callgrind sees user space only
    const cells = splits.map((s) => s.get(name) ?? 0);
    const deltas = routers.map((r) => (cells[rows.indexOf(r)] ?? 0) - (cells[1] ?? 0));
    console.log(
      `| ${name} | ${cells.map(k).join(" | ")} | ${deltas.map((d) => `${d >= 0 ? "+" : ""}${k(d)}`).join(" | ")} |`,
    );
  }
  console.log(
    `| (V8's compilers, not counted above) | ${rows.map((r) => k(r.compilers)).join(" | ")} | ${routers.map(() => "").join(" | ")} |`,
  );
  for (const router of routers) {
    const refSelf = reference.mid?.self ?? new Map();
    const grown = [...(router.mid?.self ?? new Map())]
      .map(([sym, cost]) => ({ sym, delta: (cost - (refSelf.get(sym) ?? 0)) / N }))
      .sort((a, b) => b.delta - a.delta)
      .slice(0, TOP);
    console.log(`\nGrew most from the reference proxy to ${router.name} (instructions/request, own cost):\n`);
    console.log("| + instructions | function |\n|---:|---|");
    for (const { sym, delta } of grown)
      console.log(`| ${Math.round(delta)} | ${shortName(sym).replaceAll("|", "\\|")} |`);
  }
  if (args.json) {
    const json = rows.map((r) => ({
      id: r.id,
      name: r.name,
      perRequest: r.perRequest,
      rounds: r.rounds,
      compilers: r.compilers,
    }));
    writeFileSync(args.json, `${JSON.stringify({ requests: N, warmup: WARMUP, columns: json }, null, 2)}\n`);
  }
}

main()
  .catch((error) => {
    console.error(error instanceof Error ? error.stack : error);
    process.exitCode = 1;
  })
  .finally(cleanupAll);
