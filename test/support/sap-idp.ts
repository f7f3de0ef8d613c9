// Typed handles on the XSUAA and IAS simulators (scripts/sim/*.mjs, plain Node modules that
// `npm start` uses too). See scripts/sim/README.md.
import { networkFetch } from "../../scripts/sim/http.mjs";
import { DEFAULT_IAS_USERS, startIasSim as startIas } from "../../scripts/sim/ias.mjs";
import type { IasSim, IasSimOptions, XsuaaSim, XsuaaSimOptions } from "../../scripts/sim/sim-types";
import { DEFAULT_XSUAA_USERS, startXsuaaSim as startXsuaa } from "../../scripts/sim/xsuaa.mjs";

export type * from "../../scripts/sim/sim-types";
export { BACKCHANNEL_LOGOUT_EVENT } from "../../scripts/sim/ias.mjs";
export { DEFAULT_IAS_USERS, DEFAULT_XSUAA_USERS };

export const startXsuaaSim = startXsuaa as (options?: XsuaaSimOptions) => Promise<XsuaaSim>;
export const startIasSim = startIas as (options?: IasSimOptions) => Promise<IasSim>;

/** A VCAP_SERVICES string of these bindings, grouped by label as Cloud Foundry does. */
export function vcapServicesOf(...bindings: Array<{ label: string } & Record<string, unknown>>): string {
  const vcap: Record<string, unknown[]> = {};
  for (const b of bindings) (vcap[b.label] ??= []).push(b);
  return JSON.stringify(vcap);
}

/**
 * A Miniflare `outboundService` that sends requests for the simulators' hosts to them (keeping
 * the Host header, so tenant subdomains work) and everything else to `fallback` (default: the
 * network). Takes Miniflare's own Request objects (their bodies are read first).
 */
export function outboundVia(
  sims: Array<Pick<XsuaaSim | IasSim, "servesHost" | "fetch">>,
  fallback: (request: Request) => Promise<Response> = networkFetch,
): (request: Request) => Promise<Response> {
  return (request) => {
    const host = new URL(request.url).host;
    const sim = sims.find((s) => s.servesHost(host));
    return sim ? sim.fetch(request) : fallback(request);
  };
}
