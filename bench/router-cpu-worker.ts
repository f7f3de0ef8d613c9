// Bench-only worker: the router's own CPU per request, without network. Each endpoint
// handles `n` requests in a loop against an in-memory backend; Node times `n=N` against
// `n=0` from outside (workerd's clock stands still while JavaScript runs).
//   /bare       Request + the fake backend: what any Worker pays (requests carry a browser's
//               headers, answers an SAP service's: bench/traffic-headers.mjs)
//   /forward    the proxy step alone (src/proxy/forward.ts)
//   /anonymous  the whole router, a public route, no cookie
//   /first-tier the whole router, a session from the first tier (cookie + x-csrf-token: fetch)
//   /protected  the same session on a route that requires authentication (the user let
//               through), a POST with the session's CSRF token: how a logged-in app writes
import { createApp } from "../src/app.ts";
import { loadConfig } from "../src/config/index.ts";
import { forward } from "../src/proxy/forward.ts";
import { SessionManager } from "../src/session/manager.ts";
import { MemoryTier } from "../src/session/memory-tier.ts";
// @ts-expect-error: a JavaScript module of the benchmarks, without types
import { BACKEND_HEADERS, BROWSER_HEADERS } from "./traffic-headers.mjs";

const loaded = loadConfig(
  { destinations: JSON.stringify([{ name: "backend", url: "http://backend.test" }]) },
  {
    authenticationMethod: "none",
    routes: [{ source: "^/(.*)$", target: "/$1", destination: "backend" }],
    logout: { logoutEndpoint: "/logout", logoutMethod: "POST", logoutPage: "/" },
  },
);
if (!loaded.ok) throw new Error("bench configuration");
const config = loaded.config;
// Requests and answers are built from Headers objects (a copy in workerd, as cheap as it gets,
// like the runtime's own), in every variant alike.
const BACKEND = new Headers(BACKEND_HEADERS);
const BROWSER = new Headers(BROWSER_HEADERS);
const backend = (async () => new Response('{"ok":true}', { headers: BACKEND })) as typeof fetch;
/** An incoming request as a browser sends it (bench/traffic-headers.mjs), plus `headers`. */
function incoming(init: { method?: string; headers?: Record<string, string>; body?: string } = {}) {
  const headers = new Headers(BROWSER);
  for (const [name, value] of Object.entries(init.headers ?? {})) headers.set(name, value);
  return new Request("https://router.test/x", { ...init, headers });
}

let app: ReturnType<typeof createApp> | undefined;
let protectedApp: ReturnType<typeof createApp> | undefined;
let cookie = "";
let csrf = "";

async function ready() {
  if (app) return app;
  const manager = new SessionManager({
    memory: new MemoryTier({ maxEntries: 1000, maxBytes: 1e8, idleTimeoutMs: 1e9 }),
    idleTimeoutMs: 1e9,
    absoluteTimeoutMs: 2e9,
    revalidateAfterMs: Infinity,
    touchIntervalMs: 1e9,
    now: Date.now,
  });
  app = createApp({ config, manager, fetch: backend, log: () => {} });
  // Every route requires authentication; the authenticator lets everyone through.
  const routes = config.xsApp.routes.map((route) => ({ ...route, authenticationType: "xsuaa" as const }));
  protectedApp = createApp({
    config: { ...config, xsApp: { ...config.xsApp, routes } },
    manager,
    fetch: backend,
    log: () => {},
    authenticate: async () => null,
  });
  // A session in the first tier: one that holds something (one holding only its token is not held anywhere).
  const session = manager.create();
  csrf = await manager.csrfTokenFor(session.id);
  session.record = { ...session.record, csrf, data: { held: true } };
  await manager.commit(session, () => {});
  cookie = `JSESSIONID=${session.id}`;
  return app;
}

export default {
  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const n = Number(url.searchParams.get("n") ?? "0");
    const router = await ready();
    const destination = config.destinations.get("backend")!;
    for (let i = 0; i < n; i++) {
      let res: Response;
      switch (url.pathname) {
        case "/bare":
          res = await backend(incoming());
          break;
        case "/forward":
          res = await forward(incoming(), {
            destination,
            target: "/x",
            fetch: backend,
            sessionCookieName: "JSESSIONID",
            clientAbort: false, // as the router calls it where the runtime never aborts the signal
          });
          break;
        case "/anonymous":
          res = await router.fetch(incoming());
          break;
        case "/first-tier":
          res = await router.fetch(incoming({ headers: { cookie, "x-csrf-token": "fetch" } }));
          break;
        case "/protected":
          res = await protectedApp!.fetch(
            incoming({
              method: "POST",
              headers: { cookie, "x-csrf-token": csrf, "content-type": "application/json" },
              body: "{}",
            }),
          );
          break;
        default:
          return new Response("unknown", { status: 404 });
      }
      if (res.status !== 200) return new Response(`${url.pathname}: ${res.status}`, { status: 500 });
      await res.arrayBuffer();
    }
    return new Response("done");
  },
};
