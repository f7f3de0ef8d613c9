/**
 * `createRouter`: the router as a Worker handler, extended with Hono middleware at the
 * points where SAP's `approuter.js` takes extensions (`first`, `beforeRequestHandler`,
 * `afterRequestHandler`, `beforeErrorHandler`; see src/handlers/hooks.ts for where each runs).
 *
 *   import { createRouter } from "approuter-edge";
 *   import xsApp from "./xs-app.json";
 *   export default createRouter({
 *     xsApp,
 *     first: [async (c, next) => (c.req.path === "/healthz" ? c.text("ok") : next())],
 *     beforeRequestHandler: [async (c, next) => { await next(); c.res.headers.set("x-ext", "1"); }],
 *   });
 *
 * Without hooks it is the configuration-only router of src/index.ts: configuration is
 * read and validated once per isolate, on the first request; invalid configuration
 * answers every request with a 503 page (the problems go to the log; in local development
 * they are on the page too).
 */
import { Hono } from "hono";
import type { Env } from "./env.js";
import type { RouterHooks } from "./handlers/hooks.js";
import { configurationInvalidPage } from "./http/pages.js";
import { buildIsolate, type IsolateDeps, type IsolateState } from "./isolate.js";
import { consoleLogger, errorFields, type Logger } from "./log.js";
import type { CustomStoreModule } from "./stores/custom.js";
import * as noCustomStore from "./stores/no-custom-store.js";

export type { RouterError, RouterHooks } from "./handlers/hooks.js";

export interface RouterOptions extends RouterHooks {
  /**
   * The parsed xs-app.json (`import xsApp from "./xs-app.json"`); the `XS_APP` variable
   * replaces it at run time.
   */
  xsApp: unknown;
  /** A custom session store driver (`EXT_SESSION_MGT.externalStoreFilePath`): the module, imported. */
  customStore?: CustomStoreModule & { isPlaceholder?: boolean };
  /** Where the router's log lines go (default: JSON lines on the console). */
  log?: Logger;
}

export type RouterHandler = ExportedHandler<Env> & { fetch: NonNullable<ExportedHandler<Env>["fetch"]> };

export function createRouter(options: RouterOptions): RouterHandler {
  return createRouterWith(options, {});
}

/**
 * What tests may set on every isolate that configuration cannot; not part of the package's
 * API (src/worker.ts).
 */
export type TestIsolateOverrides = Pick<IsolateDeps, "idleTimeoutMs">;

/** `createRouter` with test-only isolate settings (test/support/worker-entries/). */
export function createRouterWith(options: RouterOptions, overrides: TestIsolateOverrides): RouterHandler {
  /** Per environment: the isolate being built, then (so that requests need not await it) built. */
  const isolates = new WeakMap<object, IsolateState | Promise<IsolateState>>();
  const log = options.log ?? consoleLogger;
  const hooks: RouterHooks = {
    ...(options.beforeRequestHandler && { beforeRequestHandler: options.beforeRequestHandler }),
    ...(options.afterRequestHandler && { afterRequestHandler: options.afterRequestHandler }),
    ...(options.beforeErrorHandler && { beforeErrorHandler: options.beforeErrorHandler }),
  };

  function isolateFor(env: Env): IsolateState | Promise<IsolateState> {
    let state = isolates.get(env);
    if (!state) {
      const building = buildIsolate(env, {
        bundledXsApp: options.xsApp,
        customStore: options.customStore ?? noCustomStore,
        fetch: (input, init) => fetch(input, init),
        now: Date.now,
        log,
        ...(Object.keys(hooks).length > 0 ? { hooks } : {}),
        ...overrides,
      })
        .catch((error: unknown): IsolateState => {
          log("config.error", errorFields(error));
          return { kind: "broken", problems: ["start-up failed"] };
        })
        .then((built) => {
          isolates.set(env, built);
          return built;
        });
      isolates.set(env, building);
      state = building;
    }
    return state;
  }

  function route(request: Request, env: Env, ctx: ExecutionContext): Response | Promise<Response> {
    const state = isolateFor(env);
    if (state instanceof Promise) return state.then((built) => serve(built, request, env, ctx));
    return serve(state, request, env, ctx);
  }

  function serve(state: IsolateState, request: Request, env: Env, ctx: ExecutionContext) {
    if (state.kind === "broken") return configurationInvalidPage(request, env, state.problems);
    return state.app.fetch(request, env, ctx);
  }

  const first = options.first ?? [];
  if (first.length === 0) return { fetch: route };
  // `first` runs before the router, whatever the configuration's state.
  const front = new Hono<{ Bindings: Env }>();
  for (const handler of first) front.use(handler);
  front.all("*", (c) => route(c.req.raw, c.env, c.executionCtx as ExecutionContext));
  return { fetch: (request, env, ctx) => front.fetch(request, env, ctx) };
}
