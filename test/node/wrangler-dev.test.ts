// `npm start` / `npm run dev:redis` end to end: scripts/dev.mjs runs the real `wrangler dev`,
// the demo backend and (unless --no-login) the XSUAA simulator (or, with --idp-url, the demo
// OpenID provider) on free ports; real HTTP requests go through the router, logins through the
// provider's forms (test/support/sap-form-login, test/support/form-login).
import { spawn } from "node:child_process";
import { createServer, type Server } from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startDemoIdp as startDemoIdpUntyped } from "../../scripts/demo/idp.mjs";
import { CookieJar, loginThroughForms, logoutThroughForms } from "../support/form-login.js";
import { loginThroughSapForm, logoutThroughSap, scriptRedirectOf } from "../support/sap-form-login.js";
import { directClient, startLocalRedis, type LocalRedis } from "../support/redis.js";
import { accepts, devPorts, devRuns, freePort, type DevRun } from "../support/dev-process.js";
import { eventuallyPasses } from "../support/wait.js";

const startDemoIdp = startDemoIdpUntyped as (options: {
  routerOrigin: string;
}) => Promise<{ issuer: string; stop(): Promise<void> }>;

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const HOST = "127.0.0.1";
const START_DEADLINE_MS = 45_000;
const STOP_DEADLINE_MS = 20_000;
const TOKEN = /^[A-Za-z0-9_-]{43}$/;
// A stored session's id, or a session that holds only its token (`<id>.<time>.<MAC>`, nothing stored).
const SESSION_COOKIE = /^JSESSIONID=([A-Za-z0-9_.-]+); Path=\/; HttpOnly; Secure; SameSite=Lax$/;
/** The provider npm start logs in with: its XSUAA simulator (default), or an OpenID provider (--idp-url). */
type IdpKind = "xsuaa" | "oidc";

/** A per-test SESSION_SECRET (64+ characters), never to appear in the output. */
function secret(): string {
  return `test-secret-${crypto.randomUUID()}-${crypto.randomUUID()}-${crypto.randomUUID()}`;
}

const runs = devRuns();
const startDev = (args: string[], env: Record<string, string | undefined> = {}): Promise<DevRun> =>
  runs.start(args, { env, startDeadlineMs: START_DEADLINE_MS, stopDeadlineMs: STOP_DEADLINE_MS });

/**
 * Ports of a stopped run must be closed (nothing of it left listening). Polled briefly:
 * a process killed just before dev.mjs exited may take a moment to release its socket.
 */
async function expectClosed(...ports: number[]): Promise<void> {
  for (const port of ports) {
    await eventuallyPasses(
      async () => expect(await accepts(port), `port ${port} still open`).toBe(false),
      3000,
    );
  }
}

/** The provider's issuer in dev.mjs's start-up line; its port must be closed after a stop. */
function announcedIdp(dev: DevRun): { issuer: string; host: string; port: number } {
  const match = /login as demo \/ demo at (http:\/\/(127\.0\.0\.\d+):(\d+))/.exec(dev.output());
  expect(match, dev.output()).not.toBeNull();
  return { issuer: match![1]!, host: match![2]!, port: Number(match![3]) };
}

const ports = devPorts;

interface Echo {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
}

/** GET /api/echo (or `path`) asking for the CSRF token; returns the session id, token and what the backend saw. */
async function fetchToken(routerUrl: string, cookie?: string, path = "/api/echo") {
  const res = await fetch(`${routerUrl}${path}`, {
    headers: { "x-csrf-token": "fetch", cookie: cookie ? `JSESSIONID=${cookie}; other=1` : "other=1" },
  });
  expect(res.status).toBe(200);
  const echo = (await res.json()) as Echo;
  // The session's sync-token companion (JSESSIONID_SYNC, set with a store on every session write) is left out.
  const setCookies = res.headers.getSetCookie().filter((c) => !c.startsWith("JSESSIONID_SYNC="));
  const sessionId = setCookies.map((c) => SESSION_COOKIE.exec(c)?.[1]).find((id) => id !== undefined);
  return { token: res.headers.get("x-csrf-token"), sessionId, setCookies, echo };
}

/** Without login (--no-login, the bundled xs-app.json): page, token, cookie handling, a POST, logout. */
async function exerciseRouter(routerUrl: string): Promise<void> {
  // The demo page, through the router.
  const page = await fetch(`${routerUrl}/`);
  expect(page.status).toBe(200);
  expect(page.headers.get("content-type")).toMatch(/^text\/html/);
  const html = await page.text();
  expect(html).toContain("approuter-edge demo backend");
  expect(html).toContain("Served through the router");

  // A token and a new session; the backend gets the other cookie only.
  const first = await fetchToken(routerUrl);
  expect(first.token).toMatch(TOKEN);
  expect(first.setCookies).toHaveLength(1);
  expect(first.setCookies[0]).toMatch(SESSION_COOKIE);
  const sessionId = first.sessionId!;
  expect(first.echo.headers.cookie).toBe("other=1");
  expect(first.echo.headers["x-forwarded-host"]).toBe(new URL(routerUrl).host);

  // With the session cookie: same token, no new cookie, and the cookie stays at the router.
  const again = await fetchToken(routerUrl, sessionId);
  expect(again.token).toBe(first.token);
  expect(again.setCookies).toEqual([]);
  expect(again.echo.headers.cookie).toBe("other=1");
  const pageWithSession = await (
    await fetch(`${routerUrl}/`, { headers: { cookie: `JSESSIONID=${sessionId}; other=1` } })
  ).text();
  expect(pageWithSession).not.toContain("reached the backend");
  expect(pageWithSession).toContain("<code>other=1</code>");

  // A POST passes (routes without authentication are not CSRF-checked, as in SAP); logout
  // of a session needs the token.
  const cookie = `JSESSIONID=${sessionId}; other=1`;
  const posted = await fetch(`${routerUrl}/api/echo`, {
    method: "POST",
    headers: { cookie, "x-csrf-token": first.token!, "content-type": "text/plain" },
    body: "hello",
  });
  expect(posted.status).toBe(200);
  expect(((await posted.json()) as Echo).body).toBe("hello");

  // Logout of an app without login (the bundled xs-app.json) needs no token, as in SAP's
  // router; a POST logout is answered with a page that moves the browser on to the logout
  // page; the cookie is cleared and the session gone.
  const logout = await fetch(`${routerUrl}/logout`, {
    method: "POST",
    headers: { cookie },
    redirect: "manual",
  });
  expect(logout.status).toBe(200);
  expect(await logout.clone().text()).toContain('url=/"');
  const cleared = logout.headers.getSetCookie();
  expect(cleared).toHaveLength(1);
  expect(cleared[0]).toMatch(/^JSESSIONID=; /);
  expect(cleared[0]).toMatch(/Max-Age=0/);
  await logout.body?.cancel();

  const afterLogout = await fetchToken(routerUrl); // the browser's cookie was cleared
  expect(afterLogout.sessionId).toBeDefined();
  expect(afterLogout.sessionId).not.toBe(sessionId);
  expect(afterLogout.token).not.toBe(first.token);
}

/**
 * Logs the demo user in through the provider's forms, starting at the protected `path`.
 * Returns the router's session cookie ("JSESSIONID=…") and the provider's cookie jar.
 */
async function logIn(routerUrl: string, issuer: string, path = "/", kind: IdpKind = "xsuaa") {
  const start = await fetch(`${routerUrl}${path}`, { redirect: "manual" });
  // SAP's first answer (PRESERVE_FRAGMENT): a page whose script moves on to the provider.
  expect(start.status).toBe(200);
  const location = new URL(scriptRedirectOf(await start.clone().text())!);
  expect(location.href.startsWith(`${issuer}/`)).toBe(true);
  expect(location.searchParams.get("redirect_uri")).toBe(`${routerUrl}/login/callback`);
  const idpJar = new CookieJar();
  const redirect = new Headers({ location: location.href });
  for (const cookie of start.headers.getSetCookie()) redirect.append("set-cookie", cookie);
  const walk = {
    routerFetch: (url: string, init?: RequestInit) => fetch(url, init),
    routerOrigin: routerUrl,
    startUrl: `${routerUrl}${path}`,
    idpJar,
  };
  const callback =
    kind === "xsuaa"
      ? await loginThroughSapForm({ ...walk, start, username: "demo", password: "demo" }) // SAP's form, from the router's page
      : await loginThroughForms({
          ...walk,
          start: new Response(null, { status: 302, headers: redirect }),
          login: "demo",
          password: "demo",
        }); // what the page's script does
  expect(callback.status).toBe(302);
  expect(callback.headers.get("location")).toBe(path);
  const sessionId = callback.headers
    .getSetCookie()
    .map((c) => SESSION_COOKIE.exec(c)?.[1])
    .find((id) => id !== undefined);
  expect(sessionId, "a session cookie from the callback").toBeDefined();
  return { sessionId: sessionId!, cookie: `JSESSIONID=${sessionId}; other=1`, idpJar };
}

/**
 * With login (the default: the demo xs-app.json, the demo provider): the public part, the
 * login, the token at the backend, CSRF on the protected part, logout through the provider.
 */
async function exerciseLogin(routerUrl: string, issuer: string, kind: IdpKind = "xsuaa"): Promise<void> {
  // The public part: no login, the same page, no token.
  const publicPage = await fetch(`${routerUrl}/public/hello`, { redirect: "manual" });
  expect(publicPage.status).toBe(200);
  const publicHtml = await publicPage.text();
  expect(publicHtml).toContain("approuter-edge demo backend");
  expect(publicHtml).toContain("Served through the router");
  expect(publicHtml).toContain("Not logged in on this page");
  const anonymous = await fetchToken(routerUrl, undefined, "/public/api/echo");
  expect(anonymous.token).toMatch(TOKEN);
  expect(anonymous.echo.url).toBe("/public/api/echo");
  expect(anonymous.echo.headers.authorization).toBeUndefined();
  expect(anonymous.echo.headers.cookie).toBe("other=1");

  // The protected part: a navigation goes to the provider, anything else is refused.
  const xhr = await fetch(`${routerUrl}/api/echo`, {
    headers: { "x-requested-with": "XMLHttpRequest" },
    redirect: "manual",
  });
  expect(xhr.status).toBe(401);
  await xhr.body?.cancel();
  const post = await fetch(`${routerUrl}/api/echo`, { method: "POST", body: "x", redirect: "manual" });
  expect(post.status).toBe(401);
  await post.body?.cancel();

  const { sessionId, cookie, idpJar } = await logIn(routerUrl, issuer, "/", kind);
  expect(sessionId).not.toBe(anonymous.sessionId);

  // Logged in: the page says who, from the token the backend received (never shown).
  const page = await fetch(`${routerUrl}/`, { headers: { cookie }, redirect: "manual" });
  expect(page.status).toBe(200);
  const html = await page.text();
  expect(html).toContain('Logged in as <strong id="user-name">Demo User</strong>');
  expect(html).toContain("demo@example.test");
  expect(html).toContain("An access token arrived");
  expect(html).not.toContain("reached the backend");
  expect(html).not.toMatch(/Bearer [A-Za-z0-9_-]{20,}/);

  const mine = await fetchToken(routerUrl, sessionId);
  expect(mine.token).toMatch(TOKEN);
  expect(mine.setCookies).toEqual([]);
  expect(mine.echo.headers.authorization).toMatch(
    /^Bearer \(\d+ characters, sha256 [0-9a-f]{8}…; not shown\)$/,
  );
  expect(mine.echo.headers.cookie).toBe("other=1");
  expect(mine.echo.headers["x-forwarded-host"]).toBe(new URL(routerUrl).host);

  // CSRF on the protected part: a POST needs the token.
  const refusedPost = await fetch(`${routerUrl}/api/echo`, {
    method: "POST",
    headers: { cookie },
    body: "no token",
  });
  expect(refusedPost.status).toBe(403);
  await refusedPost.body?.cancel();
  const posted = await fetch(`${routerUrl}/api/echo`, {
    method: "POST",
    headers: { cookie, "x-csrf-token": mine.token!, "content-type": "text/plain" },
    body: "hello",
  });
  expect(posted.status).toBe(200);
  expect(((await posted.json()) as Echo).body).toBe("hello");

  // Logout: the token is needed; then the router's session ends and the browser goes to the
  // provider's end-session endpoint, which comes back to the logout page.
  const refused = await fetch(`${routerUrl}/logout`, {
    method: "POST",
    headers: { cookie },
    redirect: "manual",
  });
  expect(refused.status).toBe(403);
  await refused.body?.cancel();
  const answered = await fetch(`${routerUrl}/logout`, {
    method: "POST",
    headers: { cookie, "x-csrf-token": mine.token! },
    redirect: "manual",
  });
  expect(answered.status).toBe(200); // SAP answers a POST logout with a page that moves on
  const next = /url=([^"]+)"/.exec(await answered.text())![1]!.replaceAll("&#38;", "&");
  // The page's redirect, as the browser follows it.
  const logout = new Response(null, {
    status: 302,
    headers: { location: next, "set-cookie": answered.headers.getSetCookie().join(", ") },
  });
  expect(answered.headers.getSetCookie().join("\n")).toMatch(/^JSESSIONID=; .*Max-Age=0/m);
  const endSession = new URL(next);
  expect(endSession.href.startsWith(`${issuer}/`)).toBe(true);
  let back: Response;
  if (kind === "xsuaa") {
    // XSUAA's /logout.do?redirect=<logout page>&client_id=… as SAP's router sends it.
    expect(endSession.pathname).toBe("/logout.do");
    expect(endSession.searchParams.get("redirect")).toBe(`${routerUrl}/public/logged-out`);
    expect(endSession.searchParams.get("client_id")).toMatch(/^sb-/);
    back = await logoutThroughSap({
      routerFetch: (url, init) => fetch(url, init),
      routerOrigin: routerUrl,
      start: logout,
      idpJar,
    });
  } else {
    expect(endSession.searchParams.get("post_logout_redirect_uri")).toBe(`${routerUrl}/public/logged-out`);
    expect(endSession.searchParams.get("id_token_hint")).toBeTruthy();
    back = await logoutThroughForms({
      routerFetch: (url, init) => fetch(url, init),
      routerOrigin: routerUrl,
      start: logout,
      idpJar,
      routerJar: false,
    });
  }
  expect(back.status).toBe(200);
  expect(back.url).toBe(`${routerUrl}/public/logged-out`);
  expect(await back.text()).toContain("You have been logged out");

  // The old cookie is worthless now: the protected page sends the browser to the provider again.
  const again = await fetch(`${routerUrl}/`, { headers: { cookie }, redirect: "manual" });
  expect(again.status).toBe(200); // SAP's login page, on to the provider
  expect(scriptRedirectOf(await again.text())!.startsWith(`${issuer}/`)).toBe(true);
}

afterEach(async () => {
  // A failed test must not leave a router running.
  await runs.stopAll();
});

describe("scripts/dev.mjs (npm start)", () => {
  it("runs the router with login: its own provider with the demo user, the demo configuration, the token at the backend; stops everything", async () => {
    const { router, backend } = await ports();
    const dev = await startDev(["--port", String(router), "--backend-port", String(backend)]);
    const idp = announcedIdp(dev);
    expect(dev.output()).toContain(
      `approuter-edge: http://${HOST}:${router} (demo backend on http://${HOST}:${backend}, sessions in memory, login as demo / demo at ${idp.issuer})`,
    );
    // A cross-site provider, as in production (Linux has all of 127/8 on lo).
    if (process.platform === "linux") expect(idp.host).toBe("127.0.0.2");

    await exerciseLogin(dev.routerUrl, idp.issuer);

    expect(await dev.stop()).toBe(0);
    await expectClosed(router, backend);
    await eventuallyPasses(
      async () => expect(await accepts(idp.port, idp.host), "the provider still listens").toBe(false),
      3000,
    );
  }, 60_000);

  it("--no-login runs the router on its embedded defaults (bundled xs-app.json) in front of the demo backend", async () => {
    const { router, backend } = await ports();
    const dev = await startDev(["--no-login", "--port", String(router), "--backend-port", String(backend)]);
    expect(dev.output()).toContain(
      `approuter-edge: http://${HOST}:${router} (demo backend on http://${HOST}:${backend}, sessions in memory, no login)`,
    );

    await exerciseRouter(dev.routerUrl);
    const page = await (await fetch(`${dev.routerUrl}/`)).text();
    expect(page).toContain("the router runs without login here");

    expect(await dev.stop()).toBe(0);
    await expectClosed(router, backend);
  }, 60_000);

  it("refuses contradicting or unreachable provider options", async () => {
    const { router, backend } = await ports();
    const run = async (args: string[]) => {
      const child = spawn(
        process.execPath,
        ["scripts/dev.mjs", "--port", String(router), "--backend-port", String(backend), ...args],
        {
          cwd: ROOT,
          stdio: ["ignore", "pipe", "pipe"],
        },
      );
      let out = "";
      child.stderr.on("data", (chunk: Buffer) => (out += chunk.toString("utf8")));
      child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString("utf8")));
      const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
      clearTimeout(timer);
      return { code, out };
    };
    const both = await run(["--no-login", "--idp-url", "http://127.0.0.2:1"]);
    expect(both.code).toBe(2);
    expect(both.out).toContain("--idp-url and --no-login exclude each other");
    const unknownKind = await run(["--idp", "saml"]);
    expect(unknownKind.code).toBe(2);
    expect(unknownKind.out).toContain("--idp must be xsuaa or oidc");
    const closedPort = await freePort("127.0.0.2");
    const unreachable = await run(["--idp-url", `http://127.0.0.2:${closedPort}`]);
    expect(unreachable.code).toBe(1);
    expect(unreachable.out).toContain(
      `the identity provider at http://127.0.0.2:${closedPort} does not answer`,
    );
    expect(unreachable.out).toContain("node scripts/demo/idp.mjs --router-origin");
    await expectClosed(router, backend);
  }, 30_000);

  it("refuses to start when a port is taken, with a clear message", async () => {
    const { router, backend } = await ports();
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(backend, HOST, resolve));
    try {
      const child = spawn(
        process.execPath,
        ["scripts/dev.mjs", "--port", String(router), "--backend-port", String(backend)],
        {
          cwd: ROOT,
          stdio: ["ignore", "pipe", "pipe"],
        },
      );
      let out = "";
      child.stderr.on("data", (chunk: Buffer) => (out += chunk.toString("utf8")));
      child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString("utf8")));
      const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
      clearTimeout(timer);
      expect(code).toBe(1);
      expect(out).toContain(`port ${backend} on ${HOST} is already in use`);
      expect(out).toContain("--backend-port");
      await expectClosed(router);
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  }, 20_000);
});

describe("scripts/dev.mjs --redis (npm run dev:redis)", () => {
  it("starts its own redis for the external tier (beside the provider's binding), keeps the secret out of the output, and stops it all", async () => {
    const { router, backend } = await ports();
    const sessionSecret = secret();
    const dev = await startDev(["--redis", "--port", String(router), "--backend-port", String(backend)], {
      SESSION_SECRET: sessionSecret,
    });
    const out = dev.output();
    const idp = announcedIdp(dev);
    expect(out).toContain(
      `(demo backend on http://${HOST}:${backend}, sessions in memory + redis, login as demo / demo at ${idp.issuer})`,
    );
    const started = /redis-server on 127\.0\.0\.1:(\d+), REST endpoint http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
    expect(started, out).not.toBeNull();
    const redisPort = Number(started![1]);
    const restPort = Number(started![2]);

    await exerciseLogin(dev.routerUrl, idp.issuer);

    // The sessions really go to that redis.
    const client = directClient(redisPort);
    try {
      const before = await client.dbsize();
      await logIn(dev.routerUrl, idp.issuer);
      await eventuallyPasses(async () => expect(await client.dbsize()).toBeGreaterThan(before));
    } finally {
      client.disconnect();
    }

    expect(await dev.stop()).toBe(0);
    expect(dev.output()).not.toContain(sessionSecret);
    await expectClosed(router, backend, redisPort, restPort);
    await eventuallyPasses(async () => expect(await accepts(idp.port, idp.host)).toBe(false), 3000);
  }, 60_000);

  describe("with an already-running REST endpoint (--redis-url)", () => {
    let redis: LocalRedis;
    beforeAll(async () => {
      redis = await startLocalRedis();
    });
    afterAll(async () => {
      await redis?.stop();
    });

    it("a fresh wrangler dev recovers a login from redis with the same SESSION_SECRET and provider (--idp-url)", async () => {
      const { router, backend } = await ports();
      const routerUrl = `http://${HOST}:${router}`;
      // The provider outlives the restarts (one started by dev.mjs would end with it).
      const idp = await startDemoIdp({ routerOrigin: routerUrl });
      const counters = async () =>
        (await (await fetch(`${new URL(idp.issuer).origin}/__test/counters`)).json()) as {
          authorizationCodeGrants: number;
        };
      try {
        const sessionSecret = secret();
        const args = [
          "--port",
          String(router),
          "--backend-port",
          String(backend),
          "--redis-url",
          redis.restUrl,
          `--redis-token=${redis.token}`,
          "--idp-url",
          idp.issuer,
        ];
        // (`=`: a base64url token may start with "-", which a separate argument can't.)
        const env = { SESSION_SECRET: sessionSecret };

        const first = await startDev(args, env);
        expect(first.output()).toContain(
          `sessions in memory + redis via ${redis.restUrl}, login as demo / demo at ${idp.issuer} (already running)`,
        );
        const { sessionId, cookie } = await logIn(routerUrl, idp.issuer, "/api/echo", "oidc");
        const issued = await fetchToken(routerUrl, sessionId);
        expect(issued.token).toMatch(TOKEN);
        expect(issued.echo.headers.authorization).toMatch(/^Bearer \(/);
        // The external write may finish after the response: wait until it is there.
        const client = directClient(redis.redisPort);
        try {
          await eventuallyPasses(async () => expect(await client.dbsize()).toBeGreaterThan(0));
        } finally {
          client.disconnect();
        }
        expect(await first.stop()).toBe(0);
        await expectClosed(router, backend);
        for (const text of [sessionSecret, redis.token]) expect(first.output()).not.toContain(text);

        // Same ports, same secret, same redis, same provider: a new process, a new isolate, an
        // empty memory tier; still logged in, with the same token, and no new login.
        const second = await startDev(args, env);
        const recovered = await fetchToken(routerUrl, sessionId);
        expect(recovered.token).toBe(issued.token);
        expect(recovered.setCookies).toEqual([]);
        expect(recovered.echo.headers.cookie).toBe("other=1");
        expect(recovered.echo.headers.authorization).toBe(issued.echo.headers.authorization);
        const posted = await fetch(`${routerUrl}/api/echo`, {
          method: "POST",
          headers: { cookie, "x-csrf-token": issued.token! },
          body: "after restart",
        });
        expect(posted.status).toBe(200);
        await posted.body?.cancel();
        expect((await counters()).authorizationCodeGrants).toBe(1);

        expect(await second.stop()).toBe(0);
        await expectClosed(router, backend);
        for (const text of [sessionSecret, redis.token]) expect(second.output()).not.toContain(text);

        // The control: another secret cannot open the stored session: back to the provider.
        const third = await startDev(args, { SESSION_SECRET: secret() });
        const unknown = await fetch(`${routerUrl}/api/echo`, { headers: { cookie }, redirect: "manual" });
        expect(unknown.status).toBe(200); // SAP's login page, on to the provider
        expect(scriptRedirectOf(await unknown.text())!.startsWith(`${idp.issuer}/`)).toBe(true);
        expect(await third.stop()).toBe(0);
        // dev.mjs leaves a provider it did not start alone.
        expect((await fetch(`${idp.issuer}/.well-known/openid-configuration`)).status).toBe(200);
      } finally {
        await idp.stop();
      }
    }, 90_000);
  });
});

describe("npm run dev:redis keeps its promises across restarts", () => {
  let stateDir: string;
  beforeAll(() => {
    stateDir = mkdtempSync(join(tmpdir(), "approuter-dev-state-"));
  });
  afterAll(() => {
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  });

  it("the demo sign-in page names the demo user and says so after a wrong password", async () => {
    const { router, backend } = await ports();
    const dev = await startDev(["--port", String(router), "--backend-port", String(backend)]);
    try {
      // The XSUAA simulator's sign-in form, shown by its authorize endpoint.
      const res = await fetch(`${dev.routerUrl}/api/echo`, { redirect: "manual" });
      const url = new URL(res.headers.get("location") ?? scriptRedirectOf(await res.text())!);
      expect(url.pathname).toBe("/oauth/authorize");
      const form = await fetch(url, { redirect: "manual" });
      expect(form.status).toBe(200);
      const page = await form.text();
      expect(page).toContain("Demo user: demo, password demo");
      expect(page).not.toContain('role="alert"');
      const action = new URL(/action="([^"]+)"/.exec(page)![1]!, url);
      const authz = /name="authz" value="([^"]+)"/.exec(page)![1]!;
      const wrong = await fetch(action, {
        method: "POST",
        redirect: "manual",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ authz, username: "demo", password: "not-the-password" }).toString(),
      });
      expect(wrong.status).toBe(200); // the form again, with the message
      const retryPage = await wrong.text();
      expect(retryPage).toContain("Unable to verify username or password. Please try again.");
      expect(retryPage).toContain("Demo user: demo, password demo");
      expect(retryPage).toContain('type="password"');
    } finally {
      expect(await dev.stop()).toBe(0);
    }
  }, 60_000);

  it("its own redis and provider keep their data, port and keys: still logged in after a restart, without SESSION_SECRET; --fresh forgets", async () => {
    const { router, backend } = await ports();
    const args = ["--redis", "--port", String(router), "--backend-port", String(backend)];
    const env = { APPROUTER_DEV_STATE_DIR: stateDir, SESSION_SECRET: undefined, IDP_PORT: undefined };

    const first = await startDev(args, env);
    const idp = announcedIdp(first);
    expect(first.output()).toContain("data kept in");
    const { sessionId, cookie } = await logIn(first.routerUrl, idp.issuer, "/api/echo");
    const issued = await fetchToken(first.routerUrl, sessionId);
    expect(issued.token).toMatch(TOKEN);
    const page = await fetch(`${first.routerUrl}/`, { headers: { cookie } });
    expect(await page.text()).toContain('Logged in as <strong id="user-name">Demo User</strong>');
    expect(await first.stop()).toBe(0);
    await expectClosed(router, backend, idp.port);

    // A new redis-server, provider, wrangler and isolate: the same user, the same token, no login.
    const second = await startDev(args, env);
    expect(announcedIdp(second).issuer).toBe(idp.issuer);
    const recovered = await fetchToken(second.routerUrl, sessionId);
    expect(recovered.token).toBe(issued.token);
    expect(recovered.setCookies).toEqual([]);
    expect(recovered.echo.headers.authorization).toBe(issued.echo.headers.authorization);
    // The provider still knows the token (its userinfo answers the demo backend).
    const again = await fetch(`${second.routerUrl}/`, { headers: { cookie } });
    expect(again.status).toBe(200);
    expect(await again.text()).toContain('Logged in as <strong id="user-name">Demo User</strong>');
    expect(await second.stop()).toBe(0);
    await expectClosed(router, backend);

    const fresh = await startDev([...args, "--fresh"], env);
    const forgotten = await fetch(`${fresh.routerUrl}/api/echo`, { headers: { cookie }, redirect: "manual" });
    expect(forgotten.status).toBe(200); // SAP's login page: the session is gone, on to the provider again
    expect(scriptRedirectOf(await forgotten.text())).toMatch(/\/oauth\/authorize\?/);
    expect(await fresh.stop()).toBe(0);
  }, 120_000);
});
