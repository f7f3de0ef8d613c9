// Sessions sealed as the router seals them (the project's codec, bundled for Node) and
// written straight into Redis, shaped like bench/reference-session.mjs, each with its own
// id and CSRF token. A response "serves" one when it carries that session's CSRF token.
import { randomBytes } from "node:crypto";

/**
 * @param {{ lib: any, keyring: any, redis: import("ioredis").Redis, record: object, count: number, ttlMs?: number }} options
 * @returns {Promise<{ cookie: string, csrf: string }[]>}
 */
export async function seedSessions({ lib, keyring, redis, record, count, ttlMs = 15 * 60_000 }) {
  const out = [];
  for (let i = 0; i < count; i += 500) {
    const pipeline = redis.pipeline();
    for (let j = i; j < Math.min(count, i + 500); j++) {
      const id = randomBytes(32).toString("base64url");
      const csrf = randomBytes(32).toString("base64url");
      const sealed = await lib.seal({ ...record, csrf }, { keyring, sessionId: id });
      pipeline.set(sealed.storeKey, sealed.envelope, "PX", ttlMs);
      out.push({ cookie: `JSESSIONID=${id}`, csrf });
    }
    await pipeline.exec();
  }
  return out;
}

/**
 * Loads every session into a router isolate's first tier (one recovery each, or a hit),
 * ten at a time; throws when one is not served.
 * @param {string} url @param {{ cookie: string, csrf: string }[]} sessions
 */
export async function preloadSessions(url, sessions) {
  for (let i = 0; i < sessions.length; i += 10) {
    await Promise.all(
      sessions.slice(i, i + 10).map(async (s) => {
        const res = await fetch(`${url}/bench/resource?id=1`, {
          headers: { cookie: s.cookie, "x-csrf-token": "fetch" },
        });
        await res.arrayBuffer();
        if (res.status !== 200 || res.headers.get("x-csrf-token") !== s.csrf)
          throw new Error(`${url} did not serve a seeded session (${res.status})`);
      }),
    );
  }
}

/**
 * A router Worker's bindings as the benchmarks configure it: one destination `backend`,
 * sessions in the Upstash-compatible store at `storeUrl` (EXT_SESSION_MGT, revalidateAfter
 * 60 s unless `session` says otherwise).
 * @param {{ backendUrl: string, secret: string, storeUrl: string, token: string, session?: Record<string, unknown> }} options
 */
export function routerBindings({ backendUrl, secret, storeUrl, token, session = {} }) {
  return {
    destinations: JSON.stringify([{ name: "backend", url: backendUrl }]),
    EXT_SESSION_MGT: JSON.stringify({
      instanceName: "sessions",
      storageType: "redis",
      sessionSecret: secret,
      revalidateAfter: 60_000,
      ...session,
    }),
    VCAP_SERVICES: JSON.stringify({
      redis: [{ name: "sessions", label: "redis", credentials: { url: storeUrl, token } }],
    }),
  };
}

/**
 * `routerBindings` for a logged-in user: every route requires an XSUAA login and the
 * destination gets the user's token, as an SAP app's routes are. The XSUAA binding is
 * never called (the seeded sessions' tokens are fresh for hours).
 * @param {{ backendUrl: string, secret: string, storeUrl: string, token: string, session?: Record<string, unknown> }} options
 */
export function loggedInBindings(options) {
  const bindings = routerBindings(options);
  const vcap = JSON.parse(bindings.VCAP_SERVICES);
  vcap.xsuaa = [
    {
      name: "uaa",
      label: "xsuaa",
      tags: ["xsuaa"],
      credentials: { url: "http://127.0.0.1:9", clientid: "sb-approuter-edge!t48213", clientsecret: "s" },
    },
  ];
  return {
    ...bindings,
    VCAP_SERVICES: JSON.stringify(vcap),
    destinations: JSON.stringify([{ name: "backend", url: options.backendUrl, forwardAuthToken: true }]),
    XS_APP: JSON.stringify({
      authenticationMethod: "route",
      routes: [{ source: "^/(.*)$", target: "/$1", destination: "backend", authenticationType: "xsuaa" }],
    }),
  };
}
