import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEchoBackend } from "../support/backend.js";
import { sessionCookieOf, startCluster, type Cluster } from "../support/cluster.js";
import { loginThroughForms } from "../support/form-login.js";
import { startHtml5RepoSim, type Html5RepoSim } from "../support/html5-repo-sim.js";
import { startIdp, type Idp, identityBinding } from "../support/idp.js";
import { bundleWorker } from "../support/worker-bundle.js";

/**
 * The HTML5 application repository: the bundled router in workerd (Miniflare) with the
 * repository simulator bound in VCAP_SERVICES, an echo backend behind a destination of an
 * app's own xs-app.json, and a real OpenID provider for a logged-in app route.
 */
const ORIGIN = "https://router.test";
let idp: Idp;
let backend: Awaited<ReturnType<typeof startEchoBackend>>;
let script: string;

const page = (text: string) => `<!doctype html><title>${text}</title><h1>${text}</h1>`;

/** The app's own routing, as an HTML5 app deploys it with its files. */
const BOOKS_XS_APP = {
  welcomeFile: "/index.html",
  authenticationMethod: "route",
  routes: [
    {
      source: "^/api/(.*)$",
      target: "/$1",
      destination: "backend",
      authenticationType: "none",
      csrfProtection: false,
    },
    { source: "^/admin/(.*)$", target: "/$1", service: "html5-apps-repo-rt", authenticationType: "ias" },
    {
      source: "^/index.html$",
      service: "html5-apps-repo-rt",
      authenticationType: "none",
      cacheControl: "no-cache, no-store, must-revalidate",
    },
    { source: "^(.*)$", target: "$1", service: "html5-apps-repo-rt", authenticationType: "none" },
  ],
};

/** The rest of `big.js`, sent when a test releases it: until then the repository is still sending. */
let releaseBig: (tail: string) => void = () => {};
const bigRest = () => new Promise<string>((resolve) => (releaseBig = resolve));

function books(version: string) {
  return {
    name: "books",
    version,
    files: {
      "xs-app.json": JSON.stringify(BOOKS_XS_APP),
      "index.html": page(`books ${version}`),
      "app.js": `console.log("books ${version}");`,
      "lib.js": { body: "lib", type: "application/javascript", cacheControl: "max-age=60" },
      "panel.html": page("admin panel"),
      "big.js": {
        body: "/* first part */",
        type: "application/javascript",
        get rest() {
          return bigRest();
        },
      },
    },
  };
}

/** The central xs-app.json: its own backend route, then everything else from the repository. */
const CENTRAL_XS_APP = {
  authenticationMethod: "route",
  routes: [
    { source: "^/central/(.*)$", target: "/$1", destination: "backend", authenticationType: "none" },
    { source: "^(.*)$", target: "$1", service: "html5-apps-repo-rt", authenticationType: "none" },
  ],
};

async function setup(
  extra: Record<string, string> = {},
): Promise<{ c: Cluster; sim: Html5RepoSim; stop: () => Promise<void> }> {
  const sim = await startHtml5RepoSim({ apps: [books("1.0.0"), books("2.0.0")] });
  const vcap = {
    "html5-apps-repo": [sim.binding],
    // The test OpenID provider, bound as SAP binds IAS (a generic OpenID provider is bound so).
    identity: [identityBinding(idp, "ias")],
  };
  const c = await startCluster({
    script,
    workers: ["a"],
    bindings: {
      PRESERVE_FRAGMENT: "false",
      VCAP_SERVICES: JSON.stringify(vcap),
      destinations: JSON.stringify([{ name: "backend", url: backend.url }]),
      XS_APP: JSON.stringify(CENTRAL_XS_APP),
      ...extra,
    },
  });
  return { c, sim, stop: async () => void (await Promise.all([c.dispose(), sim.stop()])) };
}

let shared: Awaited<ReturnType<typeof setup>>;
beforeAll(async () => {
  [idp, backend, script] = await Promise.all([
    startIdp({ redirectUris: [`${ORIGIN}/login/callback`] }),
    startEchoBackend(),
    bundleWorker(),
  ]);
  shared = await setup();
});
afterAll(async () => {
  await shared?.stop();
  await Promise.all([idp?.stop(), backend?.close()]);
});

const get = (c: Cluster, path: string, headers: Record<string, string> = {}) =>
  c.fetch("a", path, { redirect: "manual", headers });
const files = (sim: Html5RepoSim) => sim.requests.filter((r) => r.kind === "file");

describe("HTML5 application repository: apps served through the runtime API", () => {
  it("serves an app's index.html through the repository with the binding's token; no version is the repository's default", async () => {
    const { c, sim } = shared;
    const res = await get(c, "/books/index.html", {
      cookie: "JSESSIONID=x; other=1",
      authorization: "Bearer from-browser",
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(await res.text()).toBe(page("books 2.0.0"));
    const file = files(sim).at(-1)!;
    expect(file).toMatchObject({
      method: "GET",
      path: "/applications/content/books/index.html",
      status: 200,
    });
    // The app's xs-app.json was read from the repository, with the same token.
    expect(
      sim.requests.some(
        (r) =>
          r.kind === "xs-app" && r.path === "/applications/content/books/xs-app.json" && r.status === 200,
      ),
    ).toBe(true);
  });

  it("a versioned app key serves that version, with its own xs-app.json", async () => {
    const { c, sim } = shared;
    const res = await get(c, "/books-1.0.0/app.js");
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('console.log("books 1.0.0");');
    expect(files(sim).at(-1)!.path).toBe("/applications/content/books-1.0.0/app.js");
    expect(
      sim.requests.some(
        (r) => r.kind === "xs-app" && r.path === "/applications/content/books-1.0.0/xs-app.json",
      ),
    ).toBe(true);
  });

  it("the app's welcome file: /books and /books/ redirect to /books/index.html", async () => {
    const { c } = shared;
    for (const path of ["/books", "/books/"]) {
      const res = await get(c, path);
      expect(res.status).toBe(302);
      expect(res.headers.get("location")).toBe("/books/index.html");
    }
  });

  it("the app's own route to a destination: the path without the app key reaches the backend, no repository token", async () => {
    const { c } = shared;
    const res = await get(c, "/books/api/items?top=2");
    expect(res.status).toBe(200);
    const body = (await res.json()) as { url: string };
    expect(body.url).toBe("/items?top=2");
    const seen = backend.seen.filter((s) => s.url === "/items?top=2").at(-1)!;
    expect(seen.headers.authorization).toBeUndefined();
    expect(seen.headers["x-forwarded-path"]).toBe("/books/api/items");
  });

  it("caching headers as SAP sets them: the route's cacheControl, the repository's own, a year for cache-buster paths", async () => {
    const { c, sim } = shared;
    const index = await get(c, "/books/index.html");
    expect(index.headers.get("cache-control")).toBe("no-cache, no-store, must-revalidate");
    await index.body?.cancel();
    const busted = await get(c, "/books/~1733489000~/app.js");
    expect(busted.status).toBe(200);
    expect(busted.headers.get("cache-control")).toBe("public, max-age=31536000");
    expect(await busted.text()).toBe('console.log("books 2.0.0");');
    // The cache-buster segment never reaches the repository.
    expect(files(sim).at(-1)!.path).toBe("/applications/content/books/app.js");
    // The repository's Cache-Control wins over the cache buster (SAP copies its headers last).
    const lib = await get(c, "/books/~1~/lib.js");
    expect(lib.headers.get("cache-control")).toBe("max-age=60");
    await lib.body?.cancel();
    // No cacheControl and no cache buster: none.
    const plain = await get(c, "/books/app.js");
    expect(plain.headers.get("cache-control")).toBeNull();
    await plain.body?.cancel();
  });

  it("conditional requests pass: ETag and If-None-Match give 304 without a body; a missing file is the repository's 404", async () => {
    const { c } = shared;
    const first = await get(c, "/books/app.js");
    const etag = first.headers.get("etag")!;
    expect(etag).toMatch(/^".+"$/);
    await first.body?.cancel();
    const again = await get(c, "/books/app.js", { "if-none-match": etag });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe("");
    const missing = await get(c, "/books/nothing-here.js");
    expect(missing.status).toBe(404);
    await missing.body?.cancel();
  });

  it("an app the repository does not have: 404 HTML5_APP_NOT_FOUND through the central html5 route, without another file call; central routes still work", async () => {
    const { c, sim } = shared;
    const before = files(sim).length;
    const res = await get(c, "/nosuchapp/index.html");
    expect(res.status).toBe(404);
    expect(await res.text()).toContain("HTML5_APP_NOT_FOUND");
    expect(
      sim.requests.some(
        (r) =>
          r.kind === "xs-app" && r.path === "/applications/content/nosuchapp/xs-app.json" && r.status === 503,
      ),
    ).toBe(true);
    expect(files(sim).length).toBe(before);
    const central = await get(c, "/central/ping");
    expect(central.status).toBe(200);
    expect(((await central.json()) as { url: string }).url).toBe("/ping");
  });

  it("files are streamed: the first bytes arrive while the repository is still sending", async () => {
    const { c } = shared;
    const res = await get(c, "/books/big.js");
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    // Buffering would wait for the end, which only comes after this first read.
    const first = new TextDecoder().decode((await reader.read()).value);
    expect(first).toBe("/* first part */");
    releaseBig("/* rest */");
    let rest = "";
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read())
      rest += new TextDecoder().decode(chunk.value);
    expect(rest).toBe("/* rest */");
  });

  it("a logged-in app route: login first, then the file", async () => {
    const { c } = shared;
    const start = await get(c, "/books/admin/panel.html");
    expect(start.status).toBe(302);
    expect(start.headers.get("location")).toContain(idp.issuer);
    const callback = await loginThroughForms({
      routerFetch: (url, init) => c.fetch("a", new URL(url).pathname + new URL(url).search, init),
      routerOrigin: ORIGIN,
      start,
      startUrl: `${ORIGIN}/books/admin/panel.html`,
      login: "alice",
      password: "alice-password",
    });
    const cookie = sessionCookieOf(callback)!;
    expect(callback.headers.get("location")).toBe("/books/admin/panel.html");
    const res = await get(c, "/books/admin/panel.html", { cookie });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(page("admin panel"));
  });
});

describe("HTML5 application repository: caching and failures", () => {
  it("token and xs-app.json are fetched once for N requests; every file is one call", async () => {
    const { c, sim, stop } = await setup();
    try {
      const N = 20;
      const answers = await Promise.all(
        Array.from({ length: N }, (_, i) => get(c, i % 2 === 0 ? "/books/index.html" : "/books/app.js")),
      );
      for (const res of answers) {
        expect(res.status).toBe(200);
        await res.body?.cancel();
      }
      expect(sim.count("token")).toBe(1);
      expect(sim.count("xs-app")).toBe(1);
      expect(sim.count("file")).toBe(N);
    } finally {
      await stop();
    }
  });

  it("DIRECT_ROUTING_URI_PATTERNS: a central route's first segment never reaches the repository; apps still do", async () => {
    const { c, sim, stop } = await setup({ DIRECT_ROUTING_URI_PATTERNS: '["^cent"]' });
    try {
      for (let i = 0; i < 3; i++) {
        const central = await get(c, `/central/ping${i}`);
        expect(central.status).toBe(200);
        expect(((await central.json()) as { url: string }).url).toBe(`/ping${i}`);
      }
      const app = await get(c, "/books/index.html");
      expect(app.status).toBe(200);
      expect(await app.text()).toContain("books 2.0.0");
      expect(sim.requests.filter((r) => r.kind === "xs-app").map((r) => r.path)).toEqual([
        "/applications/content/books/xs-app.json",
      ]);
    } finally {
      await stop();
    }
  });

  it("repository down: 503 HTML5_REPO_UNAVAILABLE, never a 500, no secret or repository address in the answer", async () => {
    const { c, sim, stop } = await setup();
    try {
      for (const outage of ["503", "reset"] as const) {
        sim.setOutage(outage);
        const res = await get(c, outage === "503" ? "/books/index.html" : "/books-1.0.0/index.html");
        expect(res.status).toBe(503);
        const body = await res.text();
        expect(body).toContain("HTML5_REPO_UNAVAILABLE");
        for (const secret of [sim.clientSecret, sim.clientId, sim.url, "127.0.0.1"])
          expect(body).not.toContain(secret);
      }
      // Up again, with the xs-app.json cached: a file the repository cannot serve is 503 too.
      sim.setOutage(null);
      await new Promise((r) => setTimeout(r, 2_100)); // the remembered outage (2 s) passes
      const ok = await get(c, "/books/index.html");
      expect(ok.status).toBe(200);
      await ok.body?.cancel();
      sim.setOutage("503");
      const file = await get(c, "/books/app.js");
      expect(file.status).toBe(503);
      expect(await file.text()).toContain("HTML5_REPO_UNAVAILABLE");
    } finally {
      await stop();
    }
  });

  it("a revoked token: one new token and the file is served", async () => {
    const { c, sim, stop } = await setup();
    try {
      const first = await get(c, "/books/index.html");
      await first.body?.cancel();
      sim.revokeTokens();
      const res = await get(c, "/books/app.js");
      expect(res.status).toBe(200);
      await res.body?.cancel();
      expect(sim.count("token")).toBe(2);
    } finally {
      await stop();
    }
  });
});

describe("HTML5 repository simulator command line", () => {
  it("prints VCAP_SERVICES whose credentials reach the running simulator: a token, then the sample app", async () => {
    const child = spawn(process.execPath, ["scripts/sim/html5-repo.mjs"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    try {
      let out = "";
      let vcap:
        | {
            "html5-apps-repo": [
              { credentials: { uri: string; uaa: { url: string; clientid: string; clientsecret: string } } },
            ];
          }
        | undefined;
      for await (const chunk of child.stdout!) {
        out += String(chunk);
        try {
          vcap = JSON.parse(out);
          break;
        } catch {
          // not complete yet
        }
      }
      const { uri, uaa } = vcap!["html5-apps-repo"][0].credentials;
      const form = new URLSearchParams({
        grant_type: "client_credentials",
        client_id: uaa.clientid,
        client_secret: uaa.clientsecret,
      });
      const token = (await (
        await fetch(`${uaa.url}/oauth/token`, { method: "POST", body: form })
      ).json()) as { access_token: string };
      const index = await fetch(`${uri}/sample-1.0.0/index.html`, {
        headers: { authorization: `Bearer ${token.access_token}` },
      });
      expect(index.status).toBe(200);
      expect(await index.text()).toContain("sample 1.0.0");
      expect((await fetch(`${uri}/sample/index.html`)).status).toBe(401);
    } finally {
      child.kill("SIGTERM");
    }
  });
});
