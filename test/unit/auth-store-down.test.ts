import { describe, expect, it } from "vitest";
import type { Env } from "../../src/env.js";
import { buildIsolate } from "../../src/isolate.js";
import { newSessionId } from "../../src/session/id.js";
import * as noCustomStore from "../../src/stores/no-custom-store.js";
import { SECRET_A } from "../support/secrets.js";

/**
 * A store fault never logs a user out: a protected request whose cookie names a session
 * that the store cannot be asked about (a fresh isolate while the store is down) is
 * answered "try again" (503), not sent to the identity provider, whose login would
 * replace the session.
 */
const xsApp = {
  authenticationMethod: "route",
  routes: [{ source: "^/api/(.*)$", target: "/$1", destination: "backend", authenticationType: "xsuaa" }],
};

async function isolateWithStoreDown() {
  const env = {
    destinations: JSON.stringify([{ name: "backend", url: "http://backend.test" }]),
    // Nothing listens on port 9 (discard): every store call fails at once.
    UPSTASH_REDIS_REST_URL: "http://127.0.0.1:9",
    UPSTASH_REDIS_REST_TOKEN: "token",
    EXT_SESSION_MGT: JSON.stringify({
      instanceName: "sessions",
      storageType: "redis",
      sessionSecret: SECRET_A,
      defaultRetryTimeout: 300,
    }),
    VCAP_SERVICES: JSON.stringify({
      xsuaa: [
        {
          name: "uaa",
          label: "xsuaa",
          tags: ["xsuaa"],
          credentials: {
            url: "https://sub.uaa.test",
            clientid: "sb-app!t1",
            clientsecret: "s",
            xsappname: "app!t1",
            uaadomain: "uaa.test",
          },
        },
      ],
    }),
  } as Env;
  const state = await buildIsolate(env, {
    bundledXsApp: xsApp,
    customStore: noCustomStore,
    fetch,
    now: Date.now,
    log: () => {},
  });
  if (state.kind !== "ready") throw new Error(state.problems.join("\n"));
  return state.app;
}

describe("store down on a fresh isolate", () => {
  it("a navigation with a session cookie gets 503 and keeps its cookie, instead of a new login", async () => {
    const app = await isolateWithStoreDown();
    const response = await app.request("https://router.test/api/orders", {
      headers: { cookie: `JSESSIONID=${newSessionId()}`, accept: "text/html" },
    });
    expect(response.status).toBe(503);
    expect(response.headers.get("x-approuter-error") ?? (await response.text())).toContain(
      "SESSION_STORE_UNAVAILABLE",
    );
    expect(response.headers.get("retry-after")).toBe("5");
    expect(response.headers.get("location")).toBeNull();
    expect(response.headers.getSetCookie()).toEqual([]); // neither the session cookie nor a login-state cookie
  });

  it("an XMLHttpRequest with a session cookie gets 503 too, not 401", async () => {
    const app = await isolateWithStoreDown();
    const response = await app.request("https://router.test/api/orders", {
      method: "POST",
      headers: { cookie: `JSESSIONID=${newSessionId()}`, "x-requested-with": "XMLHttpRequest" },
    });
    expect(response.status).toBe(503);
  });

  it("without a cookie there is no session to keep: the login starts", async () => {
    const app = await isolateWithStoreDown();
    const response = await app.request("https://router.test/api/orders", {
      headers: { accept: "text/html" },
    });
    expect([200, 302]).toContain(response.status);
    const body = await response.text();
    expect(response.headers.get("location") ?? body).toContain("https://sub.uaa.test/oauth/authorize");
  });
});
