import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEchoBackend } from "../support/backend.js";
import { sessionCookieOf, startCluster, type Cluster } from "../support/cluster.js";
import { loginThroughForms } from "../support/form-login.js";
import { startIdp, type Idp, identityBinding } from "../support/idp.js";
import { bundleWorker } from "../support/worker-bundle.js";

/**
 * The session cookie under a `__Host-` name (SESSION_COOKIE_NAME), through a real login
 * (oidc-provider), and what protected routes send a backend (issue 9): never the router's
 * cookie under its configured name, never a client-chosen Authorization.
 */
const ORIGIN = "https://router.test";
const NAME = "__Host-JSESSIONID";
let idp: Idp;
let backend: Awaited<ReturnType<typeof startEchoBackend>>;
let router: Cluster;

beforeAll(async () => {
  let script: string;
  [idp, backend, script] = await Promise.all([
    startIdp({ redirectUris: [`${ORIGIN}/login/callback`] }),
    startEchoBackend(),
    bundleWorker(),
  ]);
  router = await startCluster({
    script,
    workers: ["a"],
    bindings: {
      SESSION_COOKIE_NAME: NAME,
      PRESERVE_FRAGMENT: "false", // a 302 to start the login (the fragment page: xsuaa-login.test.ts)
      VCAP_SERVICES: JSON.stringify({
        identity: [identityBinding(idp)],
      }),
      destinations: JSON.stringify([
        { name: "backend", url: backend.url },
        { name: "token", url: backend.url, forwardAuthToken: true },
      ]),
      XS_APP: JSON.stringify({
        authenticationMethod: "route",
        routes: [
          { source: "^/tok/(.*)$", target: "/$1", destination: "token", authenticationType: "ias" },
          { source: "^/public/(.*)$", target: "/$1", destination: "backend", authenticationType: "none" },
          { source: "^/(.*)$", target: "/$1", destination: "backend", authenticationType: "ias" },
        ],
      }),
    },
  });
});
afterAll(async () => {
  await router?.dispose();
  await Promise.all([idp?.stop(), backend?.close()]);
});

const pathOf = (url: string) => new URL(url).pathname + new URL(url).search;

async function login(): Promise<{ cookie: string; setCookie: string }> {
  const start = await router.fetch("a", "/app/start", { redirect: "manual" });
  expect(start.status).toBe(302);
  const callback = await loginThroughForms({
    routerFetch: (url, init) => router.fetch("a", pathOf(url), init),
    routerOrigin: ORIGIN,
    start,
    startUrl: `${ORIGIN}/app/start`,
    login: "alice",
    password: "alice-password",
  });
  const setCookie = callback.headers.getSetCookie().find((c) => c.startsWith(`${NAME}=`));
  const cookie = sessionCookieOf(callback, NAME);
  expect(cookie, "the login sets the session cookie").toBeDefined();
  return { cookie: cookie!, setCookie: setCookie! };
}

describe("SESSION_COOKIE_NAME with the __Host- prefix", () => {
  it("logs in; the cookie is Secure, Path=/ and host-only as the prefix demands", async () => {
    const { setCookie } = await login();
    expect(setCookie).toMatch(
      /^__Host-JSESSIONID=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; Secure; SameSite=Lax$/,
    );
  });

  it("never forwards the router's cookie under its configured name; a backend's JSESSIONID still arrives", async () => {
    const { cookie } = await login();
    const res = await router.fetch("a", "/app/echo", {
      headers: { cookie: `JSESSIONID=java-1; ${cookie}; theme=dark` },
    });
    expect(res.status).toBe(200);
    expect(backend.seen.at(-1)!.headers.cookie).toBe("JSESSIONID=java-1; theme=dark");
  });
});

describe("Authorization on protected routes (issue 9)", () => {
  it("drops a client-chosen Authorization on a protected route; forwards the router's token where configured; a public route passes the client's (SAP)", async () => {
    const { cookie } = await login();
    const headers = { cookie, authorization: "Bearer client-chosen" };
    expect((await router.fetch("a", "/app/echo", { headers })).status).toBe(200);
    expect(backend.seen.at(-1)!.headers.authorization).toBeUndefined();
    expect((await router.fetch("a", "/tok/echo", { headers })).status).toBe(200);
    expect(backend.seen.at(-1)!.headers.authorization).toMatch(/^Bearer (?!client-chosen)./);
    expect((await router.fetch("a", "/public/echo", { headers })).status).toBe(200);
    expect(backend.seen.at(-1)!.headers.authorization).toBe("Bearer client-chosen");
  });
});
