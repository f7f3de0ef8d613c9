import { describe, expect, it } from "vitest";
import type { Authenticator } from "../../src/auth/types.js";
import type { Env } from "../../src/env.js";
import type { RouterHooks } from "../../src/handlers/hooks.js";
import { buildIsolate } from "../../src/isolate.js";
import { createRouter } from "../../src/router.js";
import * as noCustomStore from "../../src/stores/no-custom-store.js";

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
const xsApp = {
  routes: [
    { source: "^/open/(.*)$", target: "/$1", destination: "backend", authenticationType: "none" },
    { source: "^/app/(.*)$", target: "/$1", destination: "backend", authenticationType: "xsuaa" },
  ],
};

/** The router with `hooks`, a recording backend and an authenticator that lets through only requests with `x-user`. */
async function routerWith(
  hooks: RouterHooks,
  log: (event: string, fields?: Record<string, unknown>) => void = () => {},
) {
  const upstream: string[] = [];
  const fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    upstream.push(new URL(request.url).pathname);
    if (request.url.endsWith("/boom")) throw new TypeError("network down");
    return new Response("backend", { headers: { "content-type": "text/plain" } });
  }) as typeof globalThis.fetch;
  const authenticate: Authenticator = async (c) =>
    c.req.header("x-user") ? null : new Response("login", { status: 401 });
  const env = {
    destinations: JSON.stringify([{ name: "backend", url: "http://backend.test" }]),
    VCAP_SERVICES: UAA,
  } as Env;
  const state = await buildIsolate(env, {
    bundledXsApp: xsApp,
    customStore: noCustomStore,
    fetch,
    now: Date.now,
    log,
    authenticate,
    hooks,
  });
  if (state.kind !== "ready") throw new Error(state.problems.join("; "));
  return {
    upstream,
    request: (path: string, init?: RequestInit) => state.app.request(`https://router.test${path}`, init, env),
  };
}

describe("createRouter hooks", () => {
  it("beforeRequestHandler runs after login, like SAP's: a protected path it would answer stays protected", async () => {
    const seen: string[] = [];
    const t = await routerWith({
      beforeRequestHandler: [
        async (c, next) => {
          seen.push(c.req.path);
          if (c.req.path === "/app/custom") return c.text("custom");
          await next();
        },
      ],
    });
    expect((await t.request("/app/custom")).status).toBe(401);
    expect(seen).toEqual([]);
    const allowed = await t.request("/app/custom", { headers: { "x-user": "u" } });
    expect(await allowed.text()).toBe("custom");
    expect(await (await t.request("/open/x")).text()).toBe("backend");
    expect(seen).toEqual(["/app/custom", "/open/x"]);
  });

  it("beforeRequestHandler: a state-changing request to a protected route needs the CSRF token first", async () => {
    let ran = 0;
    const t = await routerWith({
      beforeRequestHandler: [
        async (c) => {
          ran++;
          return c.text("handled");
        },
      ],
    });
    const response = await t.request("/app/x", { method: "POST", headers: { "x-user": "u" }, body: "x" });
    expect(response.status).toBe(403);
    expect(response.headers.get("x-csrf-token")).toBe("Required");
    expect(ran).toBe(0);
  });

  it("afterRequestHandler sees the route's answer and may change it; the router's headers come after", async () => {
    const t = await routerWith({
      afterRequestHandler: [
        async (c, next) => {
          await next();
          c.res.headers.set("x-status-seen", String(c.res.status));
        },
      ],
    });
    const response = await t.request("/open/x");
    expect(response.headers.get("x-status-seen")).toBe("200");
    expect(response.headers.get("x-frame-options")).toBe("SAMEORIGIN");
  });

  it("beforeErrorHandler gets the router's error answers (status and code) and thrown errors; its answer replaces the page", async () => {
    const failures: string[] = [];
    const t = await routerWith({
      beforeErrorHandler: [
        (failure) => {
          failures.push(`${failure.status} ${failure.code}`);
          if (failure.status === 404) return new Response("custom 404", { status: 404 });
          return undefined;
        },
      ],
      beforeRequestHandler: [
        async (c, next) => {
          if (c.req.path === "/open/throw") throw new Error("extension bug");
          await next();
        },
      ],
    });
    const missing = await t.request("/nowhere");
    expect(missing.status).toBe(404);
    expect(await missing.text()).toBe("custom 404");
    expect(missing.headers.get("x-approuter-error")).toBeNull();
    expect((await t.request("/open/throw")).status).toBe(500);
    expect(failures).toEqual(["404 ROUTE_NOT_FOUND", "500 INTERNAL_ERROR"]);
  });

  it("logs an unexpected error's name and stable code, never its message", async () => {
    const lines: Array<{ event: string; fields?: Record<string, unknown> }> = [];
    const t = await routerWith(
      {
        beforeRequestHandler: [
          async (c, next) => {
            if (c.req.path === "/open/jose")
              throw Object.assign(new Error("token abc.def.ghi expired"), { code: "ERR_JWT_EXPIRED" });
            if (c.req.path === "/open/odd")
              throw Object.assign(new TypeError("secret=s3cr3t"), { code: "not a code: s3cr3t" });
            await next();
          },
        ],
      },
      (event, fields) => lines.push({ event, ...(fields ? { fields } : {}) }),
    );
    expect((await t.request("/open/jose")).status).toBe(500);
    expect((await t.request("/open/odd")).status).toBe(500);
    const errors = lines.filter((l) => l.event === "request.error").map((l) => l.fields);
    expect(errors).toEqual([
      { name: "Error", code: "ERR_JWT_EXPIRED", method: "GET" },
      { name: "TypeError", method: "GET" },
    ]);
    expect(JSON.stringify(lines)).not.toMatch(/abc\.def|s3cr3t|expired/);
  });

  it("a throwing error hook leaves the router's own page", async () => {
    const t = await routerWith({
      beforeErrorHandler: [
        () => {
          throw new Error("hook bug");
        },
      ],
    });
    const response = await t.request("/nowhere");
    expect(response.status).toBe(404);
    expect(await response.text()).toContain("ROUTE_NOT_FOUND");
  });
});

describe("createRouter handler", () => {
  it("first runs before the router; without hooks it is the configuration-only router", async () => {
    const env = { destinations: JSON.stringify([{ name: "backend", url: "http://backend.test" }]) } as Env;
    const ctx = { waitUntil() {}, passThroughOnException() {} } as unknown as ExecutionContext;
    const plain = createRouter({ xsApp: { routes: [] }, log: () => {} });
    expect((await plain.fetch(new Request("https://r.test/healthz"), env, ctx)).status).toBe(404);
    const withFirst = createRouter({
      xsApp: { routes: [] },
      log: () => {},
      first: [async (c, next) => (c.req.path === "/healthz" ? c.text("ok") : next())],
    });
    const health = await withFirst.fetch(new Request("https://r.test/healthz"), env, ctx);
    expect(await health.text()).toBe("ok");
    expect((await withFirst.fetch(new Request("https://r.test/other"), env, ctx)).status).toBe(404);
    const broken = createRouter({ xsApp: { routes: "nope" }, log: () => {} });
    expect((await broken.fetch(new Request("https://r.test/x"), env, ctx)).status).toBe(503);
  });
});
