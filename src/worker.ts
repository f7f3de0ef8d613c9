/**
 * The package's API: a project that depends on approuter-edge builds its Worker with
 * `export default createWorker({ xsApp })` (configuration only) or `createRouter({ xsApp,
 * ...hooks })` (with SAP-style extensions, src/router.ts), so that updating the router is an
 * npm update and its own files (xs-app.json, the driver, the extensions) stay its own.
 */
import { createRouter, type RouterHandler, type RouterOptions } from "./router.js";

export { createRouter } from "./router.js";
export type { RouterError, RouterHandler, RouterHooks, RouterOptions } from "./router.js";

export type WorkerOptions = Pick<RouterOptions, "xsApp" | "customStore">;

/** The configuration-only router: `createRouter` without extensions. */
export function createWorker(options: WorkerOptions): RouterHandler {
  return createRouter(options);
}
