import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEchoBackend } from "../support/backend.js";
import { sessionCookieOf, startCluster, type Cluster } from "../support/cluster.js";
import { SECRET_A } from "../support/secrets.js";
import { bundleWorker } from "../support/worker-bundle.js";

/**
 * A custom store driver resolved at build time (the `approuter-custom-store` alias),
 * here the KV example driver, shared by two isolates.
 */
let backend: Awaited<ReturnType<typeof startEchoBackend>>;
const clusters: Cluster[] = [];

const ext = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    instanceName: "SESSIONS",
    storageType: "kv",
    sessionSecret: SECRET_A,
    externalStoreFilePath: "./examples/kv-session-store/index.ts",
    ...extra,
  });

beforeAll(async () => {
  backend = await startEchoBackend();
});
afterAll(async () => {
  await Promise.all(clusters.map((c) => c.dispose()));
  await backend?.close();
});

describe("custom store driver", () => {
  it("recovers a session created on A on B through the KV example driver", async () => {
    const cluster = await startCluster({
      script: await bundleWorker("./examples/kv-session-store/index.ts"),
      workers: ["a", "b"],
      kvNamespaces: ["SESSIONS"],
      bindings: {
        EXT_SESSION_MGT: ext(),
        destinations: JSON.stringify([{ name: "backend", url: backend.url }]),
      },
    });
    clusters.push(cluster);
    const created = await cluster.fetch("a", "/x", { headers: { "x-csrf-token": "fetch" } });
    await created.arrayBuffer();
    const cookie = sessionCookieOf(created)!;
    const token = created.headers.get("x-csrf-token");
    expect(token).toBeTruthy();
    const recovered = await cluster.fetch("b", "/x", { headers: { "x-csrf-token": "fetch", cookie } });
    await recovered.arrayBuffer();
    expect(recovered.headers.get("x-csrf-token")).toBe(token);
    expect(sessionCookieOf(recovered)).toBeUndefined();
  });

  it("refuses to start when externalStoreFilePath is set but no driver was bundled", async () => {
    const cluster = await startCluster({
      script: await bundleWorker(),
      workers: ["a"],
      bindings: {
        EXT_SESSION_MGT: ext(),
        destinations: JSON.stringify([{ name: "backend", url: backend.url }]),
      },
    });
    clusters.push(cluster);
    const res = await cluster.fetch("a", "/x");
    expect(res.status).toBe(503);
    expect(await res.text()).toContain("CONFIGURATION_INVALID");
  });

  it("refuses to start when the driver's binding is missing, with a clear reason", async () => {
    const cluster = await startCluster({
      script: await bundleWorker("./examples/kv-session-store/index.ts"),
      workers: ["a"],
      bindings: {
        EXT_SESSION_MGT: ext({ instanceName: "NOT_BOUND" }),
        destinations: JSON.stringify([{ name: "backend", url: backend.url }]),
      },
    });
    clusters.push(cluster);
    const res = await cluster.fetch("a", "/x");
    expect(res.status).toBe(503);
  });
});
