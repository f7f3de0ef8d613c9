import type { Cluster } from "./cluster.js";

/** A simulator of an identity provider reachable under hosts of its own (test/support/sap-idp.ts). */
export interface HostedSim {
  servesHost(host: string): boolean;
  fetch(url: string, init: RequestInit): Promise<Response>;
}

/**
 * The router's outgoing fetches for a cluster's `outbound` hook: a simulator's hosts to that
 * simulator, the rest (Redis REST, the backend) to the network. Bodies are read first: a
 * Miniflare request's body stream cannot be handed to Node's fetch as is. `intercept` may
 * answer instead (by URL and body), e.g. to inject a store fault.
 */
export function outboundTo(
  sims: HostedSim[],
  intercept?: (request: { url: string; body: string | undefined }) => Promise<Response | undefined>,
): (request: Request) => Promise<Response> {
  return async (request) => {
    const body = request.method === "GET" || request.method === "HEAD" ? undefined : await request.text();
    const replaced = await intercept?.({ url: request.url, body });
    if (replaced) return replaced;
    const headers = new Headers(request.headers);
    headers.delete("content-length");
    const init = {
      method: request.method,
      headers,
      redirect: "manual" as const,
      ...(body !== undefined && { body }),
    };
    const host = new URL(request.url).host;
    const sim = sims.find((s) => s.servesHost(host));
    return sim ? sim.fetch(request.url, init) : fetch(request.url, init);
  };
}

/** A GET on `worker` that does not follow redirects, with the session cookie and headers given. */
export const getOn = (
  c: Cluster,
  worker: string,
  path: string,
  cookie?: string,
  headers: Record<string, string> = {},
) => c.fetch(worker, path, { redirect: "manual", headers: { ...(cookie ? { cookie } : {}), ...headers } });

/** What a browser's script sends: the router answers 401 instead of redirecting to the login. */
export const xhr = { "x-requested-with": "XMLHttpRequest" };
