import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import type { RouteConfig } from "../../src/config/types.js";
import { checkRouteCsrf, csrfNeedsNothing } from "../../src/handlers/csrf.js";
import { type SessionEnv, sessionMiddleware } from "../../src/session/middleware.js";
import { testSessionManager } from "../support/session-manager.js";

/**
 * The route handler skips the CSRF step when `csrfNeedsNothing` says so: that must never
 * skip a request the full step would refuse, answer with a token, or rewrite.
 */
describe("csrfNeedsNothing", () => {
  const app = new Hono<SessionEnv>();
  app.use(sessionMiddleware({ manager: testSessionManager(), cookieName: "JSESSIONID" }));
  app.all("*", async (c) => {
    const route = { csrfProtection: c.req.query("protected") === "1" } as RouteConfig;
    const requiresAuth = c.req.query("auth") === "1";
    const skipped = csrfNeedsNothing(c, route, requiresAuth);
    const full = await checkRouteCsrf(c, { route, requiresAuth, csrfTokenFor: async () => "token" });
    const result = {
      skipped,
      full:
        full.kind === "ok" ? { kind: "ok", token: full.token, rewritten: full.dropHeader === true } : full,
    };
    // In a header: a HEAD answer has no body.
    return c.body(null, 204, { "x-result": JSON.stringify(result) });
  });

  const cases = ["GET", "HEAD", "POST", "PUT", "DELETE"].flatMap((method) =>
    [undefined, "fetch", "Fetch", "some-token"].flatMap((header) =>
      [true, false].flatMap((isProtected) =>
        [true, false].map((auth) => ({ method, header, isProtected, auth })),
      ),
    ),
  );

  it.each(cases)("%j", async ({ method, header, isProtected, auth }) => {
    const res = await app.request(`/x?protected=${isProtected ? 1 : 0}&auth=${auth ? 1 : 0}`, {
      method,
      headers: header === undefined ? {} : { "x-csrf-token": header },
    });
    expect(res.status, await res.clone().text()).toBe(204);
    const { skipped, full } = JSON.parse(res.headers.get("x-result")!) as {
      skipped: boolean;
      full: { kind: string; token?: string; rewritten?: boolean };
    };
    if (skipped) expect(full).toEqual({ kind: "ok", rewritten: false });
    // The common cases are the ones skipped: unprotected routes, and safe or public requests without the header.
    const common = !isProtected || (header === undefined && (!auth || method === "GET" || method === "HEAD"));
    expect(skipped).toBe(common);
  });
});
