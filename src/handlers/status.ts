import type { Hono } from "hono";
import type { AuthServices } from "../auth/services.js";
import type { Logger } from "../log.js";
import { timingSafeEqual } from "../security/constant-time.js";
import type { SessionManager } from "../session/manager.js";
import type { SessionEnv } from "../session/middleware.js";
import { errorPage } from "../http/pages.js";

/**
 * What an operator needs to see of one isolate: first-tier hits, recoveries,
 * revalidations, writes skipped because unchanged, store errors and timeouts, evictions,
 * logins and refreshes. Counters are per isolate and reset when it is recycled.
 */
export const STATUS_PATH = "/_approuter/status";

/** The counters of one isolate at `at` (ms since the epoch). */
export function isolateMetrics({ manager, auth, startedAt }: MetricsSource, at: number) {
  return {
    uptimeMs: at - startedAt,
    sessions: { ...manager.metrics },
    memory: manager.memory.stats(),
    store: manager.external ? { ...manager.external.counters, degraded: manager.external.degraded } : null,
    auth: auth ? { ...auth.metrics } : null,
  };
}

/** What the status endpoint and the metrics log report on. */
export interface MetricsSource {
  manager: SessionManager;
  auth?: AuthServices;
  /** When the isolate's app was built, ms since the epoch (for `uptimeMs`). */
  startedAt: number;
  now: () => number;
}

/**
 * The function to call after every request: it logs the isolate's counters (event
 * `metrics`, the status endpoint's body) at most once a minute.
 */
export function metricsLogger(options: MetricsSource & { log: Logger }): () => void {
  const { startedAt, now, log } = options;
  let lastLog = startedAt;
  return () => {
    const at = now();
    if (at - lastLog < 60_000) return;
    lastLog = at;
    log("metrics", isolateMetrics(options, at));
  };
}

/** `GET /_approuter/status` with `Authorization: Bearer <token>` (STATUS_TOKEN): the isolate's counters. */
export function installStatusEndpoint(
  app: Hono<SessionEnv>,
  options: MetricsSource & { token: string },
): void {
  const { now, token } = options;
  app.get(STATUS_PATH, (c) => {
    const given = c.req.header("authorization") ?? "";
    if (!timingSafeEqual(given, `Bearer ${token}`))
      return errorPage(401, "STATUS_TOKEN_REQUIRED", { "www-authenticate": "Bearer" });
    return c.json(isolateMetrics(options, now()), 200, { "cache-control": "no-store" });
  });
}
