// The router's error pages in headless Chromium: pages answered by the real router (bundled
// worker in workerd) for real mistakes, and every other code rendered by the same function.
// Each page must show its heading, sentence, hint and code, fit a phone's width, and is
// screenshotted for review into test-results/error-pages/ (gitignored; env
// ERROR_PAGE_SHOTS names another folder).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { configurationInvalidPage, ERROR_CODES, renderErrorPage } from "../../src/http/pages.js";
import { launchBrowser } from "../support/browser.js";
import { scriptRedirectOf } from "../support/sap-form-login.js";
import { startEdgeRouter, type EdgeRouter } from "../support/edge-router.js";
import { bundleWorker } from "../support/worker-bundle.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const SHOTS = process.env.ERROR_PAGE_SHOTS || join(ROOT, "test-results", "error-pages");
const DEAD_PORT = 9; // discard: nothing listens there

const XS_APP = {
  authenticationMethod: "route",
  routes: [
    { source: "^/static/(.*)$", target: "$1", localDir: "static", authenticationType: "none" },
    { source: "^/api/(.*)$", target: "/$1", destination: "backend", authenticationType: "none" },
    { source: "^/private/(.*)$", target: "/$1", destination: "backend", authenticationType: "xsuaa" },
    { source: "^/ias/(.*)$", target: "/$1", destination: "backend", authenticationType: "ias" },
  ],
};
// Both providers are down: XSUAA (endpoints from the binding, so the login starts and the
// code exchange fails at the callback) and IAS (its discovery fails when the login starts).
const DEAD_URL = `http://127.0.0.1:${DEAD_PORT}`;
const VCAP = {
  xsuaa: [
    {
      name: "uaa",
      label: "xsuaa",
      tags: ["xsuaa"],
      credentials: {
        url: DEAD_URL,
        clientid: "c",
        clientsecret: "s",
        xsappname: "app",
        uaadomain: `127.0.0.1:${DEAD_PORT}`,
      },
    },
  ],
  identity: [
    {
      name: "ias",
      label: "identity",
      tags: ["ias"],
      credentials: { url: DEAD_URL, clientid: "c", clientsecret: "s", domains: ["127.0.0.1"] },
    },
  ],
};

let assets: string;
let router: EdgeRouter;
let broken: EdgeRouter;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  assets = mkdtempSync(join(tmpdir(), "approuter-error-pages-"));
  mkdirSync(join(assets, "static"));
  writeFileSync(join(assets, "static", "index.html"), "<p>static</p>");
  mkdirSync(SHOTS, { recursive: true });
  const script = await bundleWorker();
  const destinations = JSON.stringify([{ name: "backend", url: `http://127.0.0.1:${DEAD_PORT}` }]);
  [router, broken, browser] = await Promise.all([
    startEdgeRouter({
      script,
      assetsDirectory: assets,
      bindings: { XS_APP: JSON.stringify(XS_APP), destinations, VCAP_SERVICES: JSON.stringify(VCAP) },
    }),
    // A misspelt property and a destination without URL: the configuration is invalid.
    startEdgeRouter({
      script,
      bindings: {
        XS_APP: JSON.stringify({
          routes: [{ source: "^/(.*)$", destination: "backend", authenticationtype: "none" }],
        }),
        destinations: JSON.stringify([{ name: "backend" }]),
      },
    }),
    launchBrowser(),
  ]);
  page = await browser.newPage({ viewport: { width: 1024, height: 700 } });
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await Promise.all([router?.dispose(), broken?.dispose()]);
  if (assets) rmSync(assets, { recursive: true, force: true });
});

/** Shows `html` in Chromium, checks what a reader needs, screenshots it at desktop and phone width. */
async function review(name: string, html: string, code: string): Promise<void> {
  await page.setViewportSize({ width: 1024, height: 700 });
  await page.setContent(html);
  expect(await page.locator("h1").isVisible()).toBe(true);
  // Playwright's innerText is the rendered text the user reads, which is the point here.
  // biome-ignore lint/performance/useDomNodeTextContent: not a DOM node
  const text = (await page.locator("main").innerText()).replace(/\s+/g, " ");
  expect(text).toContain(`Error code: ${code}`);
  expect(text.length).toBeGreaterThan(`Error code: ${code}`.length + 60); // a sentence and a hint, not a bare code
  await page.screenshot({ path: join(SHOTS, `${name}.png`) });
  await page.setViewportSize({ width: 360, height: 700 });
  // Nothing wider than a phone: no sideways scrolling.
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
  await page.screenshot({ path: join(SHOTS, `${name}.phone.png`), fullPage: true });
}

describe("error pages answered by the router", () => {
  it.each([
    ["route-not-found", "/nowhere", {}, 404, "ROUTE_NOT_FOUND"],
    ["file-not-found", "/static/missing.html", {}, 404, "FILE_NOT_FOUND"],
    ["method-not-allowed", "/static/index.html", { method: "POST" }, 405, "METHOD_NOT_ALLOWED"],
    ["backend-unreachable", "/api/x", {}, 502, "BACKEND_UNREACHABLE"],
    [
      "authentication-required",
      "/private/x",
      { headers: { "x-requested-with": "XMLHttpRequest" } },
      401,
      "AUTHENTICATION_REQUIRED",
    ],
    ["login-state-invalid", `/login/callback?state=${"a".repeat(43)}&code=x`, {}, 400, "LOGIN_STATE_INVALID"],
    ["idp-unavailable-discovery", "/ias/x", {}, 503, "IDP_UNAVAILABLE"],
  ] as const)("%s", async (name, path, init, status, code) => {
    const res = await router.fetch(path, init as RequestInit);
    expect(res.status).toBe(status);
    await review(`router-${name}`, await res.text(), code);
  });

  it("idp unavailable at the code exchange: XSUAA's login starts from the binding, its token endpoint is down", async () => {
    const start = await router.fetch("/private/x");
    expect(start.status).toBe(200); // SAP's login page (PRESERVE_FRAGMENT), no provider call yet
    const authorize = new URL(scriptRedirectOf(await start.text())!);
    expect(authorize.href.startsWith(`${DEAD_URL}/oauth/authorize?`)).toBe(true);
    const loginCookies = start.headers.getSetCookie().map((c) => c.split(";")[0]!);
    const state = authorize.searchParams.get("state")!;
    const res = await router.fetch(`/login/callback?state=${state}&code=some-code`, {
      headers: { cookie: loginCookies.join("; ") },
    });
    expect(res.status).toBe(502);
    await review("router-idp-unavailable-token", await res.text(), "IDP_UNAVAILABLE");
  });

  it("configuration invalid, deployed: the page points to the log, the problems stay out of it", async () => {
    const res = await broken.fetch("/x");
    expect(res.status).toBe(503);
    const html = await res.text();
    expect(html).not.toContain("authenticationtype");
    expect(html).toContain("wrangler tail");
    await review("router-configuration-invalid-deployed", html, "CONFIGURATION_INVALID");
  });
});

describe("every error code, rendered", () => {
  it("configuration invalid in local development lists each problem", async () => {
    const problems = [
      'XS_APP.routes[0].authenticationtype: unknown property; did you mean "authenticationType"?',
      "destinations[0].url: missing required property",
      'xs-app.json.routes[3].localDir: needs static assets bound as ASSETS (wrangler.toml [assets] with directory, binding = "ASSETS" and run_worker_first = true)',
    ];
    const res = configurationInvalidPage(new Request("http://127.0.0.1:8787/"), {}, problems);
    const html = await res.text();
    await review("configuration-invalid-local", html, "CONFIGURATION_INVALID");
    expect(await page.locator("li").count()).toBe(problems.length);
  });

  it.each(ERROR_CODES)("%s", async (code) => {
    await review(`code-${code}`, renderErrorPage(code === "LOGIN_FAILED" ? 401 : 400, code), code);
  });
});
