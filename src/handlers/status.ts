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

export function isolateMetrics(
  manager: SessionManager,
  auth: AuthServices | undefined,
  startedAt: number,
  now: number,
) {
  return {
    uptimeMs: now - startedAt,
    sessions: { ...manager.metrics },
    memory: manager.memory.stats(),
    store: manager.external ? { ...manager.external.counters, degraded: manager.external.degraded } : null,
    auth: auth ? { ...auth.metrics } : null,
  };
}

/**
 * `GET /_approuter/status` with `Authorization: Bearer <STATUS_TOKEN>`; absent when no
 * token is configured. Returns the function to call after every request: it logs the
 * same counters (event `metrics`) at most once a minute.
 */
export function installStatus(
  app: Hono<SessionEnv>,
  options: { manager: SessionManager; auth?: AuthServices; token?: string; log: Logger; now: () => number },
): () => void {
  const startedAt = options.now();
  let lastLog = startedAt;
  const afterRequest = () => {
    const now = options.now();
    if (now - lastLog >= 60_000) {
      lastLog = now;
      options.log("metrics", isolateMetrics(options.manager, options.auth, startedAt, now));
    }
  };
  const token = options.token;
  if (!token) return afterRequest;
  app.get(STATUS_PATH, (c) => {
    const given = c.req.header("authorization") ?? "";
    if (!timingSafeEqual(given, `Bearer ${token}`))
      return errorPage(401, "STATUS_TOKEN_REQUIRED", { "www-authenticate": "Bearer" });
    return c.json(isolateMetrics(options.manager, options.auth, startedAt, options.now()), 200, {
      "cache-control": "no-store",
    });
  });
  return afterRequest;
}
