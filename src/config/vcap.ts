/**
 * Credentials of the external session store (an Upstash Redis REST endpoint).
 *
 * Looked up as SAP does: the service binding in `VCAP_SERVICES` whose `name` is
 * `EXT_SESSION_MGT.instanceName` (under any label), credentials `{ url, token }`.
 * Without such a binding, the `UPSTASH_REDIS_REST_URL` / `UPSTASH_REDIS_REST_TOKEN`
 * variables are used.
 */
import * as v from "valibot";
import type { ConfigProblem } from "./types.js";
import { appendKey, readJsonVariable, validate, type Checked } from "./problems.js";
import { httpUrl, jsonObject, nonEmptyString, string } from "./schemas.js";

export const VARIABLE = "VCAP_SERVICES";

export interface UpstashCredentials {
  url: string;
  token: string;
}

export interface ServiceBinding {
  name?: string;
  [property: string]: unknown;
}

export interface VcapServicesResult {
  /** Label → bindings. Undefined when VCAP_SERVICES is unset or invalid. */
  services?: Record<string, ServiceBinding[]>;
  problems: ConfigProblem[];
}

const servicesSchema = v.pipe(
  jsonObject,
  v.record(
    v.string(),
    v.array(
      v.pipe(jsonObject, v.looseObject({ name: v.optional(string) })),
      "must be an array of service bindings",
    ),
  ),
);

const credentials = v.looseObject({ url: httpUrl, token: nonEmptyString });

const bindingSchema = v.pipe(
  v.looseObject({ credentials: v.pipe(jsonObject, credentials) }),
  v.transform(
    (binding): UpstashCredentials => ({ url: binding.credentials.url, token: binding.credentials.token }),
  ),
);

/** A binding of VCAP_SERVICES with its JSON path, for problems. */
export interface FoundBinding {
  path: string;
  binding: ServiceBinding;
}

/** Every binding of `services` that `matches` (given its label too), with its JSON path, in order. */
export function bindingsWhere(
  services: Record<string, ServiceBinding[]> | undefined,
  matches: (binding: ServiceBinding, label: string) => boolean,
  variable = VARIABLE,
): FoundBinding[] {
  const found: FoundBinding[] = [];
  for (const [label, bindings] of Object.entries(services ?? {})) {
    bindings.forEach((binding, index) => {
      if (matches(binding, label))
        found.push({ path: appendKey(appendKey(variable, label), index), binding });
    });
  }
  return found;
}

/**
 * The one binding of `found`, or a problem (`message`) at each further one: with several, the
 * router could not know which one the app means.
 */
export function onlyBinding(
  found: FoundBinding[],
  message: string,
): { found?: FoundBinding; problems: ConfigProblem[] } {
  const [first, ...others] = found;
  if (others.length > 0) return { problems: others.map((m) => ({ path: m.path, message })) };
  return first ? { found: first, problems: [] } : { problems: [] };
}

/** Parses VCAP_SERVICES (JSON object: label → array of bindings). Only the shape is checked. */
export function parseVcapServices(raw: unknown): VcapServicesResult {
  const json = readJsonVariable(raw, VARIABLE);
  if (!json.ok) return { problems: json.problems };
  if (json.value === undefined) return { problems: [] };
  const parsed = validate(servicesSchema, json.value, VARIABLE);
  return parsed.ok ? { services: parsed.value, problems: [] } : { problems: parsed.problems };
}

export interface UpstashEnv {
  UPSTASH_REDIS_REST_URL?: unknown;
  UPSTASH_REDIS_REST_TOKEN?: unknown;
}

/**
 * The Upstash credentials of `instanceName`. A problem when neither a binding nor both
 * variables are there; when VCAP_SERVICES itself is invalid (already reported), no
 * further problem is added for the missing binding.
 */
export function resolveUpstash(
  instanceName: string,
  vcap: VcapServicesResult,
  env: UpstashEnv,
): Checked<UpstashCredentials> {
  const [first, ...others] = bindingsWhere(vcap.services, (binding) => binding.name === instanceName);
  if (first) {
    const duplicates = others.map((m) => ({
      path: `${m.path}.name`,
      message: `more than one service binding is named ${JSON.stringify(instanceName)}`,
    }));
    const found = validate(bindingSchema, first.binding, first.path);
    if (duplicates.length > 0)
      return { ok: false, problems: [...(found.ok ? [] : found.problems), ...duplicates] };
    return found;
  }

  const url = present(env.UPSTASH_REDIS_REST_URL);
  const token = present(env.UPSTASH_REDIS_REST_TOKEN);
  if (url !== undefined || token !== undefined) return fromVariables(url, token);
  if (vcap.problems.length > 0) return { ok: false, problems: [] };
  return {
    ok: false,
    problems: [
      {
        path: "EXT_SESSION_MGT.instanceName",
        message:
          `no service binding named ${JSON.stringify(instanceName)} in VCAP_SERVICES ` +
          "and no UPSTASH_REDIS_REST_URL/UPSTASH_REDIS_REST_TOKEN",
      },
    ],
  };
}

/** Unset, null or blank → undefined; strings trimmed (a secret put from `echo` ends in a newline). */
function present(value: unknown): unknown {
  if (typeof value === "string") return value.trim() === "" ? undefined : value.trim();
  return value ?? undefined;
}

function fromVariables(url: unknown, token: unknown): Checked<UpstashCredentials> {
  const checkedUrl =
    url === undefined
      ? missing("UPSTASH_REDIS_REST_URL", "UPSTASH_REDIS_REST_TOKEN")
      : validate(httpUrl, url, "UPSTASH_REDIS_REST_URL");
  const checkedToken =
    token === undefined
      ? missing("UPSTASH_REDIS_REST_TOKEN", "UPSTASH_REDIS_REST_URL")
      : validate(nonEmptyString, token, "UPSTASH_REDIS_REST_TOKEN");
  if (checkedUrl.ok && checkedToken.ok)
    return { ok: true, value: { url: checkedUrl.value, token: checkedToken.value } };
  return {
    ok: false,
    problems: [
      ...(checkedUrl.ok ? [] : checkedUrl.problems),
      ...(checkedToken.ok ? [] : checkedToken.problems),
    ],
  };
}

function missing(name: string, other: string): Checked<never> {
  return { ok: false, problems: [{ path: name, message: `must be set together with ${other}` }] };
}
