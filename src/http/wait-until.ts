import type { Context } from "hono";

/** `ctx.waitUntil` of the request, guarded; without an execution context (unit tests) the work just runs. */
export function waitUntilOf(c: Context): (promise: Promise<unknown>) => void {
  return (promise) => {
    const guarded = promise.catch(() => {});
    try {
      c.executionCtx.waitUntil(guarded);
    } catch {
      // No execution context.
    }
  };
}
