import type { Env } from "./env.js";
import { configurationInvalidPage } from "./http/pages.js";
import { buildIsolate, type IsolateState } from "./isolate.js";
import { consoleLogger } from "./log.js";
import type { CustomStoreModule } from "./stores/custom.js";
import * as noCustomStore from "./stores/no-custom-store.js";

/**
 * The package's API: a project that depends on approuter-edge builds its Worker with
 * `export default createWorker({ xsApp })`, so that updating the router is an npm update
 * and its own files (xs-app.json, the driver) stay its own.
 */
export interface WorkerOptions {
  /** The parsed xs-app.json (`import xsApp from "./xs-app.json"`); `XS_APP` replaces it at run time. */
  xsApp: unknown;
  /** A custom session store driver (`EXT_SESSION_MGT.externalStoreFilePath`): the module, imported. */
  customStore?: CustomStoreModule & { isPlaceholder?: boolean };
}

/**
 * The Worker's handler. Configuration is read and validated once per isolate, on the first
 * request (nothing may run at module top level: no I/O, timers or randomness there).
 */
export function createWorker(options: WorkerOptions): ExportedHandler<Env> & { fetch: NonNullable<ExportedHandler<Env>["fetch"]> } {
  const isolates = new WeakMap<object, Promise<IsolateState>>();
  const customStore = options.customStore ?? noCustomStore;

  function isolateFor(env: Env): Promise<IsolateState> {
    let state = isolates.get(env);
    if (!state) {
      state = buildIsolate(env, {
        bundledXsApp: options.xsApp,
        customStore,
        fetch: (input, init) => fetch(input, init),
        now: Date.now,
        log: consoleLogger,
      }).catch((error: unknown): IsolateState => {
        consoleLogger("config.error", { name: error instanceof Error ? error.name : "unknown" });
        return { kind: "broken", problems: ["start-up failed"] };
      });
      isolates.set(env, state);
    }
    return state;
  }

  return {
    async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
      const state = await isolateFor(env);
      if (state.kind === "broken") return configurationInvalidPage(request, env, state.problems);
      return state.app.fetch(request, env, ctx);
    },
  };
}
