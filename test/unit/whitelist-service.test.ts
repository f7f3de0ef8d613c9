import { describe, expect, it } from "vitest";
import type { Authenticator } from "../../src/auth/types.js";
import { buildIsolate } from "../../src/isolate.js";
import type { Logger } from "../../src/log.js";
import * as noCustomStore from "../../src/stores/no-custom-store.js";
import type { Env } from "../../src/env.js";
import { pluginMetadata, underEndpoint, whitelistAnswer } from "../../src/handlers/whitelist-service.js";
import { forbidTransform } from "../../src/http/no-compression.js";

async function appFor(
  xsApp: unknown,
  env: Record<string, string> = {},
  authenticate?: Authenticator,
  log: Logger = () => {},
) {
  const upstream: Request[] = [];
  const fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
    upstream.push(new Request(input, init));
    return new Response("from backend", {
      headers: { "content-type": "text/plain", "cache-control": "max-age=60" },
    });
  }) as typeof globalThis.fetch;
  const env_ = {
    destinations: JSON.stringify([{ name: "backend", url: "http://backend.test" }]),
    ...env,
  } as Env;
  const state = await buildIsolate(env_, {
    bundledXsApp: xsApp,
    customStore: noCustomStore,
    fetch,
    now: Date.now,
    log,
    ...(authenticate ? { authenticate } : {}),
  });
  if (state.kind !== "ready") throw new Error(state.problems.join("; "));
  return {
    upstream,
    request: (path: string, init?: RequestInit) =>
      state.app.request(`https://router.test${path}`, init, env_),
  };
}

const publicApp = {
  authenticationMethod: "none",
  whitelistService: { endpoint: "/whitelist/service" },
  routes: [{ source: "^/(.*)$", target: "/$1", destination: "backend" }],
};
const UAA = JSON.stringify({
  xsuaa: [
    {
      name: "uaa",
      label: "xsuaa",
      tags: ["xsuaa"],
      credentials: { url: "http://127.0.0.1:9", clientid: "c", clientsecret: "s" },
    },
  ],
});
const CJ = JSON.stringify([
  { protocol: "https", host: "*.example.com" },
  { host: "partner.test", port: 8443 },
]);

describe("whitelistService (SAP's clickjacking allow-list endpoint)", () => {
  it("answers SAP's JSON: active with CJ_PROTECT_WHITELIST, framing by origin", async () => {
    const t = await appFor(publicApp, { CJ_PROTECT_WHITELIST: CJ });
    const ask = async (query: string) => {
      const response = await t.request(`/whitelist/service${query}`);
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toBe("application/json; charset=utf-8");
      return response.json();
    };
    expect(await ask("?parentOrigin=https://app.example.com")).toEqual({
      version: "1.0",
      active: true,
      origin: "https://app.example.com",
      framing: true,
    });
    expect(await ask("?parentOrigin=http://app.example.com")).toEqual({
      version: "1.0",
      active: true,
      origin: "http://app.example.com",
      framing: false,
    });
    expect(await ask("?parentOrigin=https://example.com")).toEqual({
      version: "1.0",
      active: true,
      origin: "https://example.com",
      framing: false,
    });
    expect(await ask("?parentOrigin=http://partner.test:8443")).toEqual({
      version: "1.0",
      active: true,
      origin: "http://partner.test:8443",
      framing: true,
    });
    expect(await ask("?parentOrigin=http://partner.test")).toMatchObject({ framing: false });
    expect(await ask("")).toEqual({ version: "1.0", active: true, origin: "null", framing: false });
    expect(await ask("?parentOrigin=a&parentOrigin=b")).toEqual({
      version: "1.0",
      active: true,
      origin: "null",
      framing: false,
    });
    expect(t.upstream).toHaveLength(0);
  });
  it("inactive without CJ_PROTECT_WHITELIST; other methods and other paths go to the routes", async () => {
    const t = await appFor(publicApp);
    expect(await (await t.request("/whitelist/service?parentOrigin=https://x.test")).json()).toEqual({
      version: "1.0",
      active: false,
      framing: true,
    });
    expect(await (await t.request("/Whitelist/Service/sub")).json()).toMatchObject({ active: false });
    expect(await (await t.request("/whitelist/servicex")).text()).toBe("from backend");
    expect(
      await (
        await t.request("/whitelist/service", {
          method: "POST",
          headers: { "content-type": "text/plain" },
          body: "x",
        })
      ).text(),
    ).toBe("from backend");
  });
  it("requires login when a route that requires it covers the endpoint (SAP logs in first)", async () => {
    let asked = 0;
    const deny: Authenticator = async () => {
      asked++;
      return new Response("login first", { status: 401 });
    };
    const t = await appFor(
      {
        ...publicApp,
        authenticationMethod: "route",
        routes: [{ source: "^/(.*)$", target: "/$1", destination: "backend", authenticationType: "xsuaa" }],
      },
      { VCAP_SERVICES: UAA },
      deny,
    );
    expect((await t.request("/whitelist/service?parentOrigin=https://a.test")).status).toBe(401);
    expect(asked).toBe(1);
  });
  it("pure parts: connect's mount test and the answer", () => {
    expect(underEndpoint("/wl/", "/wl")).toBe(true);
    expect(underEndpoint("/wl", "/wl.json")).toBe(true);
    expect(underEndpoint("/wl", "/wlx")).toBe(false);
    expect(whitelistAnswer([{ host: "*" }], ["not an origin"])).toEqual({
      version: "1.0",
      active: true,
      origin: "not an origin",
      framing: false,
    });
  });
});

describe("pluginMetadataEndpoint and the plugins variable", () => {
  const plugins = [
    {
      name: "reports",
      source: "^/reports/(.*)$",
      target: "$1",
      destination: "backend",
      authenticationType: "none",
    },
  ];
  it("plugin routes come before xs-app.json's; the endpoint lists them as SAP prints them", async () => {
    const t = await appFor(
      {
        authenticationMethod: "route",
        pluginMetadataEndpoint: "/metadata",
        routes: [
          { source: "^/(.*)$", target: "/app/$1", destination: "backend", authenticationType: "none" },
        ],
      },
      { plugins: JSON.stringify(plugins) },
    );
    const meta = await t.request("/metadata");
    expect(meta.headers.get("content-type")).toBe("application/json; charset=utf-8");
    expect(await meta.text()).toBe(
      JSON.stringify([{ ...plugins[0], source: "^\\/reports\\/(.*)$" }], null, 2),
    );
    await t.request("/reports/r1");
    expect(new URL(t.upstream.at(-1)!.url).pathname).toBe("/r1");
    await t.request("/other");
    expect(new URL(t.upstream.at(-1)!.url).pathname).toBe("/app/other");
  });
  it("no plugins: an empty list", () => {
    expect(pluginMetadata([])).toBe("[]");
    expect(pluginMetadata([{ name: "x", source: { path: "^/a/", matchCase: false } }])).toBe(
      JSON.stringify([{ name: "x", source: "^\\/a\\/" }], null, 2),
    );
  });
});

describe("compression.enabled: false", () => {
  it("every answer says Cache-Control: no-transform (Cloudflare then does not compress it)", async () => {
    const t = await appFor({ ...publicApp, compression: { enabled: false } });
    expect((await t.request("/x")).headers.get("cache-control")).toBe("max-age=60, no-transform");
    expect((await t.request("/whitelist/service")).headers.get("cache-control")).toBe("no-transform");
  });
  it("left alone by default", async () => {
    const t = await appFor(publicApp);
    expect((await t.request("/x")).headers.get("cache-control")).toBe("max-age=60");
  });
  it("the directive is added once", () => {
    const h = new Headers({ "cache-control": "No-Transform, max-age=1" });
    forbidTransform(h);
    expect(h.get("cache-control")).toBe("No-Transform, max-age=1");
  });
});

describe("settings accepted without effect are named at start-up", () => {
  it("one warning line lists them with the reason", async () => {
    const lines: [string, Record<string, unknown>][] = [];
    await appFor({ ...publicApp, compression: { minSize: 10 } }, {}, undefined, (event, fields) =>
      lines.push([event, fields ?? {}]),
    );
    expect(lines.filter(([event]) => event === "config.ignored.warn")).toEqual([
      [
        "config.ignored.warn",
        { settings: ["compression.minSize (Cloudflare decides compression at the edge)"] },
      ],
    ]);
  });
});
