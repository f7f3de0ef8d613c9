/**
 * `EXT_SESSION_MGT`: the SAP-compatible switch for the external (second) session tier.
 *
 * SAP properties: `instanceName`, `storageType`, `sessionSecret` (required);
 * `externalStoreFilePath`, `defaultRetryTimeout` (ms, default 2000),
 * `backOffMultiplier` (default 50) (optional). Unknown properties are rejected.
 *
 * Differences from SAP:
 * - `sessionSecret` must really be at least 64 characters (SAP documents it, but does not enforce it).
 *
 * Extensions beyond SAP:
 * - `previousSessionSecrets`: string[], newest first, each at least 64 characters. Older
 *   secrets still accepted for sessions sealed before a rotation; new sessions always use
 *   `sessionSecret`. Must not repeat `sessionSecret`.
 * - `revalidateAfter`: ms (integer ≥ 0, default 5000) a first-tier copy is trusted before
 *   it is revalidated against the external store.
 */
import * as v from "valibot";
import type { ConfigProblem, ExternalSessionConfig } from "./types.js";
import { readJsonVariable, validate } from "./problems.js";
import {
  crossCheck,
  nonEmptyString,
  nonNegativeInteger,
  positiveInteger,
  positiveNumber,
  string,
  strictObject,
} from "./schemas.js";

export const VARIABLE = "EXT_SESSION_MGT";

/** EXT_SESSION_MGT settings; `upstash` is resolved separately (see `./vcap`). */
export type ExtSessionSettings = Omit<ExternalSessionConfig, "upstash">;

export interface ExtSessionMgtResult {
  /** Undefined when EXT_SESSION_MGT is unset (memory tier only) or has problems. */
  settings?: ExtSessionSettings;
  /**
   * The instance whose Upstash credentials must be found: set whenever `instanceName` is
   * valid and no `externalStoreFilePath` is given, even if other properties have
   * problems, so that missing credentials are reported in the same run.
   */
  credentialsFor?: string;
  problems: ConfigProblem[];
}

const secret = v.pipe(string, v.minLength(64, "must be at least 64 characters"));

const schema = v.pipe(
  strictObject({
    instanceName: nonEmptyString,
    storageType: nonEmptyString,
    sessionSecret: secret,
    externalStoreFilePath: v.optional(nonEmptyString),
    defaultRetryTimeout: v.optional(positiveInteger, 2000),
    backOffMultiplier: v.optional(positiveNumber, 50),
    previousSessionSecrets: v.optional(v.array(secret, "must be an array of strings"), []),
    revalidateAfter: v.optional(nonNegativeInteger, 5000),
  }),
  crossCheck(
    ["storageType", "externalStoreFilePath"],
    (input) => input.storageType === "redis" || input.externalStoreFilePath !== undefined,
    "storageType",
    'must be "redis" (other storage types need externalStoreFilePath)',
  ),
  crossCheck(
    ["sessionSecret", "previousSessionSecrets"],
    (input) => !input.previousSessionSecrets.includes(input.sessionSecret),
    "previousSessionSecrets",
    "must not contain sessionSecret",
  ),
  v.transform(
    (input): ExtSessionSettings => ({
      instanceName: input.instanceName,
      storageType: input.storageType,
      secrets: [input.sessionSecret, ...input.previousSessionSecrets],
      ...(input.externalStoreFilePath !== undefined && {
        externalStoreFilePath: input.externalStoreFilePath,
      }),
      retryTimeoutMs: input.defaultRetryTimeout,
      backOffMultiplier: input.backOffMultiplier,
      revalidateAfterMs: input.revalidateAfter,
    }),
  ),
);

/** Just enough to know which credentials are needed, even when other properties are wrong. */
const needsCredentials = v.looseObject({
  instanceName: nonEmptyString,
  externalStoreFilePath: v.optional(v.undefined()),
});

/** Parses EXT_SESSION_MGT (a JSON string; unset or blank → no external tier). */
export function parseExtSessionMgt(raw: unknown): ExtSessionMgtResult {
  const json = readJsonVariable(raw, VARIABLE);
  if (!json.ok) return { problems: json.problems };
  if (json.value === undefined) return { problems: [] };

  const parsed = validate(schema, json.value, VARIABLE);
  const needs = v.safeParse(needsCredentials, json.value);
  const credentialsFor = needs.success ? needs.output.instanceName : undefined;
  return parsed.ok
    ? { settings: parsed.value, credentialsFor, problems: [] }
    : { credentialsFor, problems: parsed.problems };
}
