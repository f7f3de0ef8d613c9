// `npm start` end to end in headless Chromium: scripts/dev.mjs (wrangler dev, the demo backend)
// with the external session tier on a redis-server and the demo OpenID provider, both
// started here so that they outlive a restart of the router:
//
//   open the router -> the provider's login page -> demo / demo -> the protected demo page
//   through the router, which received the user's token
//   restart dev.mjs (new wrangler, new isolate, empty memory tier) -> reload: still logged in,
//   the browser never went to the provider (the session came back from Redis)
//   once the (8 s) access token is due: reload -> the router refreshes it at the provider with
//   the refresh token from Redis, invisibly to the browser
//   "Log out" -> POST /logout with the CSRF token -> the provider's end-session -> the logout
//   page; the protected page then asks for the password again.
//
// The provider is external to dev.mjs (`--idp-url`): one started by dev.mjs would end with
// it, and with it the provider's session and the refresh token of the router's session.
// A second test runs npm start's default as it is: the XSUAA simulator dev.mjs starts itself,
// SAP's login flow in Chromium (demo / demo, a wrong password first), logout via /logout.do.
//
// Screenshots of the key steps go to a temporary directory, kept when the test fails or when
// E2E_SCREENSHOTS names a directory to put them in.
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page, Request as BrowserRequest } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDemoIdp as startDemoIdpUntyped } from "../../scripts/demo/idp.mjs";
import { launchBrowser } from "../support/browser.js";
import {
  accepts,
  alive,
  commandOf,
  descendants,
  devPorts,
  devRuns,
  HOST,
  type DevRun,
} from "../support/dev-process.js";
import { directClient, startLocalRedis, type LocalRedis } from "../support/redis.js";
import { eventuallyPasses, sleep } from "../support/wait.js";

interface DemoIdp {
  issuer: string;
  pid: number | undefined;
  user: { login: string; password: string; claims: { name: string; email: string } };
  stop(): Promise<void>;
}
const startDemoIdp = startDemoIdpUntyped as (options: {
  routerOrigin: string;
  accessTokenTtl?: number;
}) => Promise<DemoIdp>;

const START_DEADLINE_MS = 30_000;
const STOP_DEADLINE_MS = 15_000;
const SESSION_SECRET = `e2e-browser-secret-${"x".repeat(24)}-${crypto.randomUUID()}`;
/** Short-lived access tokens: the router refreshes them in the last quarter (src/auth/refresh.ts). */
const ACCESS_TOKEN_TTL_S = 8;

// ---- processes ----------------------------------------------------------------------------

const runs = devRuns();
/** Every process any run of dev.mjs had, to check that none is left at the end. */
const allSeen = runs.allSeen;
/** `node scripts/dev.mjs …args`, resolved once it announces the router. */
const startDev = (args: string[], env: Record<string, string>): Promise<DevRun> =>
  runs.start(args, { env, startDeadlineMs: START_DEADLINE_MS, stopDeadlineMs: STOP_DEADLINE_MS });

// ---- the browser side ------------------------------------------------------------------------

let shotDir = "";
let shots = 0;
async function screenshot(page: Page, name: string): Promise<void> {
  shots++;
  await page.screenshot({
    path: join(shotDir, `${String(shots).padStart(2, "0")}-${name}.png`),
    fullPage: true,
  });
}

/** On the provider's login page: fill it in and submit; give consent if the provider asks. */
async function signIn(
  page: Page,
  idpOrigin: string,
  routerUrl: string,
  login: string,
  password: string,
): Promise<void> {
  await page.fill('input[name="login"]', login);
  await page.fill('input[name="password"]', password);
  await page.click('button[type="submit"]');
  // Back at the router, or a consent page first (oidc-provider's devInteractions "Authorize").
  for (let step = 0; step < 3; step++) {
    await page.waitForURL(
      (url) =>
        url.origin === new URL(routerUrl).origin ||
        (url.origin === idpOrigin && url.pathname.startsWith("/interaction/")),
      {
        timeout: 10_000,
      },
    );
    if (new URL(page.url()).origin !== idpOrigin) return;
    if (await page.locator('input[name="password"]').count())
      throw new Error(`the provider refused ${login}: ${await page.textContent("body")}`);
    await page.click('button[type="submit"]'); // consent
    await page.waitForLoadState();
  }
}

// ---- the test -------------------------------------------------------------------------------

let redis: LocalRedis | undefined;
let idp: DemoIdp | undefined;
let browser: Browser | undefined;
let router = 0;
let backend = 0;
let failed = false;

beforeAll(async () => {
  const configured = process.env.E2E_SCREENSHOTS;
  if (configured) mkdirSync(configured, { recursive: true });
  shotDir = configured || mkdtempSync(join(tmpdir(), "approuter-e2e-"));
  ({ router, backend } = await devPorts());
  [redis, idp, browser] = await Promise.all([
    startLocalRedis(),
    startDemoIdp({ routerOrigin: `http://${HOST}:${router}`, accessTokenTtl: ACCESS_TOKEN_TTL_S }),
    launchBrowser(),
  ]);
});

afterAll(async () => {
  const mine = descendants(process.pid); // redis-server, the provider, chromium, anything left over
  for (const pid of mine) allSeen.set(pid, commandOf(pid));
  await runs.stopAll();
  await browser?.close();
  await Promise.all([idp?.stop(), redis?.stop()]);
  if (!failed && !process.env.E2E_SCREENSHOTS) rmSync(shotDir, { recursive: true, force: true });
  else console.log(`e2e-browser: screenshots in ${shotDir}`);
  // Nothing of this test may outlive it: dev.mjs, wrangler, workerd, the provider, redis, chromium.
  const kinds = [...allSeen.values()].join("\n");
  if (browser)
    for (const kind of ["workerd", "wrangler", "chrom", "server.mjs", "redis-server"])
      expect(kinds, `no ${kind} process was seen`).toContain(kind);
  await eventuallyPasses(() => {
    const left = [...allSeen].filter(([pid]) => alive(pid)).map(([pid, cmd]) => `${pid} ${cmd}`);
    expect(left, "processes left behind").toEqual([]);
  }, 5000);
});

describe("npm start in a browser", () => {
  it("logs in with the demo user, survives a restart of the router through Redis (token refresh included), and logs out through the provider", async () => {
    try {
      const { issuer } = idp!;
      const idpOrigin = new URL(issuer).origin;
      const routerUrl = `http://${HOST}:${router}`;
      const args = [
        "--port",
        String(router),
        "--backend-port",
        String(backend),
        "--redis-url",
        redis!.restUrl,
        `--redis-token=${redis!.token}`,
        "--idp-url",
        issuer,
      ];
      const env = { SESSION_SECRET };
      const counters = async () =>
        (await (await fetch(`${idpOrigin}/__test/counters`)).json()) as {
          logins: number;
          authorizationCodeGrants: number;
          refreshGrants: number;
          endSessions: number;
        };
      const fingerprintOnPage = async () =>
        /SHA-256 fingerprint ([0-9a-f]{8})/.exec((await page.textContent("body")) ?? "")?.[1];

      let dev = await startDev(args, env);
      expect(dev.output()).toContain(`login as demo / demo at ${issuer} (already running)`);

      const context = await browser!.newContext();
      const page = await context.newPage();
      const toIdp: string[] = [];
      page.on("request", (request: BrowserRequest) => {
        if (new URL(request.url()).origin === idpOrigin)
          toIdp.push(`${request.method()} ${new URL(request.url()).pathname}`);
      });

      // 1. The protected start page sends the browser to the provider's login page.
      await page.goto(`${routerUrl}/`);
      expect(new URL(page.url()).origin).toBe(idpOrigin);
      await expect.poll(() => page.locator('input[name="password"]').count()).toBe(1);
      await screenshot(page, "idp-login");

      // 2. demo / demo -> back at the router, on the protected demo page, with a token.
      await signIn(page, idpOrigin, routerUrl, idp!.user.login, idp!.user.password);
      const loggedInAt = Date.now();
      expect(page.url()).toBe(`${routerUrl}/`);
      const status = page.locator("#login-status");
      await expect.poll(() => status.textContent()).toContain(`Logged in as ${idp!.user.claims.name}`);
      expect(await status.textContent()).toContain(idp!.user.claims.email);
      const body = (await page.textContent("body"))!;
      expect(body).toContain("An access token arrived");
      expect(body).toContain("Served through the router");
      expect(body).not.toMatch(/Bearer [A-Za-z0-9_-]{20,}/); // never the token itself
      const fingerprint = await fingerprintOnPage();
      expect(fingerprint, "the token's fingerprint on the page").toBeDefined();
      await screenshot(page, "logged-in");
      const session = (await context.cookies(routerUrl)).find((c) => c.name === "JSESSIONID");
      expect(session, "the router's session cookie").toBeDefined();
      expect(session).toMatchObject({
        httpOnly: true,
        secure: true,
        sameSite: "Lax",
        path: "/",
        expires: -1,
      });
      const afterLogin = await counters();
      expect(afterLogin.logins).toBe(1);
      expect(afterLogin.authorizationCodeGrants).toBe(1);
      // The session was written to Redis before the page came back.
      const client = directClient(redis!.redisPort);
      try {
        expect(await client.dbsize()).toBeGreaterThan(0);
      } finally {
        client.disconnect();
      }

      // 3. Restart: a new wrangler dev, a new isolate with an empty memory tier.
      expect(await dev.stop()).toBe(0);
      for (const port of [router, backend])
        await eventuallyPasses(async () => expect(await accepts(port), `port ${port}`).toBe(false), 3000);
      dev = await startDev(args, env);
      toIdp.length = 0;
      await page.reload();
      expect(page.url()).toBe(`${routerUrl}/`);
      await expect.poll(() => status.textContent()).toContain(`Logged in as ${idp!.user.claims.name}`);
      expect(toIdp, "the browser went to the provider after the restart").toEqual([]);
      const afterRestart = await counters();
      expect(afterRestart).toMatchObject({ logins: 1, authorizationCodeGrants: 1 });
      // The same access token as before the restart, from Redis (unless it was due already).
      if (afterRestart.refreshGrants === 0) expect(await fingerprintOnPage()).toBe(fingerprint);
      await screenshot(page, "after-restart");

      // 4. Past the refresh point: the new isolate refreshes the token with the refresh token
      //    from Redis, at the same provider; the browser notices nothing.
      await sleep(Math.max(0, loggedInAt + ACCESS_TOKEN_TTL_S * 750 + 500 - Date.now()));
      await page.reload();
      expect(page.url()).toBe(`${routerUrl}/`);
      await expect.poll(() => status.textContent()).toContain(`Logged in as ${idp!.user.claims.name}`);
      expect(await fingerprintOnPage()).not.toBe(fingerprint);
      expect((await counters()).refreshGrants).toBeGreaterThanOrEqual(1);
      expect(toIdp, "the browser went to the provider for the refresh").toEqual([]);

      // 5. Log out with the page's button: the router, then the provider's end-session, then the logout page.
      await page.click("#logout-button");
      await page.waitForURL(`${routerUrl}/public/logged-out`, { timeout: 10_000 });
      await expect.poll(() => page.textContent("#logged-out")).toBe("You have been logged out");
      expect(toIdp.some((r) => r.includes("/session/end"))).toBe(true);
      expect((await counters()).endSessions).toBe(1);
      expect((await context.cookies(routerUrl)).map((c) => c.name)).not.toContain("JSESSIONID");
      await screenshot(page, "logged-out");

      // 6. The protected page asks for the password again (the provider's session ended too).
      await page.goto(`${routerUrl}/`);
      expect(new URL(page.url()).origin).toBe(idpOrigin);
      await expect.poll(() => page.locator('input[name="password"]').count()).toBe(1);
      await screenshot(page, "login-again");
      await context.close();

      expect(await dev.stop()).toBe(0);
      for (const text of [SESSION_SECRET, redis!.token]) expect(dev.output()).not.toContain(text);
    } catch (err) {
      failed = true;
      throw err;
    }
  }, 60_000);
});

describe("npm start's own XSUAA simulator in a browser", () => {
  it("logs in as demo / demo through SAP's login flow (xsuaa route, $XSAPPNAME scope), and logs out through /logout.do", async () => {
    try {
      const { router: port, backend: backendPort } = await devPorts();
      // npm start's configuration as it is: no --idp, no --idp-url.
      const dev = await startDev(["--port", String(port), "--backend-port", String(backendPort)], {});
      const announced = /login as demo \/ demo at (http:\/\/[\d.]+:\d+)\)/.exec(dev.output());
      expect(announced, dev.output()).not.toBeNull();
      const simOrigin = announced![1]!;
      const routerUrl = dev.routerUrl;
      const context = await browser!.newContext();
      const page = await context.newPage();
      const toSim: string[] = [];
      page.on("request", (request: BrowserRequest) => {
        if (new URL(request.url()).origin === simOrigin)
          toSim.push(`${request.method()} ${new URL(request.url()).pathname}`);
      });

      // SAP's login page moves the browser on to XSUAA's /oauth/authorize: its sign-in form names the demo user.
      await page.goto(`${routerUrl}/`);
      await page.waitForURL((url) => url.origin === simOrigin, { timeout: 10_000 });
      expect(new URL(page.url()).pathname).toBe("/oauth/authorize");
      await expect.poll(() => page.locator('input[name="password"]').count()).toBe(1);
      expect(await page.textContent("body")).toContain("Demo user: demo, password demo");
      await screenshot(page, "xsuaa-login");

      // A wrong password: the form again, with a message.
      await page.fill('input[name="username"]', "demo");
      await page.fill('input[name="password"]', "wrong");
      await page.click('button[type="submit"]');
      await expect
        .poll(() => page.locator('[role="alert"]').textContent())
        .toContain("Unable to verify username or password");

      await page.fill('input[name="username"]', "demo");
      await page.fill('input[name="password"]', "demo");
      await page.click('button[type="submit"]');
      await page.waitForURL(`${routerUrl}/`, { timeout: 10_000 });
      const status = page.locator("#login-status");
      await expect.poll(() => status.textContent()).toContain("Logged in as Demo User");
      expect(await status.textContent()).toContain("demo@example.test");
      expect(toSim).toEqual(expect.arrayContaining(["GET /oauth/authorize", "POST /login.do"]));
      await screenshot(page, "xsuaa-logged-in");

      // Log out: the router, XSUAA's /logout.do, back to the logout page; then the form again.
      await page.click("#logout-button");
      await page.waitForURL(`${routerUrl}/public/logged-out`, { timeout: 10_000 });
      expect(toSim).toContain("GET /logout.do");
      expect((await context.cookies(routerUrl)).map((c) => c.name)).not.toContain("JSESSIONID");
      await page.goto(`${routerUrl}/`);
      await page.waitForURL((url) => url.origin === simOrigin, { timeout: 10_000 });
      await expect.poll(() => page.locator('input[name="password"]').count()).toBe(1);
      await context.close();

      expect(await dev.stop()).toBe(0);
      await eventuallyPasses(
        async () =>
          expect(
            await accepts(Number(new URL(simOrigin).port), new URL(simOrigin).hostname),
            "the simulator still listens",
          ).toBe(false),
        3000,
      );
    } catch (err) {
      failed = true;
      throw err;
    }
  }, 60_000);
});

describe("logout in a browser, beyond the router's host", () => {
  // A logout answer with `Clear-Site-Data: "cookies"` would make browsers drop the cookies
  // of the whole site (the registrable domain, every host and port under it), i.e. the
  // sessions of other applications of the same site. The router expires its own cookie
  // with Set-Cookie only.
  it("leaves the cookies of other hosts of the same site alone (no Clear-Site-Data)", async () => {
    const { router: port, backend: backendPort } = await devPorts();
    const dev = await startDev(
      ["--no-login", "--port", String(port), "--backend-port", String(backendPort)],
      {},
    );
    // app.example.test and its siblings resolve to the router; the origin counts as secure as
    // 127.0.0.1 does (Clear-Site-Data and Secure cookies need a secure context).
    const origin = `http://app.example.test:${port}`;
    const siteBrowser = await launchBrowser({
      args: [
        "--host-resolver-rules=MAP *.example.test 127.0.0.1",
        `--unsafely-treat-insecure-origin-as-secure=${origin}`,
      ],
    });
    try {
      const context = await siteBrowser.newContext();
      await context.addCookies([
        { name: "other_app", value: "1", domain: "other.example.test", path: "/" },
        { name: "site_wide", value: "1", domain: ".example.test", path: "/" },
      ]);
      const page = await context.newPage();
      await page.goto(`${origin}/`);
      const answer = await page.evaluate(async () => {
        const token =
          (await fetch("/api/echo", { headers: { "x-csrf-token": "fetch" } })).headers.get("x-csrf-token") ??
          "";
        const res = await fetch("/logout", {
          method: "POST",
          headers: { "x-csrf-token": token },
          redirect: "manual",
        });
        return `${res.type} ${res.status}`;
      });
      expect(answer).toBe("basic 200"); // the router's logout page: logged out
      await sleep(200);
      const names = (await context.cookies()).map((c) => `${c.domain} ${c.name}`);
      expect(names).toEqual(
        expect.arrayContaining(["other.example.test other_app", ".example.test site_wide"]),
      );
    } finally {
      await siteBrowser.close();
      expect(await dev.stop()).toBe(0);
    }
  }, 30_000);
});
