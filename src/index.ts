import * as customStore from "approuter-custom-store";
import bundledXsApp from "../xs-app.json";
import { createWorker } from "./worker.js";

/**
 * The Worker entry of this repository: its bundled xs-app.json and the custom store driver
 * the `approuter-custom-store` alias in wrangler.toml names. Projects that depend on the
 * package build their own entry with `createWorker` (src/worker.ts).
 */
export default createWorker({ xsApp: bundledXsApp, customStore });
