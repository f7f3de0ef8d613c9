import { Redis as IORedis } from "ioredis";
import { startLocalRedis as start } from "../../scripts/local-redis.mjs";

export interface LocalRedis {
  redisPort: number;
  restUrl: string;
  token: string;
  stopRedis(): Promise<void>;
  startRedis(): Promise<void>;
  stop(): Promise<void>;
}

export const startLocalRedis = start as (options?: {
  redisPort?: number;
  restPort?: number;
  token?: string;
}) => Promise<LocalRedis>;

/** A direct client, to look at what the router really stored and count commands. */
export function directClient(port: number): IORedis {
  const client = new IORedis({ port, host: "127.0.0.1", maxRetriesPerRequest: 1 });
  client.on("error", () => {}); // outage tests stop the server under it
  return client;
}

/** Commands redis-server executed, by name (from INFO commandstats), `info` itself excluded. */
export async function commandCounts(client: IORedis): Promise<Record<string, number>> {
  const info = await client.info("commandstats");
  const counts: Record<string, number> = {};
  for (const match of info.matchAll(/^cmdstat_([a-z|]+):calls=(\d+)/gm)) {
    if (match[1] !== "info") counts[match[1]!] = Number(match[2]);
  }
  return counts;
}

export function totalCalls(counts: Record<string, number>): number {
  return Object.values(counts).reduce((a, b) => a + b, 0);
}

/** The external-tier configuration for a local REST endpoint. */
export function externalSessionBindings(
  redis: LocalRedis,
  ext: Record<string, unknown>,
): Record<string, string> {
  return {
    EXT_SESSION_MGT: JSON.stringify({ instanceName: "sessions", storageType: "redis", ...ext }),
    VCAP_SERVICES: JSON.stringify({
      redis: [{ name: "sessions", label: "redis", credentials: { url: redis.restUrl, token: redis.token } }],
    }),
  };
}

/** The bindings of a router with the external tier on `redis` and one destination `backend`. */
export function routerBindings(
  redis: LocalRedis,
  backendUrl: string,
  ext: Record<string, unknown>,
): Record<string, string> {
  return {
    ...externalSessionBindings(redis, ext),
    destinations: JSON.stringify([{ name: "backend", url: backendUrl }]),
  };
}
