/**
 * Identity providers, found as SAP's router finds them: the `VCAP_SERVICES` binding
 * labelled `xsuaa` (routes with `authenticationType: "xsuaa"`) or `identity` (IAS,
 * `authenticationType: "ias"`). Any OpenID Connect provider works when bound under
 * one of these labels with `url` (its issuer), `clientid` and `clientsecret`.
 */
import * as v from "valibot";
import type { ConfigProblem, IdentityProviderConfig, RouteConfig } from "./types.js";
import { validate } from "./problems.js";
import { httpUrl, nonEmptyString } from "./schemas.js";
import type { VcapServicesResult } from "./vcap.js";

/** Which binding label serves which route `authenticationType`. */
export const LABEL_FOR: Record<"xsuaa" | "ias", "xsuaa" | "identity"> = { xsuaa: "xsuaa", ias: "identity" };

const credentials = v.looseObject({
  url: httpUrl,
  clientid: nonEmptyString,
  clientsecret: nonEmptyString,
  xsappname: v.optional(nonEmptyString),
  /** Extension: the scopes to request (space-separated). Default "openid". */
  scope: v.optional(nonEmptyString),
});

export function parseIdentityProviders(
  vcap: VcapServicesResult,
  routes: readonly Pick<RouteConfig, "authenticationType">[],
  routesPath: string,
): { providers: Partial<Record<"xsuaa" | "identity", IdentityProviderConfig>>; problems: ConfigProblem[] } {
  const problems: ConfigProblem[] = [];
  const providers: Partial<Record<"xsuaa" | "identity", IdentityProviderConfig>> = {};
  for (const label of ["xsuaa", "identity"] as const) {
    const binding = vcap.services?.[label]?.[0];
    if (!binding) continue;
    const checked = validate(credentials, binding.credentials, `VCAP_SERVICES.${label}[0].credentials`);
    if (!checked.ok) {
      problems.push(...checked.problems);
      continue;
    }
    const c = checked.value;
    providers[label] = {
      label,
      issuer: c.url.replace(/\/+$/, ""),
      clientId: c.clientid,
      clientSecret: c.clientsecret,
      scope: c.scope ?? "openid",
      ...(c.xsappname !== undefined ? { xsappname: c.xsappname } : {}),
    };
  }
  // An invalid VCAP_SERVICES is reported once, not again as every missing binding.
  if (vcap.problems.length === 0) {
    routes.forEach((route, i) => {
      if (route.authenticationType === "none") return;
      const label = LABEL_FOR[route.authenticationType];
      if (!providers[label] && !problems.some((p) => p.path.startsWith(`VCAP_SERVICES.${label}`))) {
        problems.push({ path: `${routesPath}[${i}].authenticationType`, message: `needs a "${label}" service binding in VCAP_SERVICES` });
      }
    });
  }
  return { providers, problems };
}
