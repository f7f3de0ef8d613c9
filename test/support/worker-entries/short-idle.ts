import bundledXsApp from "../../../xs-app.json";
import type { Env } from "../../../src/env.js";
import { createRouterWith, type RouterHandler } from "../../../src/router.js";

/**
 * The repository's Worker (src/index.ts) with the idle timeout given in milliseconds by the
 * test binding `TEST_IDLE_TIMEOUT_MS`: SESSION_TIMEOUT counts whole minutes, and an
 * idle-timeout test should not wait one. Bundled by `bundleWorker(undefined, SHORT_IDLE_ENTRY)`.
 */
const routers = new Map<number, RouterHandler>();

export default {
  fetch(request, env, ctx) {
    const idleTimeoutMs = Number((env as Env & { TEST_IDLE_TIMEOUT_MS?: string }).TEST_IDLE_TIMEOUT_MS);
    if (!Number.isSafeInteger(idleTimeoutMs) || idleTimeoutMs <= 0)
      throw new Error("TEST_IDLE_TIMEOUT_MS must be a positive number of milliseconds");
    let router = routers.get(idleTimeoutMs);
    if (!router)
      routers.set(idleTimeoutMs, (router = createRouterWith({ xsApp: bundledXsApp }, { idleTimeoutMs })));
    return router.fetch(request, env, ctx);
  },
} satisfies ExportedHandler<Env>;
