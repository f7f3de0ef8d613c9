import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEdgeRouter, type EdgeRouter } from "../support/edge-router.js";
import { startLoopbackServer, type LoopbackServer } from "../support/loopback-http.js";
import { bundleWorker } from "../support/worker-bundle.js";

/**
 * `localDir` routes served from Workers static assets (Miniflare's assets, bound as
 * `ASSETS`, the Worker invoked first as with wrangler's `run_worker_first`), on a temporary
 * folder: methods, Cache-Control, traversal attempts, the welcome file, a protected folder,
 * and the start-up check of the binding.
 */
const SECRET = "TOP-SECRET-OUTSIDE-THE-FOLDER";
const PRIVATE = "PRIVATE-PAGE-CONTENT";
const INDEX = "<!doctype html><title>app</title><p>APP-INDEX</p>";

let dir: string;
let script: string;
let idp: LoopbackServer;
let router: EdgeRouter;

const XS_APP = {
  welcomeFile: "/app/index.html",
  authenticationMethod: "route",
  routes: [
    {
      source: "^/app/(.*)$",
      target: "$1",
      localDir: "app",
      cacheControl: "public, max-age=600",
      authenticationType: "none",
    },
    { source: "^/private/(.*)$", target: "$1", localDir: "private", authenticationType: "xsuaa" },
  ],
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "approuter-assets-"));
  mkdirSync(join(dir, "app", "sub"), { recursive: true });
  mkdirSync(join(dir, "private"));
  writeFileSync(join(dir, "app", "index.html"), INDEX);
  writeFileSync(join(dir, "app", "style.css"), "body { color: teal }");
  writeFileSync(join(dir, "app", "sub", "deep.txt"), "DEEP");
  writeFileSync(join(dir, "secret.txt"), SECRET);
  writeFileSync(join(dir, "private", "page.html"), PRIVATE);
  writeFileSync(join(dir, "private", "index.html"), PRIVATE);

  // Just enough of an identity provider for the login redirect: its discovery document.
  idp = await startLoopbackServer((req, res) => {
    if (req.url === "/.well-known/openid-configuration") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          issuer: idp.url,
          authorization_endpoint: `${idp.url}/oauth/authorize`,
          token_endpoint: `${idp.url}/oauth/token`,
          jwks_uri: `${idp.url}/token_keys`,
          response_types_supported: ["code"],
          subject_types_supported: ["public"],
          id_token_signing_alg_values_supported: ["RS256"],
        }),
      );
      return;
    }
    res.writeHead(404).end();
  });
  script = await bundleWorker();
  router = await startEdgeRouter({ script, assetsDirectory: dir, bindings: bindingsFor(XS_APP) });
});

afterAll(async () => {
  await router?.dispose();
  await idp?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function bindingsFor(xsApp: unknown): Record<string, string> {
  return {
    XS_APP: JSON.stringify(xsApp),
    VCAP_SERVICES: JSON.stringify({
      xsuaa: [
        {
          name: "uaa",
          label: "xsuaa",
          tags: ["xsuaa"],
          credentials: {
            url: idp.url,
            clientid: "router-client",
            clientsecret: "router-secret",
            xsappname: "app",
          },
        },
      ],
    }),
    PRESERVE_FRAGMENT: "false", // a 302 to the provider (the default is SAP's login page)
  };
}

describe("localDir from static assets", () => {
  it("serves GET with the route's cacheControl and the file's type", async () => {
    const res = await router.fetch("/app/index.html");
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(INDEX);
    expect(res.headers.get("cache-control")).toBe("public, max-age=600");
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    expect(res.headers.get("x-frame-options")).toBe("SAMEORIGIN");

    const css = await router.fetch("/app/style.css?v=3");
    expect(await css.text()).toBe("body { color: teal }");
    expect(css.headers.get("content-type")).toMatch(/^text\/css/);
    expect(css.headers.get("cache-control")).toBe("public, max-age=600");
    expect(await (await router.fetch("/app/sub/deep.txt")).text()).toBe("DEEP");
  });

  it("serves HEAD without a body, and conditional GETs as 304 with cacheControl", async () => {
    const head = await router.fetch("/app/index.html", { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("cache-control")).toBe("public, max-age=600");
    expect((await head.arrayBuffer()).byteLength).toBe(0);

    const etag = (await router.fetch("/app/style.css")).headers.get("etag");
    expect(etag).toBeTruthy();
    const again = await router.fetch("/app/style.css", { headers: { "if-none-match": etag! } });
    expect(again.status).toBe(304);
    expect(again.headers.get("cache-control")).toBe("public, max-age=600");
  });

  it("answers other methods with 405 and Allow: GET, HEAD", async () => {
    for (const method of ["POST", "PUT", "DELETE", "PATCH"]) {
      const res = await router.fetch("/app/index.html", {
        method,
        ...(method === "DELETE" ? {} : { body: "x" }),
      });
      expect(res.status, method).toBe(405);
      expect(res.headers.get("allow"), method).toBe("GET, HEAD");
      expect(await res.text(), method).not.toContain("APP-INDEX");
    }
  });

  it("answers 404 for a file that is not there, without cacheControl", async () => {
    const res = await router.fetch("/app/missing.html");
    expect(res.status).toBe(404);
    expect(res.headers.get("cache-control")).not.toBe("public, max-age=600");
    expect(await res.text()).not.toContain("APP-INDEX");
  });

  it("never serves a file outside the folder, whatever the traversal attempt (fetch and raw request lines)", async () => {
    // Dot segments, literal or encoded, are resolved by URL parsing before routing: they
    // land outside the route (404) or in another route, which then applies (the protected
    // folder: login). Encoded separators and "..;" survive parsing: the router refuses
    // them (400) before anything is fetched.
    const resolved = [
      "/app/../secret.txt",
      "/app/%2e%2e/secret.txt",
      "/app/%2E%2E/secret.txt",
      "/app/.%2e/secret.txt",
      "/app/..\\secret.txt",
      "/app/sub\\..\\..\\secret.txt",
      "/app/%252e%252e/secret.txt",
      "/app/%2e%2e%252fsecret.txt",
      "/app//../secret.txt",
      "/app/%00/../../secret.txt",
      "/app/./../secret.txt",
      "/app/%2e%2e/private/page.html",
    ];
    const refused = [
      "/app/..%2fsecret.txt",
      "/app/..%2Fsecret.txt",
      "/app/%2e%2e%2fsecret.txt",
      "/app/sub/..%2f..%2fsecret.txt",
      "/app/..%5csecret.txt",
      "/app/..%5Csecret.txt",
      "/app/..%2fprivate%2fpage.html",
      "/app/..;/secret.txt", // Tomcat reads "..;" as "..": refused in any spelling (issue 9)
    ];
    const login = `${idp.url}/oauth/authorize?`;
    for (const path of [...resolved, ...refused]) {
      const viaFetch = await router.fetch(path, { redirect: "manual" });
      // Unnormalised too, as a raw request line (no client-side resolution of "..").
      const raw = await router.raw(path);
      for (const [how, status, location, body] of [
        ["fetch", viaFetch.status, viaFetch.headers.get("location"), await viaFetch.text()],
        ["raw", raw.status, raw.headers.location, raw.body.toString()],
      ] as const) {
        const what = `${how} ${path}: ${status}`;
        if (refused.includes(path)) expect(status, what).toBe(400);
        else
          expect(status === 404 || (status === 302 && (location ?? "").startsWith(login)), what).toBe(true);
        expect(body, what).not.toContain(SECRET);
        expect(body, what).not.toContain(PRIVATE);
      }
    }
    // Dots in the query are only a query: the folder's index, nothing else.
    expect((await router.raw("/app/?/../../secret.txt")).body.toString()).toBe(INDEX);
    // The files are there: it is the router that keeps them out of reach.
    expect(await (await router.fetch("/app/index.html")).text()).toBe(INDEX);
  });

  it("redirects / to the welcome file, query or not", async () => {
    for (const path of ["/", "/?lang=de"]) {
      const res = await router.fetch(path, { redirect: "manual" });
      expect(res.status, path).toBe(302);
      expect(res.headers.get("location"), path).toBe("/app/index.html");
    }
  });

  it("serves the welcome file itself to a CSRF token fetch on /", async () => {
    const res = await router.fetch("/", { headers: { "x-csrf-token": "fetch" }, redirect: "manual" });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(INDEX);
    expect(res.headers.get("x-csrf-token")).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });
});

describe("a protected localDir route", () => {
  it("sends a browser to the identity provider instead of serving the file", async () => {
    for (const method of ["GET", "HEAD"]) {
      const res = await router.fetch("/private/page.html", { method, redirect: "manual" });
      const body = await res.text();
      expect(res.status, method).toBe(302);
      const location = new URL(res.headers.get("location")!);
      expect(`${location.origin}${location.pathname}`).toBe(`${idp.url}/oauth/authorize`);
      expect(location.searchParams.get("client_id")).toBe("router-client");
      expect(location.searchParams.get("redirect_uri")).toBe("https://router.test/login/callback");
      expect(body).not.toContain(PRIVATE);
    }
  });

  it("answers 401 to an XMLHttpRequest and to other methods, never with the file", async () => {
    const xhr = await router.fetch("/private/page.html", {
      headers: { "x-requested-with": "XMLHttpRequest" },
    });
    expect(xhr.status).toBe(401);
    expect(await xhr.text()).not.toContain(PRIVATE);
    const post = await router.fetch("/private/page.html", { method: "POST", body: "x" });
    expect(post.status).toBe(401);
    expect(await post.text()).not.toContain(PRIVATE);
  });

  it("is not served through traversal from the public folder or directly from the assets", async () => {
    for (const path of [
      "/private/../private/page.html",
      "/private/",
      "/private/page",
      "/page.html",
      "/private/page.html?x-csrf-token=fetch",
    ]) {
      const res = await router.fetch(path, { redirect: "manual" });
      expect(await res.text(), path).not.toContain(PRIVATE);
      expect(res.status, path).not.toBe(200);
    }
  });
});

describe("start-up check of the assets binding", () => {
  it("refuses to start (503 for every request) when a localDir route has no ASSETS binding", async () => {
    for (const options of [{}, { assetsDirectory: dir, assetsBinding: "STATIC" }]) {
      const broken = await startEdgeRouter({ script, bindings: bindingsFor(XS_APP), ...options });
      try {
        for (const path of ["/app/index.html", "/", "/private/page.html"]) {
          const res = await broken.fetch(path, { redirect: "manual" });
          const body = await res.text();
          expect(res.status, path).toBe(503);
          expect(body, path).not.toContain("APP-INDEX");
          expect(body, path).not.toContain("ASSETS"); // the page is generic; the log names the problem
        }
      } finally {
        await broken.dispose();
      }
    }
  });
});
