import type { Redis as IORedis } from "ioredis";
import { afterAll, afterEach, beforeAll } from "vitest";
import { startEchoBackend } from "./backend.js";
import { startCluster, type Cluster } from "./cluster.js";
import { directClient, externalSessionBindings, startLocalRedis, type LocalRedis } from "./redis.js";
import { bundleWorker } from "./worker-bundle.js";

export interface ClusterOptions {
  /** EXT_SESSION_MGT settings, over the fixture's defaults. */
  ext?: Record<string, unknown>;
  /** The isolates' names (default `a`, `b`). */
  workers?: string[];
  /** More bindings (e.g. `XS_APP`), over the fixture's. */
  bindings?: Record<string, string>;
  /** The destination `backend` (default: the fixture's echo backend). */
  backendUrl?: string;
  /** Where the isolates reach the REST endpoint (e.g. a fault proxy in front of it). */
  restUrl?: string;
  /** Another bundle of the Worker (default: the fixture's). */
  script?: string;
  /** More service bindings in VCAP_SERVICES beside the store's (e.g. an identity provider's). */
  services?: Array<{ label: string } & Record<string, unknown>>;
  /** More properties of the destination `backend` (e.g. `forwardAuthToken`). */
  destination?: Record<string, unknown>;
  /** Sees every outgoing fetch of the isolates (startCluster's `outbound`). */
  outbound?: (request: Request) => Promise<Response>;
  serviceBindings?: Record<string, (request: Request) => Promise<Response>>;
}

/**
 * The set-up of the tests with several isolates on one store: a real redis-server behind
 * the local Upstash REST endpoint, a direct client to look at what the router stored and
 * count commands, an echo backend (test/support/backend.ts), the bundled Worker, and
 * clusters of isolates on them.
 */
export interface StoreFixture {
  redis: LocalRedis;
  direct: IORedis;
  backend: Awaited<ReturnType<typeof startEchoBackend>>;
  script: string;
  /** Isolates with the external tier on the fixture's store and one destination `backend`. */
  cluster(options?: ClusterOptions): Promise<Cluster>;
  /** Disposes the clusters started so far and runs the cleanups given to `onDispose`. */
  disposeClusters(): Promise<void>;
  /** Something to stop with the clusters (a proxy, a backend of the test's own). */
  onDispose(cleanup: () => Promise<void>): void;
}

/**
 * Registers the fixture's hooks in the calling test file (call it at the top level); its
 * fields are there once `beforeAll` has run. Clusters are disposed after each test, or after
 * all of them with `disposeAfter: "all"` (for tests that run concurrently).
 */
export function useStoreFixture(
  defaults: { ext?: Record<string, unknown>; disposeAfter?: "each" | "all" } = {},
): StoreFixture {
  const cleanups: (() => Promise<void>)[] = [];
  const fixture = {
    async cluster(options: ClusterOptions = {}) {
      const redis = options.restUrl ? { ...fixture.redis, restUrl: options.restUrl } : fixture.redis;
      const store = externalSessionBindings(redis, { ...defaults.ext, ...options.ext });
      const vcap = JSON.parse(store.VCAP_SERVICES!) as Record<string, unknown[]>;
      for (const service of options.services ?? []) (vcap[service.label] ??= []).push(service);
      const backend = {
        name: "backend",
        url: options.backendUrl ?? fixture.backend.url,
        ...options.destination,
      };
      const c = await startCluster({
        script: options.script ?? fixture.script,
        workers: options.workers ?? ["a", "b"],
        bindings: {
          ...store,
          VCAP_SERVICES: JSON.stringify(vcap),
          destinations: JSON.stringify([backend]),
          ...options.bindings,
        },
        ...(options.outbound ? { outbound: options.outbound } : {}),
        ...(options.serviceBindings ? { serviceBindings: options.serviceBindings } : {}),
      });
      cleanups.push(() => c.dispose());
      return c;
    },
    async disposeClusters() {
      await Promise.all(cleanups.splice(0).map((cleanup) => cleanup()));
    },
    onDispose(cleanup: () => Promise<void>) {
      cleanups.push(cleanup);
    },
  } as StoreFixture;

  beforeAll(async () => {
    [fixture.redis, fixture.backend, fixture.script] = await Promise.all([
      startLocalRedis(),
      startEchoBackend(),
      bundleWorker(),
    ]);
    fixture.direct = directClient(fixture.redis.redisPort);
  });
  if (defaults.disposeAfter !== "all") afterEach(() => fixture.disposeClusters());
  afterAll(async () => {
    await fixture.disposeClusters();
    fixture.direct?.disconnect();
    await fixture.redis?.stop();
    await fixture.backend?.close();
  });
  return fixture;
}
