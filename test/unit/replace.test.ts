import { describe, expect, it } from "vitest";
import expectations from "../compat/replace-expectations.json";
import type { Env } from "../../src/env.js";
import { loadConfig } from "../../src/config/index.js";
import {
  buildView,
  renderTemplate,
  replaceApplies,
  replaceStream,
  withReplace,
  type ReplaceLimits,
} from "../../src/static/replace.js";
import { serveLocalDir, type AssetFetcher } from "../../src/static/local-dir.js";

/** Feeds `text` through the stream in chunks of `size` bytes (placeholders split across chunks). */
async function streamed(
  text: string,
  view: Record<string, unknown>,
  size: number,
  limits?: ReplaceLimits,
): Promise<string> {
  const bytes = new TextEncoder().encode(text);
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      for (let i = 0; i < bytes.length; i += size) c.enqueue(bytes.slice(i, i + size));
      c.close();
    },
  });
  return new Response(body.pipeThrough(replaceStream(view, limits))).text();
}

describe("replace: mustache as SAP renders it (recorded with SAP's mustache.js)", () => {
  const { view, cases } = expectations as {
    view: Record<string, unknown>;
    cases: { template: string; output?: string; error?: boolean }[];
  };
  it("has recorded cases of both kinds", () => {
    expect(cases.filter((c) => c.error).length).toBeGreaterThan(10);
    expect(cases.filter((c) => !c.error).length).toBeGreaterThan(400);
  });
  it("renders every recorded template as SAP did, whole", () => {
    for (const c of cases) {
      if (c.error) expect(() => renderTemplate(c.template, view), c.template).toThrow();
      else expect(renderTemplate(c.template, view), c.template).toBe(c.output);
    }
  });
  it("renders every recorded template as SAP did, streamed in 1–3 byte chunks", async () => {
    for (const [i, c] of cases.entries()) {
      if (c.error) continue;
      expect(await streamed(c.template, view, 1 + (i % 3), undefined), c.template).toBe(c.output);
    }
  });
  it("SAP's README example: {{x}} escaped, {{{x}}} raw, service credentials by dotted name, missing variable empty", () => {
    const v = {
      escaped_text: 'ab"cd',
      NOT_ESCAPED: "http://x/<y>",
      "my-sapui5-service": { url: "http://sapui5url" },
    };
    expect(
      renderTemplate(
        '<t>{{escaped_text}}</t><s src="{{{NOT_ESCAPED}}}/i.js"/><s src="{{{my-sapui5-service.url}}}"/>{{nope}}.',
        v,
      ),
    ).toBe('<t>ab&quot;cd</t><s src="http://x/<y>/i.js"/><s src="http://sapui5url"/>.');
  });
  it("caps: an unclosed tag longer than the limit, a file or output beyond the limit abort the stream", async () => {
    const limits = { maxInputBytes: 1000, maxPendingChars: 50, maxOutputBytes: 2000 };
    await expect(streamed(`a{{${"x".repeat(100)}`, {}, 10, limits)).rejects.toThrow(/unclosed tag/);
    await expect(streamed("a".repeat(1001), {}, 100, limits)).rejects.toThrow(/too large/);
    await expect(
      streamed("{{#L}}{{{A}}}{{/L}}", { L: Array(30).fill(1), A: "y".repeat(100) }, 100, limits),
    ).rejects.toThrow(/too large/);
    expect(await streamed("ok {{A}}", { A: 1 }, 2, limits)).toBe("ok 1");
  });
  it("set-delimiter tags are refused (not supported)", () => {
    expect(() => renderTemplate("{{=<% %>=}}", {})).toThrow(/delimiters/);
  });
});

describe("replace: pathSuffixes and the view", () => {
  it.each([
    [[".html"], "/a/b.html", true],
    [["index.html"], "/", true],
    [["index.html"], "/sub/", true],
    [["/abc/main.html"], "/x/abc/main.html", true],
    [["/abc/main.html"], "/x/zabc/main.html", false],
    [["some.html"], "/awesome.html", true],
    [["/some.html"], "/awesome.html", false],
    [[".html"], "/a.js", false],
  ])("%j matches %s: %s", (suffixes, path, expected) => {
    expect(replaceApplies(suffixes, path)).toBe(expected);
  });

  const vcap = {
    sapui5_service: [
      { name: "sapui5", label: "sapui5_service", tags: ["ui5"], credentials: { url: "http://sapui5url" } },
    ],
    other: [
      { name: "a", label: "other", tags: ["t"], plan: "p1", credentials: { k: 1 } },
      { name: "b", label: "other", tags: ["t"], plan: "p2", credentials: { k: 2 } },
    ],
  };
  it("vars from the environment (missing: undefined), services by name, tag, label+plan", () => {
    const built = buildView(
      ["A", "MISSING", "J"],
      { ui: { tag: "ui5" }, byName: "b", lp: { label: "other", plan: "p1" } },
      { A: "1", J: { x: 1 } },
      vcap,
    );
    expect(built).toEqual({
      ok: true,
      view: {
        A: "1",
        MISSING: undefined,
        J: '{"x":1}',
        ui: { url: "http://sapui5url" },
        byName: { k: 2 },
        lp: { k: 1 },
      },
    });
  });
  it("no match, several matches and a key that is also a var are problems", () => {
    expect(buildView([], { x: "nope" }, {}, vcap)).toMatchObject({
      ok: false,
      path: "services.x",
      message: /no service binding/,
    });
    expect(buildView([], { x: { tag: "t" } }, {}, vcap)).toMatchObject({
      ok: false,
      message: /2 service bindings/,
    });
    expect(buildView(["x"], { x: "sapui5" }, {}, vcap)).toMatchObject({ ok: false, message: /collides/ });
  });
  it("loadConfig resolves the view and names problems by JSON path", () => {
    // localDir routes need the static assets bound (checked in the same pass).
    const ASSETS = { fetch: async () => new Response(null, { status: 404 }) };
    const route = (replace: unknown) => ({
      authenticationMethod: "none",
      routes: [{ source: "^/(.*)$", localDir: "resources", replace }],
    });
    const ok = loadConfig(
      { ASSETS, NAME: "n", VCAP_SERVICES: JSON.stringify(vcap) } as unknown as Env,
      route({ pathSuffixes: [".html"], vars: ["NAME"], services: { ui: { tag: "ui5" } } }),
    );
    expect(ok.ok && ok.config.xsApp.routes[0]!.replace?.view).toEqual({
      NAME: "n",
      ui: { url: "http://sapui5url" },
    });
    const bad = loadConfig(
      { ASSETS, VCAP_SERVICES: JSON.stringify(vcap) } as unknown as Env,
      route({ pathSuffixes: [".html"], services: { ui: "nope" } }),
    );
    expect(bad.ok ? [] : bad.problems).toEqual([
      {
        path: "xs-app.json.routes[0].replace.services.ui",
        message: "no service binding in VCAP_SERVICES matches",
      },
    ]);
    const noSuffixes = loadConfig({ ASSETS } as unknown as Env, route({ vars: ["A"] }));
    expect(noSuffixes.ok ? [] : noSuffixes.problems.map((p) => p.path)).toEqual([
      "xs-app.json.routes[0].replace.pathSuffixes",
    ]);
    const withDestination = loadConfig(
      { destinations: JSON.stringify([{ name: "d", url: "https://d.example" }]) } as unknown as Env,
      {
        authenticationMethod: "none",
        routes: [{ source: "^/(.*)$", destination: "d", replace: { pathSuffixes: [".html"] } }],
      },
    );
    expect(withDestination.ok ? [] : withDestination.problems.map((p) => `${p.path}: ${p.message}`)).toEqual([
      "xs-app.json.routes[0].replace: only allowed with localDir",
    ]);
  });
});

describe("replace: served from a localDir route", () => {
  const files: Record<string, string> = {
    "/resources/index.html": "<p>{{NAME}}</p>",
    "/resources/app.js": "var x = '{{NAME}}';",
  };
  const calls: Request[] = [];
  const assets: AssetFetcher = async (req) => {
    calls.push(req);
    const path = new URL(req.url).pathname.replace(/\/$/, "/index.html");
    const body = files[path];
    if (body === undefined) return new Response("nf", { status: 404 });
    if (req.headers.get("if-none-match") === '"e"')
      return new Response(null, { status: 304, headers: { etag: '"e"' } });
    return new Response(req.method === "HEAD" ? null : body, {
      headers: {
        etag: '"e"',
        "content-type": "application/octet-stream",
        "content-length": String(body.length),
      },
    });
  };
  const route = {
    localDir: "/resources",
    cacheControl: "no-cache",
    replace: { pathSuffixes: ["index.html"], view: { NAME: "<b>" } },
  };
  const get = (path: string, init?: RequestInit) =>
    serveLocalDir(new Request(`https://r.example${path}`, init), path, route, assets);

  it("renders matching files with SAP's content type, without validators; conditional requests are not passed", async () => {
    const response = await get("/index.html", { headers: { "if-none-match": '"e"', range: "bytes=0-1" } });
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("<p>&lt;b&gt;</p>");
    expect(response.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(response.headers.get("etag")).toBeNull();
    expect(response.headers.get("cache-control")).toBe("no-cache");
    expect(calls.at(-1)!.headers.get("if-none-match")).toBeNull();
  });
  it("a folder path renders its index.html; HEAD gets headers only", async () => {
    expect(await (await get("/")).text()).toBe("<p>&lt;b&gt;</p>");
    const head = await get("/index.html", { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe("");
  });
  it("other files pass untouched (placeholders kept, validators kept)", async () => {
    const response = await get("/app.js", { headers: { "if-none-match": '"e"' } });
    expect(response.status).toBe(304);
    const full = await get("/app.js");
    expect(await full.text()).toBe("var x = '{{NAME}}';");
    expect(full.headers.get("etag")).toBe('"e"');
  });
  it("a file larger than the cap (by Content-Length) gets the router's 500 page before anything is sent", async () => {
    const big = async () => new Response("x".repeat(100), { headers: { "content-length": "100" } });
    const fetcher = withReplace(big, { pathSuffixes: [".html"], view: {} }, "/a.html", {
      maxInputBytes: 50,
      maxPendingChars: 10,
      maxOutputBytes: 100,
    });
    const response = await fetcher(new Request("https://r.example/a.html"));
    expect(response.status).toBe(500);
    expect(await response.text()).toContain("FILE_TOO_LARGE");
  });
});
