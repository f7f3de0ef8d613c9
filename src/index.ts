import * as customStore from "approuter-custom-store";
import bundledXsApp from "../xs-app.json";
import { createRouter } from "./router.js";

/**
 * The Worker entry: configuration only (the bundled xs-app.json, the environment and the
 * custom store driver the `approuter-custom-store` alias in wrangler.toml names). Projects
 * that extend the router build their own entry with `createRouter` (src/router.ts).
 */
export default createRouter({ xsApp: bundledXsApp, customStore });
