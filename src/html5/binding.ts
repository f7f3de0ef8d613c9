/**
 * The HTML5 application repository binding (service `html5-apps-repo`, plan `app-runtime`),
 * found as SAP's router finds it: a binding tagged `html5-apps-repo-rt` or whose
 * credentials say `"sap.cloud.service": "html5-apps-repo-rt"`, or label `html5-apps-repo`
 * with plan `app-runtime`. Credentials: `uri` (the runtime API, `…/applications/content`),
 * `grant_type` (SAP requires `client_credentials`), `uaa.{url, clientid, clientsecret}`.
 * X.509 `uaa` credentials are refused (a Worker cannot present the client certificate).
 * Both URLs must be https (plain http only on loopback): the secret and tokens travel there.
 */
import * as v from "valibot";
import type { ConfigProblem, DirectRoutingPattern, Html5RepoBinding } from "../config/types.js";
import { readJsonVariable, validate, type Checked } from "../config/problems.js";
import { jsonObject, nonEmptyString, regExpCheck, string } from "../config/schemas.js";
import { bindingsWhere, onlyBinding, type VcapServicesResult } from "../config/vcap.js";
import { requireClientSecret, serviceUrl } from "../destinations/service-binding.js";
import { HTML5_REPO_SERVICE } from "../config/xs-app.js";

export { HTML5_REPO_SERVICE } from "../config/xs-app.js";
const LABEL = "html5-apps-repo";
const PLAN = "app-runtime";

export interface Html5RepoResult {
  binding?: Omit<Html5RepoBinding, "ownSapCloudServices" | "directRoutingUriPatterns">;
  problems: ConfigProblem[];
}

const uaaSchema = v.pipe(
  jsonObject,
  v.looseObject({
    url: serviceUrl,
    clientid: nonEmptyString,
    clientsecret: v.optional(nonEmptyString),
    certificate: v.optional(string),
    key: v.optional(string),
  }),
  requireClientSecret(),
);

const bindingSchema = v.object({
  credentials: v.pipe(
    jsonObject,
    v.looseObject({
      uri: serviceUrl,
      grant_type: v.optional(
        v.pipe(
          string,
          v.check((g) => g === "client_credentials", 'must be "client_credentials"'),
        ),
      ),
      uaa: uaaSchema,
    }),
  ),
});

/** Whether a VCAP_SERVICES entry is the repository's runtime binding (SAP: by tag or sap.cloud.service). */
function isRuntimeBinding(label: string, binding: Record<string, unknown>): boolean {
  const tags = Array.isArray(binding.tags) ? binding.tags : [];
  const credentials = binding.credentials as Record<string, unknown> | undefined;
  return (
    tags.includes(HTML5_REPO_SERVICE) ||
    (typeof credentials === "object" &&
      credentials !== null &&
      credentials["sap.cloud.service"] === HTML5_REPO_SERVICE) ||
    (label === LABEL && binding.plan === PLAN)
  );
}

/** The repository binding, when one is bound; several are a problem (which one would the app mean?). */
export function parseHtml5Repo(vcap: VcapServicesResult, variable = "VCAP_SERVICES"): Html5RepoResult {
  const { found: first, problems } = onlyBinding(
    bindingsWhere(vcap.services, (binding, label) => isRuntimeBinding(label, binding), variable),
    `more than one ${LABEL} ${PLAN} binding (one is supported)`,
  );
  if (!first) return { problems };
  const checked = validate(bindingSchema, first.binding, first.path);
  if (!checked.ok) return { problems: checked.problems };
  const { uri, uaa } = checked.value.credentials;
  return {
    problems: [],
    binding: {
      uri,
      tokenUrl: `${uaa.url}/oauth/token`,
      clientId: uaa.clientid,
      clientSecret: uaa.clientsecret!,
      ...(typeof first.binding.name === "string" && { name: first.binding.name }),
    },
  };
}

const ownServicesSchema = v.pipe(
  v.array(nonEmptyString, "must be an array of sap.cloud.service names"),
  v.minLength(1, "must not be empty"),
  // SAP compares them without dots, as they appear in app keys.
  v.transform((names) => [
    ...new Set(names.map((name) => name.replace(/\./g, "")).filter((name) => name !== "")),
  ]),
);

/**
 * OWN_SAP_CLOUD_SERVICE (JSON array): the `sap.cloud.service` names of the router's own apps,
 * so that managed-router style keys (`/<service>.<app>-<version>/`) serve the app from the
 * repository instead of routing centrally. Unset: none.
 */
export function parseOwnSapCloudService(raw: unknown): Checked<string[]> {
  const json = readJsonVariable(raw, "OWN_SAP_CLOUD_SERVICE");
  if (!json.ok) return json;
  if (json.value === undefined) return { ok: true, value: [] };
  return validate(ownServicesSchema, json.value, "OWN_SAP_CLOUD_SERVICE");
}

const directRoutingSchema = v.pipe(
  v.array(
    // SAP tries each as a regular expression: one that is not would fail its requests later.
    v.pipe(
      v.string("must be a string (a first path segment or a regular expression)"),
      v.minLength(1, "must not be empty"),
      regExpCheck,
    ),
    "must be an array of first path segments or regular expressions",
  ),
  v.minLength(1, "must not be empty"),
  v.transform((texts): DirectRoutingPattern[] => texts.map((text) => ({ text, pattern: new RegExp(text) }))),
);

/**
 * DIRECT_ROUTING_URI_PATTERNS (JSON array, SAP README "Direct Routing URI Patterns"): first
 * path segments that are routed with the central xs-app.json without asking the repository
 * for an app of that name (SAP's presets `favicon.ico` and `login` always are). Unset: none.
 */
export function parseDirectRoutingUriPatterns(raw: unknown): Checked<DirectRoutingPattern[]> {
  const json = readJsonVariable(raw, "DIRECT_ROUTING_URI_PATTERNS");
  if (!json.ok) return json;
  if (json.value === undefined) return { ok: true, value: [] };
  return validate(directRoutingSchema, json.value, "DIRECT_ROUTING_URI_PATTERNS");
}
