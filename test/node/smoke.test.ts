import { afterAll, beforeAll, expect, it } from "vitest";
import { startEchoBackend } from "../support/backend.js";
import { sessionCookieOf, startCluster, type Cluster } from "../support/cluster.js";
import { bundleWorker } from "../support/worker-bundle.js";

let backend: Awaited<ReturnType<typeof startEchoBackend>>;
let cluster: Cluster;

beforeAll(async () => {
  backend = await startEchoBackend();
  cluster = await startCluster({
    script: await bundleWorker(),
    workers: ["a"],
    bindings: { destinations: JSON.stringify([{ name: "backend", url: backend.url }]) },
  });
});
afterAll(async () => {
  await cluster?.dispose();
  await backend?.close();
});

it("proxies and issues a CSRF token with a session cookie", async () => {
  const res = await cluster.fetch("a", "/hello?x=1", { headers: { "x-csrf-token": "fetch" } });
  expect(res.status).toBe(200);
  expect(await res.json()).toMatchObject({ method: "GET", url: "/hello?x=1" });
  expect(res.headers.get("x-csrf-token")).toMatch(/^[A-Za-z0-9_-]{43}$/);
  expect(sessionCookieOf(res)).toBeDefined();
});
