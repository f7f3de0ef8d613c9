import { dirname } from "node:path";
import { Miniflare, type WorkerOptions } from "miniflare";

/**
 * Several isolates of the router in one workerd process: each Miniflare worker has its
 * own module state (its own first tier), like two isolates at the edge. They share the
 * bindings given, so they share the external store.
 */
export interface Cluster {
  fetch(worker: string, path: string, init?: RequestInit): Promise<Response>;
  dispose(): Promise<void>;
}

export async function startCluster(options: {
  script: string;
  workers: string[];
  bindings: Record<string, string>;
  kvNamespaces?: string[];
  kvPersist?: string;
  /** Sees every outgoing fetch of the workers (e.g. to tamper with an identity provider's answers). */
  outbound?: (request: Request) => Promise<Response>;
  /** Service bindings answered by the test (e.g. a stand-in for a Workers mTLS certificate binding). */
  serviceBindings?: Record<string, (request: Request) => Promise<Response>>;
}): Promise<Cluster> {
  const workers: WorkerOptions[] = options.workers.map((name) => ({
    name,
    modules: true,
    scriptPath: options.script,
    modulesRoot: dirname(options.script),
    compatibilityDate: "2026-04-26",
    bindings: options.bindings,
    ...(options.kvNamespaces ? { kvNamespaces: options.kvNamespaces } : {}),
    ...(options.outbound ? { outboundService: options.outbound } : {}),
    ...(options.serviceBindings ? { serviceBindings: options.serviceBindings } : {}),
  }));
  const mf = new Miniflare({
    workers,
    ...(options.kvPersist ? { kvPersist: options.kvPersist } : {}),
  } as never);
  await mf.ready;
  return {
    async fetch(worker, path, init) {
      const fetcher = await mf.getWorker(worker);
      // A path on https://router.test, or a full URL (another host, e.g. a tenant's).
      const response = await fetcher.fetch(
        /^https?:/.test(path) ? path : `https://router.test${path}`,
        init as never,
      );
      return response as unknown as Response;
    },
    dispose: () => mf.dispose(),
  };
}

/** The session cookie pair (`JSESSIONID=…`) from a response, if it sets one. */
export function sessionCookieOf(response: Response, name = "JSESSIONID"): string | undefined {
  const header = response.headers.getSetCookie().find((c) => c.startsWith(`${name}=`));
  return header?.split(";")[0];
}
