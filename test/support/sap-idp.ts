// Typed handles on the XSUAA and IAS simulators (scripts/sim/*.mjs, plain Node modules that
// `npm start` uses too). See scripts/sim/README.md.
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
