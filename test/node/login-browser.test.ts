import { dirname } from "node:path";
import { Miniflare } from "miniflare";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEchoBackend } from "../support/backend.js";
import { launchBrowser } from "../support/browser.js";
import { startXsuaaSim, type XsuaaSim } from "../support/sap-idp.js";
import { bundleWorker } from "../support/worker-bundle.js";

/**
 * Headless Chromium logs in through the XSUAA simulator (plain loopback, as `npm start` runs
 * it) with a deep link whose `#fragment` must survive: the router's login page runs its one
 * hashed script under its own Content-Security-Policy, the fragment rides in a cookie, and
 * the browser lands on the deep link, fragment included.
 */
let sim: XsuaaSim;
let backend: Awaited<ReturnType<typeof startEchoBackend>>;
let mf: Miniflare;
let routerUrl: string;
let browser: Browser;

beforeAll(async () => {
  let script: string;
  [sim, backend, script, browser] = await Promise.all([
    startXsuaaSim({ redirectUris: ["http://127.0.0.1:*/**"] }),
    startEchoBackend(),
    bundleWorker(),
    launchBrowser(),
  ]);
  mf = new Miniflare({
    modules: true,
    scriptPath: script,
    modulesRoot: dirname(script),
    compatibilityDate: "2026-04-26",
    host: "127.0.0.1",
    port: 0,
    bindings: {
      VCAP_SERVICES: sim.vcapServices(),
      destinations: JSON.stringify([{ name: "backend", url: backend.url, forwardAuthToken: true }]),
      XS_APP: JSON.stringify({
        routes: [
          { source: "^/app/(.*)$", target: "/$1", destination: "backend", scope: "$XSAPPNAME.Display" },
        ],
        logout: { logoutEndpoint: "/logout" },
      }),
    },
  } as never);
  routerUrl = (await mf.ready).origin;
});
afterAll(async () => {
  await browser?.close();
  await mf?.dispose();
  await Promise.all([sim?.stop(), backend?.close()]);
});

describe("login in a browser", () => {
  it("keeps the deep link's #fragment through an XSUAA login, under the login page's CSP", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const violations: string[] = [];
    page.on("console", (m) => {
      if (/Content Security Policy|Refused to execute/i.test(m.text())) violations.push(m.text());
    });
    await page.goto(`${routerUrl}/app/products?lang=en#/Products(7)/detail`);
    await page.waitForURL((url) => url.origin === sim.localOrigin || url.href.startsWith(sim.url));
    await page.fill('input[name="username"]', "demo");
    await page.fill('input[name="password"]', "demo");
    await Promise.all([
      page.waitForURL((url) => url.origin === routerUrl && url.pathname === "/app/products"),
      page.click('button[type="submit"]'),
    ]);
    expect(page.url()).toBe(`${routerUrl}/app/products?lang=en#/Products(7)/detail`);
    expect(violations).toEqual([]);
    expect(backend.seen.at(-1)!.headers.authorization).toMatch(/^Bearer /);
    const cookies = await context.cookies(routerUrl);
    expect(cookies.filter((c) => /_login_|_fragment_/.test(c.name))).toEqual([]); // cleared at the callback
    await context.close();
  });
});
