/**
 * UIs of business services in the HTML5 application repository, as SAP's router serves them
 * (lib/utils/dynamic-routing-utils.js, business-service-utils.js getCredentials,
 * vcap-utils.js getCredentialsBySapCloudService): a bound service whose credentials carry an
 * `html5-apps-repo` part with its `app_host_id` hosts apps in the repository; the app key
 * prefix (`/<prefix>.<app>[-<version>]/`) names the service by its `sap.cloud.service`,
 * `sap.cloud.service.alias` or a tag, without dots. Requests for its apps carry
 * `x-app-host-id: <app_host_id>`, and `$XSAPPNAME` in the app's scopes is the service's
 * `uaa.xsappname`. Routes to the business service itself (`"service": "<name>"`,
 * `endpoint`) are not supported at the edge (src/config/xs-app.ts).
 * Pure: configuration only.
 */
import type { BusinessService, ConfigProblem } from "../config/types.js";
import { appendKey } from "../config/problems.js";
import type { VcapServicesResult } from "../config/vcap.js";

export interface BusinessServicesResult {
  /** By app key prefix (a name without dots). */
  services: ReadonlyMap<string, BusinessService>;
  problems: ConfigProblem[];
}

/** What fetch accepts as a header value, and what an app host id list looks like (ids, commas). */
const APP_HOST_ID = /^[A-Za-z0-9_.,: -]{1,1000}$/;

const record = (value: unknown): Record<string, unknown> | undefined =>
  typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;

/**
 * The business services among the bindings; a name two of them claim is a problem (which
 * one would the URL mean?).
 */
export function parseBusinessServices(
  vcap: VcapServicesResult,
  variable = "VCAP_SERVICES",
): BusinessServicesResult {
  const services = new Map<string, BusinessService>();
  const claimedBy = new Map<string, string>();
  const problems: ConfigProblem[] = [];
  for (const [label, bindings] of Object.entries(vcap.services ?? {})) {
    bindings.forEach((binding, index) => {
      const credentials = record(binding.credentials);
      const repo = record(credentials?.["html5-apps-repo"]);
      if (!credentials || !repo) return;
      const path = appendKey(appendKey(variable, label), index);
      const appHostId = repo.app_host_id;
      if (typeof appHostId !== "string" || !APP_HOST_ID.test(appHostId)) {
        problems.push({
          path: `${path}.credentials.html5-apps-repo.app_host_id`,
          message: "must be the business service's app host id(s) (letters, digits, -, comma-separated)",
        });
        return;
      }
      const xsappname = record(credentials.uaa)?.xsappname;
      const service: BusinessService = {
        appHostId,
        ...(typeof binding.name === "string" && { name: binding.name }),
        ...(typeof xsappname === "string" && xsappname !== "" && { xsappname }),
      };
      const names = [
        credentials["sap.cloud.service"],
        credentials["sap.cloud.service.alias"],
        ...(Array.isArray(binding.tags) ? binding.tags : []),
      ]
        .filter((name): name is string => typeof name === "string")
        .map((name) => name.replace(/\./g, ""))
        .filter((name) => name !== "");
      for (const name of new Set(names)) {
        const other = claimedBy.get(name);
        if (other !== undefined && other !== path) {
          problems.push({
            path,
            message: `names the business service "${name}" as ${other} does (one is supported)`,
          });
          continue;
        }
        claimedBy.set(name, path);
        services.set(name, service);
      }
    });
  }
  return { services, problems };
}
