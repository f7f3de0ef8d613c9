// Targets and the two markdown tables of the benchmark. A target is judged on the
// measured value as it is: never rounded or adjusted towards passing.

const MiB = 1024 * 1024;

/**
 * @typedef {{ id: string, measure: string, target: string, value: string, met: boolean }} Target
 * @param {any} results
 * @returns {Target[]}
 */
export function evaluateTargets({ scenarios, sizes, codecCpu, memory }) {
  const byId = Object.fromEntries(scenarios.map((/** @type {any} */ s) => [s.id, s]));
  /** @type {Target[]} */
  const targets = [];
  const ft = byId["first-tier"];
  if (ft) {
    targets.push({
      id: "first-tier-vs-floor",
      measure: "first tier: req/s vs floor",
      target: "≥ 90 % of floor",
      value:
        pct(ft.ratioToFloor) +
        (ft.roundRatios?.length > 1
          ? `, rounds ${ft.roundRatios.map((/** @type {number} */ r) => pct(r)).join(" / ")}`
          : ""),
      met: ft.ratioToFloor >= 0.9,
    });
  }
  const li = byId["logged-in"];
  // Served from the first tier: no store call, logged in or not.
  for (const s of [ft, li]) {
    if (!s) continue;
    targets.push({
      id: `${s.id}-store-calls`,
      measure: `${s.id}: store calls/request`,
      target: "0",
      value: String(s.store.calls === 0 ? 0 : fixed(s.store.callsPerRequest, 3)),
      met: s.store.calls === 0,
    });
  }
  // Issue 11: a request from the first tier (the logged-in one too), and an anonymous one, close to the floor.
  for (const s of [ft, li, byId.anonymous]) {
    if (!s) continue;
    if (s.id !== "first-tier") {
      targets.push({
        id: `${s.id}-vs-floor`,
        measure: `${s.id}: req/s vs floor`,
        target: "≥ 90 % of floor",
        value: pct(s.ratioToFloor),
        met: s.ratioToFloor >= 0.9,
      });
    }
    if (typeof s.workerdCpuMsAboveFloor === "number") {
      targets.push({
        id: `${s.id}-cpu-above-floor`,
        measure: `${s.id}: workerd CPU/request above the floor's`,
        target: "≤ 0.1 ms",
        value: `${fixed(s.workerdCpuMsAboveFloor, 3)} ms`,
        met: s.workerdCpuMsAboveFloor <= 0.1,
      });
    }
  }
  const rec = byId.recovery;
  if (rec) {
    const get = rec.store.getPerRequest;
    targets.push({
      id: "recovery-one-round-trip",
      measure: "recovery: store round trips before the response (GET and PEXPIRE in parallel)",
      target: "exactly 1",
      value: `GET/GETEX ${fixed(get, 3)}/req, other ${fixed(rec.store.otherPerRequest, 3)}/req, not served ${rec.sessions?.notServed ?? "?"}`,
      // In-flight requests cut off at the end of the run add up to connections/requests.
      met: Math.abs(get - 1) <= 0.02 && rec.store.otherPerRequest === 0 && rec.sessions?.notServed === 0,
    });
  }
  targets.push({
    id: "stored-vs-sap",
    measure: "stored size vs SAP-style base64(gzip(JSON))",
    target: "≤ SAP-style",
    value: `${sizes.storedBytes} B vs ${sizes.sapStyleBytes} B`,
    met: sizes.storedBytes <= sizes.sapStyleBytes,
  });
  for (const op of /** @type {const} */ (["seal", "open"])) {
    targets.push({
      id: `${op}-cpu`,
      measure: `${op} CPU in workerd`,
      target: "< 1 ms",
      value: `${fixed(codecCpu[op].msPerOp, 3)} ms`,
      met: codecCpu[op].msPerOp < 1,
    });
  }
  targets.push({
    id: "memory-accounted-under-cap",
    measure: "first tier: accounted bytes after churn",
    target: `≤ cap (${mib(memory.maxBytes)})`,
    value: mib(memory.churn.accountedBytes),
    met: memory.churn.accountedBytes <= memory.maxBytes,
  });
  targets.push({
    id: "memory-real-under-cap",
    measure: "first tier: real heap growth when full",
    target: `≤ cap (${mib(memory.maxBytes)})`,
    value: mib(memory.fill.heapGrowthBytes),
    met: memory.fill.heapGrowthBytes <= memory.maxBytes,
  });
  return targets;
}

/** @param {any} results */
export function loadTable({ scenarios, targets, floor }) {
  const t = Object.fromEntries(targets.map((/** @type {Target} */ x) => [x.id, x]));
  const rows = [
    "| scenario | req/s | ratio to floor | p50 ms | p99 ms | non-2xx | store calls/req | target |",
    "|---|---:|---:|---:|---:|---:|---|---|",
  ];
  const notes = [];
  for (const s of scenarios) {
    let store = fixed(s.store.callsPerRequest, 2);
    if (s.sessions && s.store.calls > 0) {
      store += ` (GET/GETEX ${fixed(s.store.getPerRequest, 2)} + PEXPIRE ${fixed(s.store.pexpirePerRequest, 2)}, in parallel or after the response`;
      if (s.store.otherPerRequest > 0) store += ` + other ${fixed(s.store.otherPerRequest, 2)}`;
      store += ")";
    }
    if (s.store.restRequestsPerRequest !== null && s.store.restRequestsPerRequest !== undefined) {
      store += `; REST calls via proxy ${fixed(s.store.restRequestsPerRequest, 2)}/req`;
    }
    let target = "";
    if (s.id === "floor")
      target = `(the floor; its ${s.sliceReqPerSec.length} slices spread over ${pct(floor.spread)} of its mean)`;
    if (s.id === "first-tier")
      target = `${mark(t["first-tier-vs-floor"])}; 0 store calls: ${mark(t["first-tier-store-calls"])}`;
    if (s.id === "logged-in") target = `0 store calls: ${mark(t["logged-in-store-calls"])}`;
    if (s.id === "recovery")
      target = `exactly 1 round trip before the response: ${mark(t["recovery-one-round-trip"])}`;
    rows.push(
      `| ${s.name} | ${Math.round(s.reqPerSec)} | ${ratioCell(s)} | ${fixed(s.latencyMs.p50, 1)} | ${fixed(s.latencyMs.p99, 1)} | ${s.non2xx} | ${store} | ${target} |`,
    );
    const problems = [];
    if (s.errors > 0) problems.push(`${s.errors} connection errors`);
    if (s.timeouts > 0) problems.push(`${s.timeouts} timeouts`);
    if (s.sessions && s.sessions.notServed > 0) {
      problems.push(
        `${s.sessions.notServed} of ${s.requests} responses did not serve the request's session (its CSRF token)`,
      );
    }
    if (s.sessions && s.sessions.newCookies > 0)
      problems.push(`${s.sessions.newCookies} responses set a new session cookie`);
    if (problems.length > 0) notes.push(`- ${s.name}: ${problems.join("; ")}`);
  }
  const first = scenarios[0];
  const rounds = first?.sliceReqPerSec?.length ?? 1;
  const header =
    `Load: autocannon -c ${first?.connections ?? "?"}, ${first ? fixed(first.seconds, 1) : "?"} s per scenario after a warm-up. ` +
    `The first ${scenarios.filter((/** @type {any} */ s) => s.interleaved).length} scenarios ran interleaved in ${rounds} rounds (same machine noise for all); ` +
    "ratio = req/s ÷ floor req/s, with the range of the per-round ratios in brackets; the store-fault scenarios ran one after the other. " +
    "Latency resolution 1 ms. Store calls/req: redis-server commands during the runs ÷ requests sent.";
  return [header, "", ...rows, ...(notes.length > 0 ? ["", ...notes] : [])].join("\n");
}

/**
 * What a request costs workerd, as an operator sees it: throughput against the floor, the
 * workerd process's CPU per request (from /proc) and the isolate's JavaScript heap, each
 * next to the floor's.
 * @param {any} results
 */
export function costTable({ scenarios, targets, floor, workerd }) {
  const t = Object.fromEntries(targets.map((/** @type {Target} */ x) => [x.id, x]));
  const floorHeap = floor.heap ? heapCell(floor.heap) : "?";
  const rows = [
    "| scenario | ratio to floor | workerd CPU ms/req | above floor ms/req | heap MiB after run (live after GC) | floor heap MiB | target |",
    "|---|---:|---:|---:|---:|---:|---|",
  ];
  for (const s of scenarios) {
    if (typeof s.workerdCpuMsPerRequest !== "number") continue; // not served by workerd
    const above = s.id === "floor" ? "" : fixed(s.workerdCpuMsAboveFloor, 3);
    const goals = [t[`${s.id}-vs-floor`], t[`${s.id}-cpu-above-floor`]].filter(Boolean);
    rows.push(
      `| ${s.name} | ${ratioCell(s)} | ${fixed(s.workerdCpuMsPerRequest, 3)} | ${above} | ${s.heap ? heapCell(s.heap) : "?"} | ${floorHeap} | ${goals.map((g) => `${g.target}: ${mark(g)}`).join("; ")} |`,
    );
  }
  return [
    "Cost in workerd: CPU = the workerd process's utime + stime (/proc) during the scenario's runs ÷ requests sent; heap = the scenario's isolate (inspector) right after its runs, live after a full GC in brackets. " +
      (workerd?.pinned
        ? "workerd had a CPU to itself (taskset); the load generator, backend and store shared the others."
        : "workerd was not pinned: it shared the CPUs with the load generator."),
    "",
    ...rows,
  ].join("\n");
}

/** @param {{ usedBytes: number, liveBytes: number }} heap */
function heapCell(heap) {
  return `${fixed(heap.usedBytes / MiB, 1)} (${fixed(heap.liveBytes / MiB, 1)})`;
}

/** @param {any} results */
export function sizeTable({ sizes, codecCpu, routerCpu, memory, targets }) {
  const t = Object.fromEntries(targets.map((/** @type {Target} */ x) => [x.id, x]));
  const m = memory;
  const rows = [
    "| measure | value | target |",
    "|---|---|---|",
    `| reference session JSON (3 RS256 tokens, 10 scopes) | ${sizes.jsonBytes} B | |`,
    `| stored (e2 envelope: JWTs packed, deflate-raw, AES-256-GCM, base64url) | ${sizes.storedBytes} B (${pct(sizes.storedToJsonRatio)} of JSON; sealed in workerd: ${sizes.storedBytesWorkerd ?? "?"} B) | ≤ SAP-style: ${mark(t["stored-vs-sap"])} |`,
    `| SAP-style base64(gzip(JSON)) | ${sizes.sapStyleBytes} B | |`,
    `| stored ÷ SAP-style | ${fixed(sizes.storedToSapRatio, 3)} | ≤ 1: ${mark(t["stored-vs-sap"])} |`,
    `| seal CPU in workerd (median of ${codecCpu.seal.rounds.length} rounds × ${codecCpu.seal.ops}) | ${fixed(codecCpu.seal.msPerOp, 3)} ms | < 1 ms: ${mark(t["seal-cpu"])} |`,
    `| open CPU in workerd (median of ${codecCpu.open.rounds.length} rounds × ${codecCpu.open.ops}) | ${fixed(codecCpu.open.msPerOp, 3)} ms | < 1 ms: ${mark(t["open-cpu"])} |`,
    ...(routerCpu
      ? [
          `| router CPU per request in workerd, in-memory backend (median of ${routerCpu.bare.rounds.length} rounds × ${routerCpu.bare.requests}): Request + backend / forward() / router anonymous / router first tier / first tier, protected route, POST with token | ${["bare", "forward", "anonymous", "first-tier", "protected"].map((k) => `${fixed(routerCpu[k].msPerRequest * 1000, 1)} µs`).join(" / ")} | where the gap to the floor comes from |`,
        ]
      : []),
    `| first tier after ${m.sessions.toLocaleString("en-US")} sessions (caps ${m.maxEntries} entries, ${mib(m.maxBytes)}) | ${m.churn.entries} entries kept, ${m.churn.evictions.toLocaleString("en-US")} evictions | |`,
    `| first tier accounted bytes vs cap | ${mib(m.churn.accountedBytes)} of ${mib(m.maxBytes)} | ≤ cap: ${mark(t["memory-accounted-under-cap"])} |`,
    `| first tier bytes/entry: real heap vs accounted | ${Math.round(m.fill.heapBytesPerEntry)} B vs ${Math.round(m.fill.accountedBytesPerEntry)} B (real ÷ accounted ${fixed(m.fill.heapBytesPerEntry / m.fill.accountedBytesPerEntry, 2)}) | |`,
    `| first tier real heap growth when full vs cap | ${mib(m.fill.heapGrowthBytes)} of ${mib(m.maxBytes)} (after churn: ${mib(m.churn.heapGrowthBytes)}) | ≤ cap: ${mark(t["memory-real-under-cap"])} |`,
  ];
  if (m.small) {
    rows.push(
      `| small session (CSRF token only): real heap vs accounted per entry | ${Math.round(m.small.heapBytesPerEntry)} B vs ${Math.round(m.small.accountedBytesPerEntry)} B (real ÷ accounted ${fixed(m.small.heapBytesPerEntry / m.small.accountedBytesPerEntry, 2)}) | |`,
    );
  }
  return ["Sizes, codec CPU, first-tier memory:", "", ...rows].join("\n");
}

/** @param {any} s */
function ratioCell(s) {
  const cell = fixed(s.ratioToFloor, 2);
  if (!s.roundRatios || s.roundRatios.length < 2 || s.id === "floor") return cell;
  return `${cell} (${fixed(Math.min(...s.roundRatios), 2)}–${fixed(Math.max(...s.roundRatios), 2)})`;
}

/** @param {Target | undefined} target */
function mark(target) {
  if (!target) return "n/a";
  return `${target.met ? "met" : "**NOT met**"} (${target.value})`;
}

/** @param {number} n @param {number} digits */
function fixed(n, digits) {
  return Number.isFinite(n) ? n.toFixed(digits) : String(n);
}

/** @param {number} ratio */
function pct(ratio) {
  return `${(ratio * 100).toFixed(1)} %`;
}

/** @param {number} bytes */
function mib(bytes) {
  return `${(bytes / MiB).toFixed(1)} MiB`;
}
