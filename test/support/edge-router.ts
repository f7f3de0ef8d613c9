import { request as httpRequest, type IncomingHttpHeaders, type OutgoingHttpHeaders } from "node:http";
import { dirname } from "node:path";
import { Miniflare } from "miniflare";

/**
 * One router isolate in workerd (Miniflare), optionally with Workers static assets bound
 * as `ASSETS` and the Worker invoked ahead of them (wrangler `run_worker_first`), for
 * tests that need more than `startCluster` offers:
 * - `fetch(path, init)`: Miniflare's fetch to `https://router.test<path>` (it carries
 *   WebSocket upgrades: the answer has `webSocket`);
 * - `raw(path, init)`: a plain node:http request to the router's loopback address, for
 *   headers fetch clients refuse to send (`Connection`, `Keep-Alive`, `Upgrade`, `Host`).
 *   The router then sees `http://<Host header><path>`.
 */
export interface EdgeRouter {
  fetch(path: string, init?: RequestInit): Promise<Response>;
  raw(path: string, init?: RawInit): Promise<RawAnswer>;
  dispose(): Promise<void>;
}

export interface RawInit {
  method?: string;
  headers?: OutgoingHttpHeaders;
  body?: string | Buffer;
}

export interface RawAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  /** Header names as received, lower-cased. */
  headerNames: string[];
  body: Buffer;
}

export async function startEdgeRouter(options: {
  script: string;
  bindings: Record<string, string>;
  /** A folder served as static assets, bound as `ASSETS`; the Worker runs first. */
  assetsDirectory?: string;
  /** Bind the assets under this name instead of `ASSETS` (to test a missing binding). */
  assetsBinding?: string;
}): Promise<EdgeRouter> {
  const mf = new Miniflare({
    name: "router",
    modules: true,
    scriptPath: options.script,
    modulesRoot: dirname(options.script),
    compatibilityDate: "2026-04-26",
    bindings: options.bindings,
    ...(options.assetsDirectory
      ? {
          assets: {
            directory: options.assetsDirectory,
            binding: options.assetsBinding ?? "ASSETS",
            routerConfig: { invoke_user_worker_ahead_of_assets: true, has_user_worker: true },
          },
        }
      : {}),
  } as never);
  const url = await mf.ready;
  return {
    async fetch(path, init) {
      const response = await mf.dispatchFetch(`https://router.test${path}`, init as never);
      return response as unknown as Response;
    },
    raw(path, init = {}) {
      return new Promise<RawAnswer>((resolve, reject) => {
        const req = httpRequest(
          {
            host: url.hostname,
            port: Number(url.port),
            path,
            method: init.method ?? "GET",
            headers: { host: "router.test", ...init.headers },
            agent: false,
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (c: Buffer) => chunks.push(c));
            res.on("end", () =>
              resolve({
                status: res.statusCode ?? 0,
                headers: res.headers,
                headerNames: res.rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase()),
                body: Buffer.concat(chunks),
              }),
            );
            res.on("error", reject);
          },
        );
        req.on("error", reject);
        req.end(init.body);
      });
    },
    dispose: () => mf.dispose(),
  };
}
