import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEchoBackend } from "../support/backend.js";
import { sessionCookieOf, startCluster, type Cluster } from "../support/cluster.js";
import { bundleWorker } from "../support/worker-bundle.js";

/**
 * examples/extension (createRouter with a `first` and a `beforeRequestHandler`
 * middleware), bundled as wrangler would and run in workerd (Miniflare).
 */
let backend: Awaited<ReturnType<typeof startEchoBackend>>;
let script: string;
const clusters: Cluster[] = [];

async function start(bindings: Record<string, string>): Promise<Cluster> {
  const cluster = await startCluster({ script, workers: ["a"], bindings });
  clusters.push(cluster);
  return cluster;
}

beforeAll(async () => {
  backend = await startEchoBackend();
  script = await bundleWorker(undefined, "examples/extension/index.ts");
});
afterAll(async () => {
  await Promise.all(clusters.map((c) => c.dispose()));
  await backend?.close();
});

describe("examples/extension", () => {
  it("first answers /healthz before the router: no session, no backend", async () => {
    const cluster = await start({ destinations: JSON.stringify([{ name: "backend", url: backend.url }]) });
    const response = await cluster.fetch("a", "/healthz", { headers: { "x-csrf-token": "fetch" } });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: "UP" });
    expect(sessionCookieOf(response)).toBeUndefined();
    expect(response.headers.get("x-frame-options")).toBeNull(); // the router's response headers never ran
    expect(backend.seen).toHaveLength(0);
  });

  it("first answers even when the configuration is invalid (the router answers 503)", async () => {
    const cluster = await start({ destinations: "not json" });
    expect((await cluster.fetch("a", "/healthz")).status).toBe(200);
    expect((await cluster.fetch("a", "/api/x")).status).toBe(503);
  });

  it("beforeRequestHandler adds its header to routed answers and answers its own path", async () => {
    const cluster = await start({ destinations: JSON.stringify([{ name: "backend", url: backend.url }]) });
    const proxied = await cluster.fetch("a", "/api/things?x=1");
    expect(proxied.status).toBe(200);
    expect(proxied.headers.get("x-served-by")).toBe("approuter-edge-example");
    expect(proxied.headers.get("x-frame-options")).toBe("SAMEORIGIN"); // the router's headers still apply
    expect(await proxied.json()).toMatchObject({ url: "/things?x=1" });
    const seen = backend.seen.length;
    const own = await cluster.fetch("a", "/ext/hello");
    expect(await own.json()).toEqual({ hello: "from the extension", session: false });
    expect(backend.seen).toHaveLength(seen);
    const unrouted = await cluster.fetch("a", "/nowhere");
    expect(unrouted.status).toBe(404);
  });
});
