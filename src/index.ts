import * as customStore from "approuter-custom-store";
import bundledXsApp from "../xs-app.json";
import type { Env } from "./env.js";
import { errorPage } from "./http/pages.js";
import { buildIsolate, type IsolateState } from "./isolate.js";
import { consoleLogger } from "./log.js";

/**
 * The Worker entry. Configuration is read and validated once per isolate, on the first
 * request (nothing may run at module top level: no I/O, timers or randomness there).
 */
const isolates = new WeakMap<object, Promise<IsolateState>>();

function isolateFor(env: Env): Promise<IsolateState> {
  let state = isolates.get(env);
  if (!state) {
    state = buildIsolate(env, {
      bundledXsApp,
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

export default {
  async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    const state = await isolateFor(env);
    if (state.kind === "broken") return errorPage(503, "CONFIGURATION_INVALID");
    return state.app.fetch(request, env, ctx);
  },
} satisfies ExportedHandler<Env>;
