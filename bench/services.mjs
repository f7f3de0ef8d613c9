// What the process-level benchmarks (process-profile.mjs, instructions.mjs) start before
// they measure: the bundles, the backend, redis-server behind the REST endpoint, and 100
// sessions seeded into it.
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { Redis as IORedis } from "ioredis";
import { startLocalRedis } from "../scripts/local-redis.mjs";
import { buildBundles, ROOT } from "./bundles.mjs";
import { forkReady, stopChild } from "./children.mjs";
import { referenceSession } from "./reference-session.mjs";
import { seedSessions } from "./seed.mjs";

/** The router scenarios these benchmarks measure (--scenario; "all": every one). */
export const ROUTER_SCENARIOS = ["anonymous", "first-tier", "logged-in"];

/** The scenarios a --scenario value names, or null when it names none. */
export function chosenScenarios(/** @type {string} */ value) {
  if (value === "all") return ROUTER_SCENARIOS;
  return ROUTER_SCENARIOS.includes(value) ? [value] : null;
}

/**
 * Starts them; each one's stop goes onto `cleanups` as soon as it runs.
 * @param {Array<() => Promise<unknown> | unknown>} cleanups
 */
export async function startBenchServices(cleanups) {
  const [bundles, session, redis, backend] = await Promise.all([
    buildBundles(),
    referenceSession(),
    startLocalRedis(),
    forkReady(join(ROOT, "bench/backend.mjs")),
  ]);
  cleanups.push(
    () => bundles.cleanup(),
    () => redis.stop(),
    () => stopChild(backend.child),
  );
  const lib = await import(bundles.nodeLib);
  const secret = randomBytes(54).toString("base64url");
  const keyring = await lib.KeyRing.create([secret]);
  const direct = new IORedis({ port: redis.redisPort, host: "127.0.0.1", maxRetriesPerRequest: 1 });
  cleanups.push(() => direct.disconnect());
  const sessions = await seedSessions({ lib, keyring, redis: direct, record: session.record, count: 100 });
  const accessToken = /** @type {string} */ (session.record.data.auth.accessToken);
  return { bundles, backendUrl: backend.ready.url, redis, secret, sessions, accessToken };
}
