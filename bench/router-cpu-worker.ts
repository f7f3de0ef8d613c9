// Bench-only worker: the router's own CPU per request, without network. Each endpoint
// handles `n` requests in a loop against an in-memory backend; Node times `n=N` against
// `n=0` from outside (workerd's clock stands still while JavaScript runs).
//   /bare       Request + the fake backend: what any Worker pays
//   /forward    the proxy step alone (src/proxy/forward.ts)
//   /anonymous  the whole router, a public route, no cookie
//   /first-tier the whole router, a session from the first tier (cookie + x-csrf-token: fetch)
import { createApp } from "../src/app.ts";
import { loadConfig } from "../src/config/index.ts";
import { forward } from "../src/proxy/forward.ts";
import { SessionManager } from "../src/session/manager.ts";
import { MemoryTier } from "../src/session/memory-tier.ts";

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
const backend = (async () =>
  new Response('{"ok":true}', { headers: { "content-type": "application/json" } })) as typeof fetch;

let app: ReturnType<typeof createApp> | undefined;
let cookie = "";

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
  // A session in the first tier: one that holds something (one holding only its token is not held anywhere).
  const session = manager.create();
  session.record = { ...session.record, csrf: await manager.csrfTokenFor(session.id), data: { held: true } };
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
          res = await backend(new Request("http://backend.test/x"));
          break;
        case "/forward":
          res = await forward(new Request("https://router.test/x"), {
            destination,
            target: "/x",
            fetch: backend,
            sessionCookieName: "JSESSIONID",
          });
          break;
        case "/anonymous":
          res = await router.fetch(new Request("https://router.test/x"));
          break;
        case "/first-tier":
          res = await router.fetch(
            new Request("https://router.test/x", { headers: { cookie, "x-csrf-token": "fetch" } }),
          );
          break;
        default:
          return new Response("unknown", { status: 404 });
      }
      await res.arrayBuffer();
    }
    return new Response("done");
  },
};
