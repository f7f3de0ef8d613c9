// The XSUAA of `npm start` (its default provider, what SAP users have): the XSUAA simulator
// (../sim/xsuaa.mjs) with the user demo / demo holding the demo app's `$XSAPPNAME` scopes and
// the client registered for the router's callback and logout page. With `stateDir`
// (npm run dev:redis) its port, signing key and identity-zone id are kept in xsuaa.json there,
// so the tokens a logged-in user's session holds stay valid across restarts; its own sign-in
// session and refresh tokens live in memory only: a refresh after a restart is refused and the
// user signs in again.
import { DEFAULT_XSUAA_USERS, startXsuaaSim } from "../sim/xsuaa.mjs";
import { readKept, routerOrigins, startOnKeptPort, writeKept } from "./kept.mjs";

export const DEMO_XSAPPNAME = "approuter-edge-demo!t1";
export const DEMO_XSUAA_CLIENT_ID = `sb-${DEMO_XSAPPNAME}`;
export const DEMO_XSUAA_CLIENT_SECRET = "approuter-xsuaa-dev-secret-not-for-production";
/** demo / demo: Display (what the demo's protected route asks for) and Edit. */
export const DEMO_XSUAA_USER = Object.freeze({ id: "demo-user", ...DEFAULT_XSUAA_USERS[0] });

/**
 * Start the simulator for a router at `routerOrigin`. host: env IDP_HOST, else 127.0.0.2 (the
 * redirect back to a router on 127.0.0.1 is cross-site, as in production). port: env IDP_PORT,
 * the kept one, else a free one.
 * @param {{ routerOrigin: string, logoutPage: string, host?: string, stateDir?: string }} options
 */
export async function startDemoXsuaa(options) {
  const host = options.host ?? process.env.IDP_HOST ?? "127.0.0.2";
  const kept = options.stateDir
    ? readKept(options.stateDir, "xsuaa.json", host, (k) => k.signingKey?.privateJwk && k.zoneIds)
    : undefined;
  const port = process.env.IDP_PORT ? Number(process.env.IDP_PORT) : (kept?.port ?? 0);
  const origins = routerOrigins(options.routerOrigin);
  const start = (/** @type {number} */ onPort) =>
    startXsuaaSim({
      host,
      port: onPort,
      xsappname: DEMO_XSAPPNAME,
      clientId: DEMO_XSUAA_CLIENT_ID,
      clientSecret: DEMO_XSUAA_CLIENT_SECRET,
      redirectUris: origins.map((o) => `${o}/login/callback`),
      logoutRedirectUris: origins.flatMap((o) => [`${o}/`, new URL(options.logoutPage, o).href]),
      users: [DEMO_XSUAA_USER],
      loginNote: `Demo user: ${DEMO_XSUAA_USER.username}, password ${DEMO_XSUAA_USER.password}`,
      ...(kept ? { signingKey: kept.signingKey, zoneIds: kept.zoneIds } : {}),
    });
  const sim = await startOnKeptPort(start, port, kept?.port, "[demo-xsuaa]");
  if (options.stateDir) writeKept(options.stateDir, "xsuaa.json", { host, ...(await sim.keptState()) });
  return sim;
}
