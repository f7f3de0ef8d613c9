// A multi-region simulation of the router on a replicated store, all on loopback:
// one primary redis-server; per region its own lagging replica, its own Upstash-compatible
// REST endpoint (reads from the region's replica, writes to the primary after the region's
// network delay) and its own router isolate (a Miniflare worker bound to that endpoint);
// a population of simulated users whose requests jump between regions at random.
//
// A user's session is created by a CSRF token fetch (`x-csrf-token: fetch`, no login:
// an OIDC login per user would make the simulation about the identity provider), changed
// by a backend that keeps its session cookie in the router session (`/set/<n>`: a session
// write, as a token refresh is), used, and ended by a logout (`POST /logout`). Half the
// users (`tokenOnlyShare`) fetch their token on a plain request: their session holds only
// its token and lives in its cookie alone (no store command) until its first write stores
// it under the same id (the cookie becomes the plain id: "promoted", not a new session);
// such a user writes before logging out (a token-only session has nothing stored to end).
// The others fetch it on `/set/0`: the backend's cookie makes the session stored at once.
// Each answer is checked against what the user knows:
// - lost: a request with a live session not served that session (other CSRF token, or no
//   session: store unavailable);
// - spurious: a new session cookie given to a user whose session is alive;
// - stale: the backend saw an older version of the session than the user's last write
//   (read-your-writes across regions);
// - logouts: after each logout, once the bound has passed, the old cookies are tried on
//   every region; honoured when none serves the ended session.
// It also reports latency by kind of request, the router's own counters per region
// (recoveries, revalidations, …) and the store commands the endpoints received (what
// Upstash bills), per user-hour. Used by test/node/multi-region.test.ts (correctness
// asserted) and `npm run bench:regions` (numbers for the README's cost model).
import { createServer } from "node:http";
import { randomBytes } from "node:crypto";
import { dirname } from "node:path";
import { Miniflare } from "miniflare";
import { startReplicatedRedis } from "../scripts/local-redis.mjs";
import { buildRouterBundle } from "./bundles.mjs";

const STATUS_TOKEN = "region-sim-status-token-0123456789";
const COOKIE = "JSESSIONID";
const SYNC_COOKIE = `${COOKIE}_SYNC`;

/**
 * @typedef {object} Region
 * @property {string} name
 * @property {number} primaryDelayMs network delay of the region's endpoint to the primary, per call
 * @property {number} replicaLagMs how far behind the primary the region's replica applies writes
 *
 * @typedef {object} SimOptions
 * @property {Region[]} regions
 * @property {number} users
 * @property {number} durationMs how long users start new requests
 * @property {number} revalidateAfterMs EXT_SESSION_MGT.revalidateAfter
 * @property {[number, number]} thinkMs pause between a user's requests (uniform)
 * @property {number} jump probability that a request goes to another region than the previous one
 * @property {{ write: number, logout: number }} mix probabilities of a write and of a logout per request (else a use)
 * @property {boolean} probeLogouts try the old cookies on every region after each logout (adds store traffic)
 * @property {number} [seed]
 * @property {number} [tokenOnlyShare] share of users whose session starts token-only (default 0.5)
 * @property {number} [sessionTimeoutMin] idle timeout (SESSION_TIMEOUT, minutes)
 * @property {number} [measureAfterMs] commands per request and per user-hour count only from then on (steady state: sessions created, isolates visited)
 * @property {(message: string) => void} [log]
 */

/** @param {number} seed */
function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** @param {number[]} values @param {number} p */
export function percentile(values, p) {
  if (values.length === 0) return null;
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

const sleep = (/** @type {number} */ ms) => new Promise((r) => setTimeout(r, ms));

/** A backend whose session cookie the router keeps in its session; it echoes the cookies it got. */
async function startVersionedBackend() {
  const server = createServer((req, res) => {
    const set = /^\/set\/(\w+)$/.exec(req.url ?? "");
    if (set) res.setHeader("set-cookie", `BACKEND=${set[1]}; Path=/; HttpOnly`);
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ cookie: req.headers.cookie ?? null }));
  });
  server.keepAliveTimeout = 60_000;
  await new Promise((r) => server.listen(0, "127.0.0.1", () => r(undefined)));
  const address = /** @type {import("node:net").AddressInfo} */ (server.address());
  return {
    url: `http://127.0.0.1:${address.port}`,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r(undefined));
      }),
  };
}

/**
 * Runs one simulation and returns its report. Starts and stops everything it needs.
 * @param {SimOptions} options
 */
export async function simulate(options) {
  const { regions, users, durationMs, revalidateAfterMs, thinkMs, jump, mix, probeLogouts } = options;
  const log = options.log ?? (() => {});
  const rand = random(options.seed ?? 1);
  /** @type {Array<() => Promise<unknown>>} */
  const cleanups = [];
  try {
    const [store, backend, bundle] = await Promise.all([
      startReplicatedRedis({
        regions: regions.map((r) => ({
          replicas: 1,
          replicaLagMs: r.replicaLagMs,
          primaryDelayMs: r.primaryDelayMs,
        })),
      }),
      startVersionedBackend(),
      buildRouterBundle(),
    ]);
    cleanups.push(store.stop, backend.close, async () => bundle.cleanup());
    const secret = randomBytes(48).toString("base64url");
    const mf = new Miniflare({
      // The isolates' info lines (config, metrics) are not the report; drained unread.
      handleRuntimeStdio: (stdout, stderr) => {
        stdout.resume();
        stderr.resume();
      },
      workers: regions.map((region, i) => ({
        name: region.name,
        modules: true,
        scriptPath: bundle.router,
        modulesRoot: dirname(bundle.router),
        compatibilityDate: "2026-04-26",
        bindings: {
          // A generous store budget: on a loaded 2-core machine a starved process can look like
          // a store outage, which the router survives by design (no session lost, but a write may
          // stay in one isolate's memory and a logout may wait for the store): that is what the
          // resilience tests are about, not this simulation. The router's store failures are
          // reported (`router.storeFailures`) so a run that had any is recognised.
          EXT_SESSION_MGT: JSON.stringify({
            instanceName: "sessions",
            storageType: "redis",
            sessionSecret: secret,
            revalidateAfter: revalidateAfterMs,
            defaultRetryTimeout: 10_000,
          }),
          VCAP_SERVICES: JSON.stringify({
            redis: [
              {
                name: "sessions",
                label: "redis",
                credentials: { url: store.regions[i].restUrl, token: store.token },
              },
            ],
          }),
          destinations: JSON.stringify([{ name: "backend", url: backend.url }]),
          STATUS_TOKEN,
          ...(options.sessionTimeoutMin ? { SESSION_TIMEOUT: String(options.sessionTimeoutMin) } : {}),
        },
      })),
    });
    cleanups.push(() => mf.dispose());
    await mf.ready;
    const fetchers = await Promise.all(regions.map((r) => mf.getWorker(r.name)));
    // Warm every isolate (configuration, keys) so cold starts do not count as session latency.
    for (const f of fetchers)
      await (
        await f.fetch("https://router.test/_approuter/status", {
          headers: { authorization: `Bearer ${STATUS_TOKEN}` },
        })
      ).arrayBuffer();
    log(`${regions.length} regions, ${users} users, ${durationMs} ms`);

    const counts = {
      requests: 0,
      created: 0,
      createdTokenOnly: 0,
      promoted: 0,
      uses: 0,
      writes: 0,
      logouts: 0,
      lost: 0,
      spurious: 0,
      stale: 0,
      errors: 0,
      probes: 0,
      logoutsHonoured: 0,
      logoutsLate: 0,
    };
    /** @type {Record<string, number[]>} latency (ms) by kind: hit (region has served this session before), recovery (first time on this region), catchUp (first time on this region since a write elsewhere), create, write, logout, tokenOnly (a use of a session still in its cookie alone: no store read) */
    const latency = { hit: [], recovery: [], catchUp: [], tokenOnly: [], create: [], write: [], logout: [] };
    /** @type {string[]} */
    const problems = [];
    /** @type {Promise<void>[]} */
    const probes = [];

    /**
     * One request; returns the answer's pieces and takes its cookies into `jar`.
     * @param {number} region @param {Map<string, string>} jar @param {string} path @param {RequestInit & { headers?: Record<string, string> }} [init]
     */
    async function request(region, jar, path, init = {}) {
      const headers = { ...(init.headers ?? {}) };
      if (jar.size > 0) headers.cookie = [...jar].map(([n, v]) => `${n}=${v}`).join("; ");
      const started = performance.now();
      const res = /** @type {Response} */ (
        /** @type {unknown} */ (
          await fetchers[region].fetch(
            `https://router.test${path}`,
            /** @type {any} */ ({ ...init, headers, redirect: "manual" }),
          )
        )
      );
      const body = await res.text();
      const ms = performance.now() - started;
      counts.requests++;
      let newSession;
      for (const line of res.headers.getSetCookie()) {
        const pair = line.split(";")[0];
        const name = pair.slice(0, pair.indexOf("="));
        const value = pair.slice(pair.indexOf("=") + 1);
        if (value === "" || /max-age=0/i.test(line)) jar.delete(name);
        else jar.set(name, value);
        if (name === COOKIE && value !== "") newSession = value;
      }
      let version;
      try {
        version = /(?:^|;\s*)BACKEND=(\w+)/.exec(JSON.parse(body).cookie ?? "")?.[1];
      } catch {
        version = undefined;
      }
      return { status: res.status, token: res.headers.get("x-csrf-token"), newSession, version, ms };
    }

    /** After a logout: once the bound has passed, the old cookies must not be served anywhere. */
    function probeLogout(
      /** @type {Map<string, string>} */ oldJar,
      /** @type {string} */ oldToken,
      /** @type {number} */ loggedOutAt,
    ) {
      const bound = revalidateAfterMs + 50;
      probes.push(
        (async () => {
          await sleep(Math.max(0, loggedOutAt + bound - performance.now()));
          const answers = await Promise.all(
            regions.map((_, i) =>
              request(i, new Map(oldJar), "/app", { headers: { "x-csrf-token": "fetch" } }),
            ),
          );
          counts.probes += answers.length;
          const served = answers.filter(
            (a) => a.status === 200 && a.token === oldToken && a.newSession === undefined,
          );
          if (served.length === 0) counts.logoutsHonoured++;
          else {
            counts.logoutsLate++;
            problems.push(`a logout was not honoured on ${served.length} region(s) ${bound} ms after it`);
          }
        })(),
      );
    }

    const deadline = performance.now() + durationMs;
    async function user(/** @type {number} */ n) {
      /** @type {Map<string, string>} */
      let jar = new Map();
      let live = false;
      /** The session is stored (not token-only, its cookie alone). */
      let stored = false;
      let token = "";
      let version = 0;
      let region = Math.floor(rand() * regions.length);
      /** Regions that have served this session, and the version each last served. */
      let seen = new Map();
      await sleep(rand() * thinkMs[1]);
      while (performance.now() < deadline) {
        if (rand() < jump) region = Math.floor(rand() * regions.length);
        if (!live) {
          const tokenOnly = rand() < (options.tokenOnlyShare ?? 0.5);
          const a = await request(region, jar, tokenOnly ? "/app" : "/set/0", {
            headers: { "x-csrf-token": "fetch" },
          });
          latency.create.push(a.ms);
          if (a.status !== 200 || !a.newSession || !a.token) {
            counts.errors++;
            problems.push(`user ${n}: no session created (${a.status})`);
          } else {
            counts.created++;
            if (tokenOnly) counts.createdTokenOnly++;
            if (tokenOnly !== /^[A-Za-z0-9_-]{43}\.[0-9a-z]+\.[A-Za-z0-9_-]{22}$/.test(a.newSession))
              problems.push(
                `user ${n}: a ${tokenOnly ? "token-only" : "stored"} session got the cookie of the other kind`,
              );
            stored = !tokenOnly;
            live = true;
            token = a.token;
            version = 0;
            seen = tokenOnly ? new Map() : new Map([[region, 0]]);
          }
        } else {
          const r = rand();
          const kind =
            r < mix.logout ? (stored ? "logout" : "write") : r < mix.logout + mix.write ? "write" : "use";
          const first = !seen.has(region);
          const behind = !first && seen.get(region) !== version;
          const bucket =
            kind === "logout"
              ? "logout"
              : kind === "write"
                ? "write"
                : !stored
                  ? "tokenOnly"
                  : first
                    ? "recovery"
                    : behind
                      ? "catchUp"
                      : "hit";
          const before = new Map(jar);
          const a =
            kind === "logout"
              ? await request(region, jar, "/logout", { method: "POST", headers: { "x-csrf-token": token } })
              : await request(region, jar, kind === "write" ? `/set/${version + 1}` : "/app", {
                  headers: { "x-csrf-token": "fetch" },
                });
          latency[bucket].push(a.ms);
          if (a.status >= 500) {
            counts.errors++;
            problems.push(`user ${n}: ${kind} answered ${a.status}`);
          }
          if (kind === "logout") {
            counts.logouts++;
            if (a.status !== 200 || jar.has(COOKIE))
              problems.push(`user ${n}: logout did not clear the cookie (${a.status})`);
            live = false;
            jar = new Map();
            if (probeLogouts) probeLogout(before, token, performance.now());
          } else {
            kind === "write" ? counts.writes++ : counts.uses++;
            // A token-only session's first write stores it under the same id: its cookie becomes the plain id.
            const promoted =
              !stored &&
              kind === "write" &&
              a.newSession !== undefined &&
              a.newSession === before.get(COOKIE)?.split(".")[0];
            if (promoted) {
              counts.promoted++;
              // Its first stored write must travel in the sync cookie, or other regions read it from a lagging replica.
              if (!jar.has(SYNC_COOKIE))
                problems.push(
                  `user ${n}: a token-only session stored on ${regions[region].name} got no sync cookie`,
                );
            } else if (a.newSession !== undefined) {
              counts.spurious++;
              problems.push(
                `user ${n}: a new session in place of a live one on ${regions[region].name} (${bucket})`,
              );
            }
            if (a.token !== token) {
              counts.lost++;
              problems.push(
                `user ${n}: the live session was not served on ${regions[region].name} (${bucket}, status ${a.status})`,
              );
              // Go on with whatever the router gave: a new session, or none.
              if (a.newSession && a.token) token = a.token;
              else live = false;
              version = 0;
              seen = new Map([[region, 0]]);
            } else {
              const saw = Number(a.version ?? 0);
              if (saw !== version) {
                counts.stale++;
                problems.push(
                  `user ${n}: ${regions[region].name} served version ${saw}, the last write was ${version} (${bucket})`,
                );
              }
              if (kind === "write") {
                version++;
                // Only now is there a stored copy for other regions to recover.
                if (!stored) seen = new Map();
                stored = true;
              }
              if (stored) seen.set(region, version);
            }
          }
        }
        await sleep(thinkMs[0] + rand() * (thinkMs[1] - thinkMs[0]));
      }
    }

    const snapshot = () => ({
      at: performance.now(),
      requests: counts.requests - counts.probes,
      stores: store.regions.map((r) => ({ ...r.stats, byCommand: { ...r.stats.byCommand } })),
    });
    const before = snapshot().stores;
    const started = performance.now();
    /** @type {ReturnType<typeof snapshot> | undefined} */
    let steady;
    const steadyTimer = options.measureAfterMs
      ? setTimeout(() => (steady = snapshot()), options.measureAfterMs)
      : undefined;
    await Promise.all(Array.from({ length: users }, (_, i) => user(i)));
    clearTimeout(steadyTimer);
    const end = snapshot();
    const from = steady ?? { at: started, requests: 0, stores: before };
    const activeMs = end.at - from.at;
    const commandsDuringUse = end.stores.reduce((sum, r, i) => sum + r.commands - from.stores[i].commands, 0);
    /** @type {Record<string, number>} */
    const steadyByCommand = {};
    end.stores.forEach((r, i) => {
      for (const [name, n] of Object.entries(r.byCommand))
        steadyByCommand[name] = (steadyByCommand[name] ?? 0) + n - (from.stores[i].byCommand[name] ?? 0);
    });
    const measuredRequests = end.requests - from.requests;
    await Promise.all(probes);
    // After the last request: what remains (touches after responses) lands within a moment.
    await sleep(200);

    /** @type {Record<string, number>} */
    const byCommand = {};
    let commands = 0;
    store.regions.forEach((r, i) => {
      commands += r.stats.commands - before[i].commands;
      for (const [name, n] of Object.entries(r.stats.byCommand))
        byCommand[name] = (byCommand[name] ?? 0) + n - (before[i].byCommand[name] ?? 0);
    });
    const routers = await Promise.all(
      fetchers.map(async (f) => {
        const res = await f.fetch("https://router.test/_approuter/status", {
          headers: { authorization: `Bearer ${STATUS_TOKEN}` },
        });
        const body = /** @type {any} */ (await res.json());
        return {
          ...body.sessions,
          storeFailures: body.store.failures,
          storeTimeouts: body.store.timeouts,
          storeSkipped: body.store.skipped,
        };
      }),
    );
    /** @type {Record<string, number>} */
    const sessionCounters = {};
    for (const s of routers)
      for (const [k, v] of Object.entries(s)) sessionCounters[k] = (sessionCounters[k] ?? 0) + Number(v);
    const stat = (/** @type {number[]} */ xs) => ({
      n: xs.length,
      p50: round(percentile(xs, 50)),
      p99: round(percentile(xs, 99)),
    });
    const hitP50 = percentile(latency.hit, 50) ?? 0;
    const userHours = (users * activeMs) / 3_600_000;
    return {
      options: { regions, users, durationMs, revalidateAfterMs, thinkMs, jump, mix, probeLogouts },
      activeMs: Math.round(end.at - started),
      counts,
      latencyMs: Object.fromEntries(Object.entries(latency).map(([k, v]) => [k, stat(v)])),
      addedLatencyMs: {
        recovery: {
          p50: round((percentile(latency.recovery, 50) ?? 0) - hitP50),
          p99: round((percentile(latency.recovery, 99) ?? 0) - hitP50),
        },
        catchUp: {
          p50: round((percentile(latency.catchUp, 50) ?? 0) - hitP50),
          p99: round((percentile(latency.catchUp, 99) ?? 0) - hitP50),
        },
      },
      router: sessionCounters,
      store: {
        commands,
        byCommand,
        endpoints: store.regions.map((r) => ({
          primary: r.stats.primary,
          replica: r.stats.replica,
          waited: r.stats.waited,
          handedToPrimary: r.stats.handedToPrimary,
        })),
        measuredFromMs: Math.round(from.at - started),
        measuredByCommand: steadyByCommand,
        perRequest: round(commandsDuringUse / Math.max(1, measuredRequests), 3),
        perUserHour: Math.round(commandsDuringUse / userHours),
        requestsPerUserHour: Math.round(measuredRequests / userHours),
      },
      problems: problems.slice(0, 20),
    };
  } finally {
    for (const step of cleanups.reverse()) await step().catch(() => {});
  }
}

/** @param {number | null} n */
function round(n) {
  return n === null ? null : Math.round(n * 10) / 10;
}
