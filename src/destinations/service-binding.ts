/**
 * The destination service binding in VCAP_SERVICES (label `destination`, or a binding
 * tagged `destination` as SAP's router finds it), validated once: `uri` (REST API), `url`
 * (XSUAA base of the token endpoint), `clientid` and `clientsecret`. X.509 credentials
 * (`certificate`/`key`/`certurl`) are refused: the token call would need the key as a
 * client certificate, which a Worker can only present through an mTLS certificate binding.
 * Both URLs must be https (plain http on loopback only, for local runs): the client secret
 * and the tokens travel on them.
 */
import * as v from "valibot";
import type { ConfigProblem, DestinationServiceBinding } from "../config/types.js";
import { validate } from "../config/problems.js";
import { jsonObject, nonEmptyString, string } from "../config/schemas.js";
import { bindingsWhere, onlyBinding, type VcapServicesResult } from "../config/vcap.js";

export const LABEL = "destination";

export interface DestinationServiceResult {
  binding?: DestinationServiceBinding;
  problems: ConfigProblem[];
}

/** https, or http to a loopback address. */
export function isSecureOrLoopback(input: string): boolean {
  try {
    const url = new URL(input);
    if (url.protocol === "https:") return true;
    return (
      url.protocol === "http:" &&
      (url.hostname === "localhost" || url.hostname === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(url.hostname))
    );
  } catch {
    return false;
  }
}

/** A service URL of a binding (secrets and tokens travel on it), without a trailing slash. */
export const serviceUrl = v.pipe(
  string,
  v.trim(),
  v.check(isSecureOrLoopback, "must be an absolute https URL (http only on loopback)"),
  v.transform((url) => url.replace(/\/+$/, "")),
);

const optionalText = v.optional(string);

/**
 * A client secret is required; X.509 credentials (certificate/key) are named as such: the
 * token call would need the key as a client certificate, which a Worker can only present
 * through an mTLS certificate binding.
 */
export function requireClientSecret<
  T extends { clientsecret?: string; certificate?: string; key?: string },
>() {
  return v.rawCheck<T>(({ dataset, addIssue }) => {
    if (!dataset.typed || dataset.value.clientsecret !== undefined) return;
    const x509 = dataset.value.certificate !== undefined || dataset.value.key !== undefined;
    addIssue({
      message: x509
        ? "X.509 credentials (certificate/key) are not supported at the edge: " +
          "bind the service with credential-type binding-secret"
        : "missing required property",
      path: [
        {
          type: "object",
          origin: "value",
          input: dataset.value as Record<string, unknown>,
          key: "clientsecret",
          value: undefined,
        },
      ],
    });
  });
}

const credentialsSchema = v.pipe(
  jsonObject,
  v.looseObject({
    uri: serviceUrl,
    url: serviceUrl,
    clientid: nonEmptyString,
    clientsecret: v.optional(nonEmptyString),
    certificate: optionalText,
    key: optionalText,
    certurl: optionalText,
    xsappname: optionalText,
    identityzone: optionalText,
    tenantid: optionalText,
    uaadomain: optionalText,
    instanceid: optionalText,
  }),
  requireClientSecret(),
);

/**
 * The destination service binding, when one is bound. Several bindings are a problem (the
 * router could not know which one the app means).
 */
export function parseDestinationService(
  vcap: VcapServicesResult,
  variable = "VCAP_SERVICES",
): DestinationServiceResult {
  const { found: first, problems } = onlyBinding(
    bindingsWhere(
      vcap.services,
      (binding, label) => label === LABEL || (Array.isArray(binding.tags) && binding.tags.includes(LABEL)),
      variable,
    ),
    "more than one destination service binding (one is supported)",
  );
  if (!first) return { problems };
  const checked = validate(v.object({ credentials: credentialsSchema }), first.binding, first.path);
  if (!checked.ok) return { problems: checked.problems };
  const c = checked.value.credentials;
  return {
    problems: [],
    binding: {
      uri: c.uri,
      tokenUrl: `${c.url}/oauth/token`,
      clientId: c.clientid,
      clientSecret: c.clientsecret!,
      ...(typeof first.binding.name === "string" && { name: first.binding.name }),
      ...(c.xsappname !== undefined && { xsappname: c.xsappname }),
      ...(c.tenantid !== undefined && { tenantId: c.tenantid }),
    },
  };
}
