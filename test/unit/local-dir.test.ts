import { describe, expect, it } from "vitest";
import {
  assetPathFor,
  serveLocalDir,
  welcomeRedirect,
  type AssetFetcher,
  type LocalDirRoute,
} from "../../src/static/local-dir.js";

const ROUTER = "https://router.example";

/** A fake ASSETS binding that records what it is asked. */
function fakeAssets(
  respond: (req: Request) => Response = () =>
    new Response("content", { headers: { "content-type": "text/plain" } }),
) {
  const calls: Request[] = [];
  const fetcher: AssetFetcher = async (req) => {
    calls.push(req);
    return respond(req);
  };
  return { calls, fetcher };
}

const ROUTE: LocalDirRoute = { localDir: "/resources" };

describe("assetPathFor", () => {
  it.each([
    ["/resources", "/app.js", "/resources/app.js"],
    ["/resources", "app.js", "/resources/app.js"], // SAP "target": "$1"
    ["/resources", "/a/b/c.html?v=1#top", "/resources/a/b/c.html"],
    ["/resources", "/", "/resources/"],
    ["/resources", "", "/resources/"],
    ["/", "/index.html", "/index.html"],
    ["/a/b", "/x%20y.txt", "/a/b/x%20y.txt"],
    ["/resources", "/a..b/c...d", "/resources/a..b/c...d"],
    ["/resources", "/%252e%252e/x", "/resources/%252e%252e/x"], // decoded once by the asset server: a literal name
  ])("%s + %s → %s", (localDir, target, expected) => {
    expect(assetPathFor(localDir, target)).toBe(expected);
  });

  it.each([
    "/../secret",
    "/a/../../secret",
    "..",
    "/.",
    "/./x",
    "/%2e%2e/secret",
    "/%2E%2E/secret",
    "/.%2e/secret",
    "/%2e./secret",
    "/%2e/x",
    "/a\\..\\secret",
    "/a%5c..%5csecret",
    "/a%2f..%2fsecret",
    "/a%2F..",
    "/x%00.html",
    "/x%0a",
    "/x\u0000",
  ])("refuses %j", (target) => {
    expect(assetPathFor("/resources", target)).toBeNull();
  });
});

describe("serveLocalDir", () => {
  it("fetches the mapped asset and passes its answer on", async () => {
    const assets = fakeAssets();
    const res = await serveLocalDir(
      new Request(`${ROUTER}/web/app.js?v=2`),
      "/app.js?v=2",
      ROUTE,
      assets.fetcher,
    );
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("content");
    expect(assets.calls).toHaveLength(1);
    expect(assets.calls[0]!.url).toBe(`${ROUTER}/resources/app.js`);
    expect(assets.calls[0]!.method).toBe("GET");
  });

  it.each(["GET", "HEAD"])("%s is served", async (method) => {
    const assets = fakeAssets();
    const res = await serveLocalDir(new Request(`${ROUTER}/x`, { method }), "/x", ROUTE, assets.fetcher);
    expect(res.status).toBe(200);
    expect(assets.calls[0]!.method).toBe(method);
  });

  it.each(["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])(
    "%s: 405 with Allow, nothing fetched",
    async (method) => {
      const assets = fakeAssets();
      const res = await serveLocalDir(new Request(`${ROUTER}/x`, { method }), "/x", ROUTE, assets.fetcher);
      expect(res.status).toBe(405);
      expect(res.headers.get("allow")).toBe("GET, HEAD");
      expect(assets.calls).toHaveLength(0);
    },
  );

  it.each(["/../wrangler.toml", "/%2e%2e/x", "/a%5cb"])(
    "a path leaving the folder (%s): 400, nothing fetched",
    async (target) => {
      const assets = fakeAssets();
      const res = await serveLocalDir(new Request(`${ROUTER}/x`), target, ROUTE, assets.fetcher);
      expect(res.status).toBe(400);
      expect(assets.calls).toHaveLength(0);
    },
  );

  it("a target like //host/x stays on the router's host", async () => {
    const assets = fakeAssets();
    await serveLocalDir(
      new Request(`${ROUTER}//evil.example/x`),
      "//evil.example/x",
      { localDir: "/" },
      assets.fetcher,
    );
    const url = new URL(assets.calls[0]!.url);
    expect(url.host).toBe("router.example");
    expect(url.pathname).toBe("//evil.example/x");
  });

  it("passes conditional and range headers, not cookies, credentials or the router's CSRF header", async () => {
    const assets = fakeAssets();
    const incoming = new Request(`${ROUTER}/x`, {
      headers: {
        "if-none-match": '"abc"',
        range: "bytes=0-10",
        "accept-encoding": "br",
        cookie: "JSESSIONID=secret",
        authorization: "Bearer t",
        "x-csrf-token": "Fetch",
      },
    });
    await serveLocalDir(incoming, "/x", ROUTE, assets.fetcher);
    const sent = Object.fromEntries(assets.calls[0]!.headers);
    expect(sent).toEqual({ "if-none-match": '"abc"', range: "bytes=0-10", "accept-encoding": "br" });
  });

  it("a missing file: the router's own 404 page and a log line naming the asset path looked up", async () => {
    const assets = fakeAssets(() => new Response("not found", { status: 404 }));
    const logged: [string, Record<string, unknown> | undefined][] = [];
    const res = await serveLocalDir(
      new Request(`${ROUTER}/web/app/missing.js?v=1`),
      "/app/missing.js?v=1",
      ROUTE,
      assets.fetcher,
      (event, fields) => logged.push([event, fields]),
    );
    expect(res.status).toBe(404);
    const body = await res.text();
    expect(body).toContain("FILE_NOT_FOUND");
    expect(body).toContain("Page not found");
    expect(res.headers.get("x-approuter-error")).toBe("FILE_NOT_FOUND"); // replaceable by xs-app.json errorPage
    expect(logged).toEqual([
      ["static.not-found.warn", { path: "/resources/app/missing.js", localDir: "/resources" }],
    ]);
  });

  it.each([
    [200, "public, max-age=60"],
    [206, "public, max-age=60"],
    [304, "public, max-age=60"],
    [404, "no-cache, no-store, must-revalidate"], // the router's own 404 page
    [500, null],
  ])("cacheControl on a %i: %s", async (status, expected) => {
    const assets = fakeAssets(() => new Response(status === 304 ? null : "x", { status }));
    const res = await serveLocalDir(
      new Request(`${ROUTER}/x`),
      "/x",
      { ...ROUTE, cacheControl: "public, max-age=60" },
      assets.fetcher,
    );
    expect(res.status).toBe(status);
    expect(res.headers.get("cache-control")).toBe(expected);
  });

  it("without cacheControl, the assets' own Cache-Control is kept", async () => {
    const assets = fakeAssets(
      () =>
        new Response("x", {
          headers: { "cache-control": "public, max-age=0, must-revalidate", etag: '"1"' },
        }),
    );
    const res = await serveLocalDir(new Request(`${ROUTER}/x`), "/x", ROUTE, assets.fetcher);
    expect(res.headers.get("cache-control")).toBe("public, max-age=0, must-revalidate");
    expect(res.headers.get("etag")).toBe('"1"');
  });
});

describe("welcomeRedirect", () => {
  const req = (path: string, headers: Record<string, string> = {}, method = "GET") =>
    new Request(`${ROUTER}${path}`, { headers, method });

  it.each([
    ["/", "/index.html", "/index.html"],
    ["/?sap-language=EN", "/index.html", "/index.html"], // SAP: any query on "/"
    ["/", "/web/index.html?x=1", "/web/index.html?x=1"],
    // SAP keeps the identity provider a link chose (DYNAMIC_IDENTITY_PROVIDER), and only that.
    ["/?sap_idp=corp-idp&x=1", "/index.html", "/index.html?sap_idp=corp-idp"],
    ["/?sap_idp=My%20IdP", "/web/index.html?x=1", "/web/index.html?x=1&sap_idp=My%20IdP"],
    ["/?sap_idp=", "/index.html", "/index.html"],
  ])("%s with welcomeFile %s → 302 %s", (path, welcomeFile, location) => {
    const action = welcomeRedirect(req(path), welcomeFile);
    if (action?.kind !== "redirect") expect.fail(String(action?.kind));
    expect(action.response.status).toBe(302);
    expect(action.response.headers.get("location")).toBe(location);
  });

  it.each([
    ["not /", "/index.html", "/x"],
    ["no welcomeFile", undefined, "/"],
    ["welcomeFile / (would loop)", "/", "/"],
    ["welcomeFile /?query (would loop)", "/?a=1", "/"],
    ["a longer path", "/index.html", "//"],
  ])("%s: null", (_, welcomeFile, path) => {
    expect(welcomeRedirect(req(path), welcomeFile)).toBeNull();
  });

  it.each(["fetch", "Fetch", " fetch "])(
    "x-csrf-token: %j serves the welcome content instead (SAP)",
    (token) => {
      expect(welcomeRedirect(req("/", { "x-csrf-token": token }), "/index.html")).toEqual({
        kind: "rewrite",
        pathAndQuery: "/index.html",
      });
    },
  );
});
