/**
 * An approuter-edge Worker extended the way SAP's `approuter.js` extensions do it
 * (doc/extending.md of @sap/approuter), with Hono middleware:
 *
 * - `first`: answers `/healthz` before anything of the router runs (no session, no login),
 *   as a load balancer's health check needs.
 * - `beforeRequestHandler`: adds `x-served-by: approuter-edge-example` to every answer of a
 *   route (after login, authorization and CSRF, as in SAP), and answers `/ext/hello`
 *   itself with the user's session state.
 *
 * Use: copy this folder, `npm i approuter-edge hono`, import `createRouter` from the
 * package instead of the relative path, and point wrangler.toml's `main` at this file.
 */
import type { Context, Next } from "hono";
import { createRouter } from "../../src/router.js";
import xsApp from "./xs-app.json";

export default createRouter({
  xsApp,
  first: [
    async (c: Context, next: Next) => {
      if (c.req.path === "/healthz") return c.json({ status: "UP" });
      await next();
    },
  ],
  beforeRequestHandler: [
    async (c, next) => {
      if (c.req.path === "/ext/hello")
        return c.json({ hello: "from the extension", session: (await c.get("session").current()) !== null });
      await next();
      c.res.headers.set("x-served-by", "approuter-edge-example");
    },
  ],
});
