#!/usr/bin/env node
// `npm run bench`: the router against its floor, side by side in one run, all on loopback.
//
//   node bench/run.mjs [--quick] [--json path] [-c connections] [-d seconds]
//
// Starts a Node backend, redis-server + the local Upstash REST endpoint and the fault
// proxy (child processes), one Miniflare (workerd) with several workers (router isolates
// with different configurations, a bare pass-through worker = the floor, a codec worker),
// drives each scenario with autocannon (same connections and duration for all), counts
// store calls from redis-server's INFO commandstats, measures sizes, codec CPU time in
// workerd and first-tier memory in Node, prints two markdown tables and writes JSON
// (default bench-results/latest.json). Compare ratios, not absolute figures: the load
// generator, workerd and the backend share the machine's cores.
import { randomBytes } from "node:crypto";
import { execFile } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { dirname, join, resolve } from "node:path";
import { gzipSync } from "node:zlib";
import { Redis as IORedis } from "ioredis";
import { Miniflare } from "miniflare";
import { freePort } from "../scripts/lib/free-port.mjs";
import { buildBundles, directSocketWorker, ROOT } from "./bundles.mjs";
import { ask, forkReady, killAllNow, stopChild, track } from "./children.mjs";
import { heapOf } from "./inspector.mjs";
import { cpuMs, pinLoadGenerator, pinWorkerd, rssBytes, workerdPid } from "./process-cpu.mjs";
import { runSlice, summarize } from "./load.mjs";
import { referenceSession } from "./reference-session.mjs";
import { loggedInBindings, routerBindings as benchRouterBindings } from "./seed.mjs";
import { costTable, evaluateTargets, loadTable, sizeTable } from "./report.mjs";
import { benchArgs, usageError } from "./cli.mjs";

const USAGE = "Usage: node bench/run.mjs [--quick] [--no-pin] [--json path] [-c connections] [-d seconds]";

// ---------------------------------------------------------------- options
const args = benchArgs(USAGE, {
  quick: { type: "boolean", default: false },
  "no-pin": { type: "boolean", default: false },
  json: { type: "string" },
  connections: { type: "string", short: "c" },
  duration: { type: "string", short: "d" },
});
const positive = (
  /** @type {string | undefined} */ text,
  /** @type {number} */ fallback,
  /** @type {string} */ flag,
) => {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) {
    usageError(USAGE, `${flag} must be a positive number`);
  }
  return n;
};
const QUICK = args.quick;
const CONNECTIONS = Math.round(positive(args.connections, 20, "-c"));
const DURATION = positive(args.duration, QUICK ? 1 : 5, "-d");
const WARMUP = QUICK ? 0.5 : 1;
/** The main scenarios are measured in this many interleaved slices of DURATION / ROUNDS each. */
const ROUNDS = QUICK ? 2 : 5;
const JSON_PATH = resolve(args.json ?? join(ROOT, "bench-results/latest.json"));
const CODEC_OPS = QUICK ? 40 : 200;
const CODEC_ROUNDS = QUICK ? 3 : 9;
const ROUTER_CPU_OPS = QUICK ? 200 : 1000;
const MEMORY_SESSIONS = QUICK ? 100_000 : 1_000_000;
const MEMORY_MAX_BYTES = 64 * 1024 * 1024;
const MEMORY_MAX_ENTRIES = 10_000;
const FIRST_TIER_POOL = 100;
const RECOVERY_POOL = 500;
const FAULT_DELAY_MS = 200;
const RETRY_TIMEOUT_MS = 1000;
const IDLE_TTL_MS = 15 * 60_000;

// ---------------------------------------------------------------- cleanup
/** @type {Array<() => Promise<unknown> | unknown>} */
const cleanups = [];
/** @type {Promise<void> | null} */
let cleaning = null;
let interrupted = false;
/**
 * Runs the registered clean-up steps, newest first, down to `keep` steps. A call while
 * another runs waits for it first (a signal and the error it causes both end up here).
 */
async function cleanupAll(keep = 0) {
  while (cleaning) await cleaning;
  cleaning = (async () => {
    while (cleanups.length > keep) {
      const step = cleanups.pop();
      try {
        await step?.();
      } catch {
        // keep stopping the rest
      }
    }
  })();
  try {
    await cleaning;
  } finally {
    cleaning = null;
  }
}
for (const signal of /** @type {const} */ (["SIGINT", "SIGTERM"])) {
  process.on(signal, () => {
    if (interrupted) return;
    interrupted = true;
    console.error(`\n${signal}: stopping everything the benchmark started…`);
    const hard = setTimeout(() => {
      killAllNow();
      process.exit(130);
    }, 15_000);
    hard.unref();
    cleanupAll().finally(() => process.exit(130));
  });
}
process.on("exit", killAllNow);

const log = (/** @type {string} */ message) => console.error(`[bench] ${message}`);
const sleep = (/** @type {number} */ ms) => new Promise((r) => setTimeout(r, ms));
const round = (/** @type {number} */ n, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

// ---------------------------------------------------------------- main
async function main() {
  const startedAt = Date.now();
  log(`${QUICK ? "quick" : "full"} run: -c ${CONNECTIONS} -d ${DURATION}s (warm-up ${WARMUP}s per scenario)`);
  // Before anything is started: the backend and the store inherit the load generator's CPUs.
  const pinned = !args["no-pin"] && pinLoadGenerator();

  // 1. bundles, backend, store side and the reference session, side by side
  const started = await Promise.allSettled([
    buildBundles(),
    forkReady(join(ROOT, "bench/backend.mjs")),
    forkReady(join(ROOT, "bench/infra.mjs")),
    referenceSession(),
  ]);
  const [bundlesP, backendP, infraP] = started;
  if (bundlesP.status === "fulfilled") cleanups.push(() => bundlesP.value.cleanup()); // first in, last out
  if (backendP.status === "fulfilled") cleanups.push(() => stopChild(backendP.value.child));
  if (infraP.status === "fulfilled") cleanups.push(() => stopChild(infraP.value.child));
  const failed = started.find((p) => p.status === "rejected");
  if (failed) throw failed.reason;
  const [bundles, backend, infra, reference] = started.map(
    (p) => /** @type {PromiseFulfilledResult<any>} */ (p).value,
  );
  const backendUrl = backend.ready.url;
  const { redisPort, restUrl, token, proxyUrl } = infra.ready;
  const setFault = (/** @type {any} */ mode) => ask(infra.child, { type: "mode", mode }, "mode-set");
  const proxyRequests = async () =>
    /** @type {any} */ (await ask(infra.child, { type: "count" }, "count")).requests;

  const redis = new IORedis({
    port: redisPort,
    host: "127.0.0.1",
    maxRetriesPerRequest: 1,
    lazyConnect: true,
  });
  redis.on("error", () => {});
  await redis.connect();
  cleanups.push(() => redis.quit().catch(() => redis.disconnect()));

  // 2. sizes: the reference session sealed with the project's codec (Node bundle)
  const lib = await import(bundles.nodeLib);
  const secret = randomBytes(54).toString("base64url"); // 72 characters
  const keyring = await lib.KeyRing.create([secret]);
  const recordJson = JSON.stringify(reference.record);
  const refId = randomBytes(32).toString("base64url");
  const sealedRef = await lib.seal(reference.record, { keyring, sessionId: refId });
  const reopened = await lib.open(sealedRef.envelope, sealedRef.storeKey, { keyring, sessionId: refId });
  if (!reopened.ok || JSON.stringify(reopened.value) !== recordJson)
    throw new Error("the codec did not round-trip the reference session in Node");
  const sapStyle = gzipSync(Buffer.from(recordJson, "utf8")).toString("base64");
  const sizes = {
    jsonBytes: Buffer.byteLength(recordJson, "utf8"),
    storedBytes: Buffer.byteLength(sealedRef.envelope, "utf8"),
    storedBytesWorkerd: /** @type {number | null} */ (null),
    sapStyleBytes: sapStyle.length,
    storedToSapRatio: 0,
    storedToJsonRatio: 0,
    storeKeyBytes: sealedRef.storeKey.length,
  };
  sizes.storedToSapRatio = sizes.storedBytes / sizes.sapStyleBytes;
  sizes.storedToJsonRatio = sizes.storedBytes / sizes.jsonBytes;

  // 3. seed sessions shaped like the reference one (own id and CSRF token each) into Redis
  const pool = async (/** @type {number} */ n) => {
    const out = [];
    const pipeline = redis.pipeline();
    for (let i = 0; i < n; i++) {
      const id = randomBytes(32).toString("base64url");
      const csrf = randomBytes(32).toString("base64url");
      const sealed = await lib.seal({ ...reference.record, csrf }, { keyring, sessionId: id });
      pipeline.set(sealed.storeKey, sealed.envelope, "PX", IDLE_TTL_MS);
      out.push({ cookie: `JSESSIONID=${id}`, csrf });
    }
    await pipeline.exec();
    return out;
  };
  const firstTierSessions = await pool(FIRST_TIER_POOL);
  const recoverySessions = await pool(RECOVERY_POOL);

  // 4. one Miniflare, several workers, each on its own loopback socket
  const storeOf = (/** @type {string} */ storeUrl) => ({
    backendUrl,
    secret,
    storeUrl,
    token,
    session: { defaultRetryTimeout: RETRY_TIMEOUT_MS },
  });
  const routerBindings = (
    /** @type {string} */ storeUrl,
    /** @type {Record<string, string>} */ extra = {},
  ) => ({ ...benchRouterBindings(storeOf(storeUrl)), ...extra });
  const worker = directSocketWorker;
  let runtimeOutput = "";
  const inspectorPort = await freePort();
  const mf = new Miniflare({
    cf: false,
    inspectorPort, // the isolates' heaps after the runs (bench/inspector.mjs)
    handleRuntimeStdio(stdout, stderr) {
      const keep = (/** @type {Buffer} */ chunk) => {
        runtimeOutput = (runtimeOutput + chunk.toString("utf8")).slice(-4000);
      };
      stdout.on("data", keep);
      stderr.on("data", keep);
    },
    workers: [
      worker("passthrough", join(ROOT, "bench/passthrough-worker.js"), { BACKEND_URL: backendUrl }),
      worker("proxy-floor", join(ROOT, "bench/proxy-floor-worker.js"), { BACKEND_URL: backendUrl }),
      worker("proxy-floor-timeout", join(ROOT, "bench/proxy-floor-worker.js"), {
        BACKEND_URL: backendUrl,
        HEAD_TIMEOUT_MS: "30000",
      }),
      worker("router", bundles.router, routerBindings(restUrl)),
      worker("router-logged-in", bundles.router, loggedInBindings(storeOf(restUrl))),
      // anonymous requests get their own isolate, so each scenario's heap is its own
      worker("router-anonymous", bundles.router, routerBindings(restUrl)),
      worker("router-recover", bundles.router, routerBindings(restUrl, { SESSION_MEMORY_MAX_ENTRIES: "1" })),
      worker("router-faulty", bundles.router, routerBindings(proxyUrl)),
      worker(
        "router-faulty-recover",
        bundles.router,
        routerBindings(proxyUrl, { SESSION_MEMORY_MAX_ENTRIES: "1" }),
      ),
      worker("codec", bundles.codecWorker, { SECRET: secret, RECORD: recordJson, SESSION_ID: refId }),
      worker("routercpu", bundles.routerCpuWorker, {}),
    ],
  });
  cleanups.push(() => mf.dispose());
  await mf.ready;
  // All workers live in this one workerd process; the scenarios run one at a time, so the
  // process's CPU during a scenario's runs is that scenario's.
  const workerd = workerdPid();
  const workerdPinned = pinned && pinWorkerd(workerd);
  log(
    workerdPinned
      ? "workerd has the last CPU to itself; load generator, backend and store share the others"
      : "workerd not pinned: it shares the CPUs with the load generator (ratios scatter more)",
  );
  const urlOf = async (/** @type {string} */ name) =>
    (await mf.unsafeGetDirectURL(name)).href.replace(/\/$/, "");
  const urls = {
    direct: backendUrl,
    passthrough: await urlOf("passthrough"),
    proxyFloor: await urlOf("proxy-floor"),
    proxyFloorTimeout: await urlOf("proxy-floor-timeout"),
    router: await urlOf("router"),
    loggedIn: await urlOf("router-logged-in"),
    anonymous: await urlOf("router-anonymous"),
    recover: await urlOf("router-recover"),
    faulty: await urlOf("router-faulty"),
    faultyRecover: await urlOf("router-faulty-recover"),
    codec: await urlOf("codec"),
    routerCpu: await urlOf("routercpu"),
  };

  // 5. sanity: every router worker serves a seeded session (its own token back, no new cookie)
  const get = async (/** @type {string} */ url, /** @type {Record<string, string>} */ headers = {}) => {
    const res = await fetch(`${url}/bench/resource?id=1`, { headers });
    await res.arrayBuffer();
    return res;
  };
  const serves = async (/** @type {string} */ url, /** @type {{ cookie: string, csrf: string }} */ s) => {
    const res = await get(url, { cookie: s.cookie, "x-csrf-token": "fetch" });
    return (
      res.status === 200 &&
      res.headers.get("x-csrf-token") === s.csrf &&
      res.headers.get("set-cookie") === null
    );
  };
  for (const [url, s] of /** @type {const} */ ([
    [urls.router, firstTierSessions[0]],
    [urls.loggedIn, firstTierSessions[0]],
    [urls.recover, recoverySessions[0]],
    [urls.faulty, firstTierSessions[0]],
    [urls.faultyRecover, recoverySessions[0]],
  ])) {
    if (!(await serves(url, s)))
      throw new Error(`a router worker did not serve a seeded session (${url})\n${runtimeOutput}`);
  }
  // The logged-in route forwards the user's token, never the router's cookie or CSRF header.
  const seenRes = await fetch(`${urls.loggedIn}/bench/seen`, {
    headers: { cookie: firstTierSessions[0].cookie, "x-csrf-token": "fetch" },
  });
  const seen = await seenRes.json();
  if (seen.authorization !== "bearer jwt" || seen.csrfHeader !== null || seen.cookie !== null)
    throw new Error(`the logged-in router did not forward as expected: ${JSON.stringify(seen)}`);
  for (const url of [
    urls.passthrough,
    urls.proxyFloor,
    urls.proxyFloorTimeout,
    urls.router,
    urls.anonymous,
  ]) {
    const res = await get(url);
    if (res.status !== 200) throw new Error(`GET ${url} answered ${res.status}\n${runtimeOutput}`);
  }

  // 6. load scenarios
  /** @typedef {{ id: string, name: string, url: string, worker?: string, sessions?: any[], fetchToken?: boolean, preload?: boolean, fault?: any }} Definition */
  /** The main scenarios, measured interleaved: the same machine noise falls on all of them. @type {Definition[]} */
  const main = [
    { id: "direct", name: "backend directly (Node → backend)", url: urls.direct },
    { id: "floor", name: "bare pass-through worker (floor)", url: urls.passthrough, worker: "passthrough" },
    // What any reverse proxy with header hygiene pays on top of the floor (no router logic).
    {
      id: "proxy-floor",
      name: "reference: pass-through + header copies",
      url: urls.proxyFloor,
      worker: "proxy-floor",
    },
    {
      id: "proxy-floor-timeout",
      name: "reference: + backend timeout (timer, abort signal)",
      url: urls.proxyFloorTimeout,
      worker: "proxy-floor-timeout",
    },
    {
      id: "anonymous",
      name: "router, anonymous, public route",
      url: urls.anonymous,
      worker: "router-anonymous",
    },
    {
      id: "recovery",
      name: "router, session recovered from the store",
      url: urls.recover,
      worker: "router-recover",
      sessions: recoverySessions,
      fetchToken: true,
    },
    {
      id: "first-tier",
      name: "router, session from the first tier",
      url: urls.router,
      worker: "router",
      sessions: firstTierSessions,
      fetchToken: true,
      preload: true,
    },
    {
      id: "logged-in",
      name: "router, logged-in user from the first tier, XSUAA route, token forwarded",
      url: urls.loggedIn,
      worker: "router-logged-in",
      sessions: firstTierSessions,
      fetchToken: true,
      preload: true,
    },
  ];
  /** Store faults, one after the other (the proxy has one mode at a time). @type {Definition[]} */
  const faults = [
    {
      id: "first-tier-slow",
      name: `router, first tier, store slow (+${FAULT_DELAY_MS} ms)`,
      url: urls.faulty,
      worker: "router-faulty",
      sessions: firstTierSessions,
      fetchToken: true,
      preload: true,
      fault: { kind: "delay", ms: FAULT_DELAY_MS },
    },
    {
      id: "recovery-slow",
      name: `router, recovery, store slow (+${FAULT_DELAY_MS} ms)`,
      url: urls.faultyRecover,
      worker: "router-faulty-recover",
      sessions: recoverySessions,
      fetchToken: true,
      fault: { kind: "delay", ms: FAULT_DELAY_MS },
    },
    {
      id: "first-tier-down",
      name: "router, first tier, store down",
      url: urls.faulty,
      worker: "router-faulty",
      sessions: firstTierSessions,
      fetchToken: true,
      preload: true,
      fault: { kind: "refuse" },
    },
    {
      id: "recovery-down",
      name: "router, recovery, store down",
      url: urls.faultyRecover,
      worker: "router-faulty-recover",
      sessions: recoverySessions,
      fetchToken: true,
      fault: { kind: "refuse" },
    },
  ];
  const loadOptions = (/** @type {Definition} */ def) => ({
    url: def.url,
    connections: CONNECTIONS,
    sessions: def.sessions,
    fetchToken: def.fetchToken,
  });
  const settleMs = (/** @type {Definition} */ def) => (def.fault ? 3 * FAULT_DELAY_MS + 200 : 200); // after-response work lands
  const preload = async (/** @type {Definition} */ def) => {
    if (!def.preload || !def.sessions) return;
    // Every session of the pool into this isolate's first tier (one recovery each, or a hit).
    for (let i = 0; i < def.sessions.length; i += 10) {
      const ok = await Promise.all(def.sessions.slice(i, i + 10).map((s) => serves(def.url, s)));
      if (ok.includes(false)) throw new Error(`preloading sessions into ${def.id} failed\n${runtimeOutput}`);
    }
  };
  /** Per scenario: its measured slices, the store commands and workerd CPU counted during them, its isolate's heap after them. */
  const measured = new Map(
    /** @type {Array<[string, { slices: any[], commands: Record<string, number>, proxy: number, cpuMs: number, heap: any }]>} */ (
      [...main, ...faults].map((d) => [d.id, { slices: [], commands: {}, proxy: 0, cpuMs: 0, heap: null }])
    ),
  );
  const heapAfter = async (/** @type {Definition} */ def) => {
    if (!def.worker) return;
    const m = measured.get(def.id);
    m.heap = await heapOf(inspectorPort, def.worker, () => get(def.url));
  };
  const measureSlice = async (/** @type {Definition} */ def, /** @type {number} */ seconds) => {
    const m = measured.get(def.id);
    const before = await commandCounts(redis);
    const proxyBefore = def.fault ? await proxyRequests() : 0;
    const cpuBefore = cpuMs(workerd);
    m.slices.push(await runSlice({ ...loadOptions(def), duration: seconds }));
    await sleep(settleMs(def));
    m.cpuMs += cpuMs(workerd) - cpuBefore; // after-response work included
    const after = await commandCounts(redis);
    if (def.fault) m.proxy += (await proxyRequests()) - proxyBefore;
    for (const name of new Set([...Object.keys(before), ...Object.keys(after)])) {
      const delta = (after[name] ?? 0) - (before[name] ?? 0);
      if (delta > 0) m.commands[name] = (m.commands[name] ?? 0) + delta;
    }
  };

  log(`warm-up ${main.map((d) => d.id).join(", ")}`);
  for (const def of main) {
    await preload(def);
    await runSlice({ ...loadOptions(def), duration: WARMUP });
    await sleep(settleMs(def));
  }
  const slice = DURATION / ROUNDS;
  for (let round = 0; round < ROUNDS; round++) {
    // Rotate the order each round, so no scenario always follows the same one.
    const order = main.map((_, i) => main[(i + round) % main.length]);
    log(`round ${round + 1}/${ROUNDS}: ${order.map((d) => d.id).join(", ")} (${slice} s each)`);
    for (const def of order) await measureSlice(def, slice);
  }
  for (const def of main) await heapAfter(def);
  for (const def of faults) {
    log(`scenario ${def.id}`);
    await setFault({ kind: "pass" });
    await preload(def);
    await setFault(def.fault);
    await runSlice({ ...loadOptions(def), duration: WARMUP });
    await sleep(settleMs(def));
    await measureSlice(def, DURATION);
    await heapAfter(def);
    await setFault({ kind: "pass" });
  }

  const floorRun = measured.get("floor");
  const floorLoad = summarize(floorRun.slices, { url: urls.passthrough, connections: CONNECTIONS });
  const floorCpuPerRequest = floorLoad.sent > 0 ? floorRun.cpuMs / floorLoad.sent : 0;
  const all = [...main, ...faults].map((def) => {
    const m = measured.get(def.id);
    const load = summarize(m.slices, { url: def.url, connections: CONNECTIONS });
    const byCommand = m.commands;
    const total = Object.values(byCommand).reduce((a, b) => a + b, 0);
    // Requests cut off in flight at the end of a run were still handled by the router (their
    // store calls are in the deltas): per-request store figures divide by requests sent.
    const per = (/** @type {number} */ n) => (load.sent > 0 ? n / load.sent : 0);
    // Interleaved scenarios also get the ratio of each round (same slot of machine noise).
    const roundRatios = main.includes(def)
      ? load.sliceReqPerSec.map((r, i) =>
          floorLoad.sliceReqPerSec[i] > 0 ? r / floorLoad.sliceReqPerSec[i] : 0,
        )
      : null;
    return {
      id: def.id,
      name: def.name,
      interleaved: main.includes(def),
      connections: CONNECTIONS,
      seconds: load.seconds,
      requests: load.requests,
      sent: load.sent,
      reqPerSec: load.reqPerSec,
      sliceReqPerSec: load.sliceReqPerSec,
      ratioToFloor: floorLoad.reqPerSec > 0 ? load.reqPerSec / floorLoad.reqPerSec : 0,
      roundRatios,
      // workerd process CPU (utime + stime from /proc) during the runs ÷ requests sent; the
      // direct scenario does not go through workerd.
      workerdCpuMsPerRequest: def.worker ? per(m.cpuMs) : null,
      workerdCpuMsAboveFloor: def.worker ? per(m.cpuMs) - floorCpuPerRequest : null,
      heap: m.heap,
      latencyMs: load.latency,
      non2xx: load.non2xx,
      errors: load.errors,
      timeouts: load.timeouts,
      sessions: def.sessions
        ? { pool: def.sessions.length, newCookies: load.newCookies, notServed: load.wrongSession }
        : null,
      store: {
        calls: total,
        callsPerRequest: per(total),
        byCommand,
        /** Reads before the response: GET, or GETEX (a read that also slides the TTL). */
        getPerRequest: per((byCommand.get ?? 0) + (byCommand.getex ?? 0)),
        pexpirePerRequest: per(byCommand.pexpire ?? 0),
        /** Anything else than the reads (before the response) and PEXPIRE (after it). */
        otherPerRequest: per(
          total - (byCommand.get ?? 0) - (byCommand.getex ?? 0) - (byCommand.pexpire ?? 0),
        ),
        restRequestsPerRequest: def.fault ? per(m.proxy) : null,
      },
    };
  });
  // Show the main scenarios in reading order: direct, floor, references, anonymous, first tier, recovery.
  const ORDER = [
    "direct",
    "floor",
    "proxy-floor",
    "proxy-floor-timeout",
    "anonymous",
    "first-tier",
    "logged-in",
    "recovery",
  ];
  const scenarios = [
    ...ORDER.map((id) => all.find((s) => s.id === id)),
    ...all.filter((s) => !ORDER.includes(s.id)),
  ];
  const floorReqPerSec = floorLoad.reqPerSec;
  const floorSpread =
    floorReqPerSec > 0
      ? (Math.max(...floorLoad.sliceReqPerSec) - Math.min(...floorLoad.sliceReqPerSec)) / floorReqPerSec
      : 0;

  // 7. codec CPU time in workerd, measured from outside: (t(n=N) − t(n=0)) / N, median of rounds
  log("codec CPU in workerd");
  const timed = async (/** @type {string} */ path) => {
    const t = performance.now();
    const res = await fetch(urls.codec + path);
    const body = await res.text();
    const ms = performance.now() - t;
    if (res.status !== 200) throw new Error(`codec worker ${path}: ${res.status} ${body}\n${runtimeOutput}`);
    return ms;
  };
  for (let i = 0; i < 3; i++) {
    await timed(`/seal?n=${CODEC_OPS}`); // warm-up (JIT, key derivation caches)
    await timed(`/open?n=${CODEC_OPS}`);
  }
  const sizeRes = await fetch(`${urls.codec}/size`);
  sizes.storedBytesWorkerd = /** @type {any} */ (await sizeRes.json()).envelopeLength;
  const perOp = async (/** @type {"seal" | "open"} */ op) => {
    const rounds = [];
    for (let r = 0; r < CODEC_ROUNDS; r++) {
      const base1 = await timed(`/${op}?n=0`);
      const full = await timed(`/${op}?n=${CODEC_OPS}`);
      const base2 = await timed(`/${op}?n=0`);
      rounds.push(Math.max(0, full - (base1 + base2) / 2) / CODEC_OPS);
    }
    return { msPerOp: median(rounds), rounds, ops: CODEC_OPS };
  };
  const codecCpu = { seal: await perOp("seal"), open: await perOp("open") };

  // 7b. the router's own CPU per request in workerd (in-memory backend), same method
  log("router CPU per request in workerd");
  const cpuTimed = async (/** @type {string} */ path) => {
    const t = performance.now();
    const res = await fetch(urls.routerCpu + path);
    await res.text();
    if (res.status !== 200) throw new Error(`router-cpu worker ${path}: ${res.status}\n${runtimeOutput}`);
    return performance.now() - t;
  };
  const perRequest = async (/** @type {string} */ step) => {
    await cpuTimed(`/${step}?n=${ROUTER_CPU_OPS}`); // warm-up
    const rounds = [];
    for (let r = 0; r < CODEC_ROUNDS; r++) {
      const base1 = await cpuTimed(`/${step}?n=0`);
      const full = await cpuTimed(`/${step}?n=${ROUTER_CPU_OPS}`);
      const base2 = await cpuTimed(`/${step}?n=0`);
      rounds.push(Math.max(0, full - (base1 + base2) / 2) / ROUTER_CPU_OPS);
    }
    return { msPerRequest: median(rounds), rounds, requests: ROUTER_CPU_OPS };
  };
  /** @type {Record<string, { msPerRequest: number, rounds: number[], requests: number }>} */
  const routerCpu = {};
  for (const step of ["bare", "forward", "anonymous", "first-tier", "protected"])
    routerCpu[step] = await perRequest(step);

  const workerdRss = rssBytes(workerd);

  // stop the servers before the memory measurement (it wants the CPU); keep the bundles
  await cleanupAll(1);

  // 8. first-tier memory in a Node child with --expose-gc
  log(`first-tier memory: ${MEMORY_SESSIONS.toLocaleString("en-US")} sessions through MemoryTier`);
  const memory = await memoryChild({
    nodeLib: bundles.nodeLib,
    recordJson,
    sessions: MEMORY_SESSIONS,
    maxBytes: MEMORY_MAX_BYTES,
    maxEntries: MEMORY_MAX_ENTRIES,
  });
  await cleanupAll();

  // 9. report
  const targets = evaluateTargets({ scenarios, sizes, codecCpu, memory });
  const results = {
    meta: {
      date: new Date(startedAt).toISOString(),
      quick: QUICK,
      connections: CONNECTIONS,
      durationSec: DURATION,
      warmupSec: WARMUP,
      node: process.version,
      cpus: cpus().length,
      loadavg: loadavg().map((n) => round(n)),
      totalSeconds: round((Date.now() - startedAt) / 1000, 1),
      notes: [
        "Ratios matter, absolute figures do not: workerd, the backend, the store and the load generator share the machine's cores.",
        "direct, floor, anonymous, first-tier and recovery run interleaved (rounds of DURATION/ROUNDS seconds, order rotated each round); roundRatios are per-round ratios to the floor.",
        "The store-fault scenarios run one after the other, each after a warm-up under the fault.",
        "Latencies come from autocannon's histogram: 1 ms resolution.",
        "Sessions are seeded into Redis with the project's codec, shaped like the reference session (three RS256 tokens).",
        "Store calls are redis-server commands (INFO commandstats) during the measured run; a session read is one GET per configured secret in one REST pipeline.",
        "workerd CPU/request is the workerd process's utime + stime (/proc/<pid>/stat, 10 ms ticks) during a scenario's runs and the settling pause after each, ÷ requests sent; every worker shares that one process and the scenarios run one at a time.",
        "Heap is the scenario's isolate's JavaScript heap (inspector Runtime.getHeapUsage) right after its runs, then after a full GC (HeapProfiler.collectGarbage).",
        "Codec CPU is wall time measured from Node around N operations in one request, minus an empty request: an upper bound of CPU time.",
      ],
    },
    floor: {
      reqPerSec: floorReqPerSec,
      rounds: floorLoad.sliceReqPerSec,
      spread: floorSpread,
      workerdCpuMsPerRequest: floorCpuPerRequest,
      heap: floorRun.heap,
    },
    workerd: { pid: workerd, rssBytes: workerdRss, pinned: workerdPinned },
    scenarios,
    sizes,
    codecCpu,
    routerCpu,
    memory,
    targets,
  };
  mkdirSync(dirname(JSON_PATH), { recursive: true });
  writeFileSync(JSON_PATH, `${JSON.stringify(results, null, 2)}\n`);

  console.log(loadTable(results));
  console.log("");
  console.log(costTable(results));
  console.log("");
  console.log(sizeTable(results));
  console.log("");
  console.log(`JSON: ${JSON_PATH} (${results.meta.totalSeconds} s)`);
}

/** @param {number[]} values */
function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Commands redis-server executed, by name, `info` excluded. @param {IORedis} client */
async function commandCounts(client) {
  const info = await client.info("commandstats");
  /** @type {Record<string, number>} */
  const counts = {};
  for (const match of info.matchAll(/^cmdstat_([a-z|_-]+):calls=(\d+)/gm)) {
    if (match[1] !== "info") counts[match[1]] = Number(match[2]);
  }
  return counts;
}

/** @param {Record<string, unknown>} options */
function memoryChild(options) {
  return new Promise((resolvePromise, reject) => {
    const child = execFile(
      process.execPath,
      ["--expose-gc", join(ROOT, "bench/memory-child.mjs"), JSON.stringify(options)],
      { maxBuffer: 1024 * 1024, timeout: 170_000 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`memory measurement failed: ${error.message}\n${stderr}`));
        else resolvePromise(JSON.parse(stdout));
      },
    );
    track(child);
    cleanups.push(() => stopChild(child));
  });
}

main().then(
  () => process.exit(0),
  async (error) => {
    if (!interrupted) console.error(`[bench] failed: ${error instanceof Error ? error.stack : error}`);
    await cleanupAll();
    process.exit(interrupted ? 130 : 1);
  },
);
