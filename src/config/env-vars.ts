/**
 * Settings from plain environment variables. Unset or blank variables take their default;
 * every bad value is a problem named by the variable.
 *
 * Session (`parseSessionSettings`):
 * - `SESSION_TIMEOUT` (SAP): idle timeout, minutes; else xs-app.json `sessionTimeout`; else 15.
 * - `SESSION_ABSOLUTE_TIMEOUT` (extension): minutes; default 480, or the idle timeout
 *   when that is longer; when set, must be at least the idle timeout.
 * - `SESSION_COOKIE_NAME` (SAP): default `JSESSIONID`; an RFC 6265 cookie-name token. A
 *   `__Host-` name is the way to ask for that prefix: it needs Secure (below); the cookie is
 *   always `Path=/` without `Domain`, as the prefix demands.
 * - `SESSION_MEMORY_MAX_ENTRIES`, `SESSION_MEMORY_MAX_BYTES` (extensions): bounds of the
 *   in-memory tier; defaults 10000 and 64 MiB.
 * - `COOKIES` (SAP, JSON): `{ "SameSite": "Lax" | "None" | "Strict", "Partitioned": … }`.
 *   SameSite defaults to Lax; SAP knows only Lax and None, Strict is an extension.
 *   `Partitioned` is SAP's `{ supportedPartitionAgents, unsupportedPartitionAgents }`
 *   (regular expressions over the User-Agent), or `true`/`false` (extension).
 * - `SECURE_SESSION_COOKIE` (SAP): `true` (default) or `false`. SAP's default "auto"
 *   (Secure on https only) is not needed: a Worker is reached over https. `false` is
 *   accepted for local plain-http development only: the cookie is then also sent over
 *   http, where anyone on the path can read it. Browsers refuse `SameSite=None`,
 *   `Partitioned` and `__Host-`/`__Secure-` cookies without Secure, so those
 *   combinations are problems rather than cookies that silently never arrive.
 *
 * HTTP layer (`parseHttpSettings`):
 * - `SEND_XFRAMEOPTIONS` (SAP): `true` (default) or `false`.
 * - `httpHeaders` (SAP, JSON): `[{ "Header-Name": "value" }, …]`, one property per object.
 * - `CORS` (SAP, JSON): CORS rules as in xs-app.json `cors`; xs-app.json's rules are
 *   consulted first, these after them (SAP's order).
 * - `WS_ALLOWED_ORIGINS` (SAP, JSON): `[{ host, protocol, port }]` allowed to open
 *   WebSockets besides the router's own origin (SAP's list replaces it).
 * - `plugins` (SAP) is rejected: not supported at the edge.
 */
import * as v from "valibot";
import type { ConfigProblem, HttpSettings, SessionCookieSettings, SessionSettings } from "./types.js";
import { readJsonVariable, validate, type Checked } from "./problems.js";
import {
  boolean,
  nonEmptyString,
  positiveIntegerText,
  regExpCheck,
  strictObject,
  string,
} from "./schemas.js";
import { corsRules, originRule, originRules, singleHeaderObject } from "./http-schemas.js";

export const DEFAULT_IDLE_MINUTES = 15;
export const DEFAULT_ABSOLUTE_MINUTES = 480;
export const DEFAULT_COOKIE_NAME = "JSESSIONID";
export const DEFAULT_MEMORY_MAX_ENTRIES = 10_000;
export const DEFAULT_MEMORY_MAX_BYTES = 64 * 1024 * 1024;

const MINUTE_MS = 60_000;

/** RFC 6265 cookie-name = token (RFC 2616): visible ASCII except separators. */
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

const cookieName = v.pipe(string, v.regex(COOKIE_NAME, "must be a valid cookie name (an RFC 6265 token)"));

/** "true"/"false" as text (any case, trimmed), or a boolean (wrangler [vars] JSON). */
const booleanText = v.pipe(
  v.union([boolean, string], "must be true or false"),
  v.transform((input) => (typeof input === "boolean" ? String(input) : input.trim().toLowerCase())),
  v.picklist(["true", "false"], "must be true or false"),
  v.transform((text) => text === "true"),
);

const regExpText = v.pipe(
  nonEmptyString,
  regExpCheck,
  v.transform((source) => new RegExp(source)),
);

const partitioned = v.lazy((input) =>
  typeof input === "boolean"
    ? boolean
    : v.pipe(
        v.custom<Record<string, unknown>>(
          (value) => typeof value === "object" && value !== null && !Array.isArray(value),
          "must be true, false or { supportedPartitionAgents, unsupportedPartitionAgents }",
        ),
        strictObject({ supportedPartitionAgents: regExpText, unsupportedPartitionAgents: regExpText }),
        v.transform((p) => ({
          supportedAgents: p.supportedPartitionAgents,
          unsupportedAgents: p.unsupportedPartitionAgents,
        })),
      ),
);

const cookiesSchema = strictObject({
  SameSite: v.optional(v.picklist(["Lax", "Strict", "None"], 'must be "Lax", "Strict" or "None"'), "Lax"),
  Partitioned: v.optional(partitioned, false),
});

export interface SessionEnv {
  SESSION_TIMEOUT?: unknown;
  SESSION_ABSOLUTE_TIMEOUT?: unknown;
  SESSION_COOKIE_NAME?: unknown;
  SESSION_MEMORY_MAX_ENTRIES?: unknown;
  SESSION_MEMORY_MAX_BYTES?: unknown;
  COOKIES?: unknown;
  SECURE_SESSION_COOKIE?: unknown;
}

export interface HttpEnv {
  SEND_XFRAMEOPTIONS?: unknown;
  httpHeaders?: unknown;
  CORS?: unknown;
  WS_ALLOWED_ORIGINS?: unknown;
  CJ_PROTECT_WHITELIST?: unknown;
  MERGE_CSP_HEADERS?: unknown;
  /** Any other variable (the Worker's `env` has more). */
  [other: string]: unknown;
}

function isUnset(raw: unknown): boolean {
  return raw === undefined || raw === null || (typeof raw === "string" && raw.trim() === "");
}

/** Reads plain variables into `problems`; undefined when unset or invalid. */
function reader<E extends object>(env: E, problems: ConfigProblem[]) {
  return <T>(name: keyof E & string, schema: v.GenericSchema<unknown, T>): T | undefined => {
    const raw = env[name];
    if (isUnset(raw)) return undefined;
    const checked = validate(schema, raw, name);
    if (checked.ok) return checked.value;
    problems.push(...checked.problems);
    return undefined;
  };
}

/** Reads a JSON variable into `problems`; undefined when unset or invalid. */
function jsonReader<E extends object>(env: E, problems: ConfigProblem[]) {
  return <T>(name: keyof E & string, schema: v.GenericSchema<unknown, T>): T | undefined => {
    const json = readJsonVariable(env[name], name);
    if (!json.ok) {
      problems.push(...json.problems);
      return undefined;
    }
    if (json.value === undefined) return undefined;
    const checked = validate(schema, json.value, name);
    if (checked.ok) return checked.value;
    problems.push(...checked.problems);
    return undefined;
  };
}

/** `xsAppSessionTimeout`: xs-app.json `sessionTimeout` (minutes), when known. */
export function parseSessionSettings(
  env: SessionEnv,
  xsAppSessionTimeout: number | undefined,
): Checked<SessionSettings> {
  const problems: ConfigProblem[] = [];
  const read = reader(env, problems);
  const readJson = jsonReader(env, problems);

  const idleMinutes =
    read("SESSION_TIMEOUT", positiveIntegerText) ?? xsAppSessionTimeout ?? DEFAULT_IDLE_MINUTES;
  const absoluteSetting = read("SESSION_ABSOLUTE_TIMEOUT", positiveIntegerText);
  if (absoluteSetting !== undefined && absoluteSetting < idleMinutes) {
    problems.push({
      path: "SESSION_ABSOLUTE_TIMEOUT",
      message: `must be at least the idle timeout (${idleMinutes} minutes)`,
    });
  }
  const absoluteMinutes = absoluteSetting ?? Math.max(DEFAULT_ABSOLUTE_MINUTES, idleMinutes);
  const cookie = read("SESSION_COOKIE_NAME", cookieName) ?? DEFAULT_COOKIE_NAME;
  const maxEntries = read("SESSION_MEMORY_MAX_ENTRIES", positiveIntegerText) ?? DEFAULT_MEMORY_MAX_ENTRIES;
  const maxBytes = read("SESSION_MEMORY_MAX_BYTES", positiveIntegerText) ?? DEFAULT_MEMORY_MAX_BYTES;

  const cookies = readJson("COOKIES", cookiesSchema);
  const secure = read("SECURE_SESSION_COOKIE", booleanText) ?? true;
  const attributes: SessionCookieSettings = {
    sameSite: cookies?.SameSite ?? "Lax",
    partitioned: cookies?.Partitioned ?? false,
    secure,
  };
  if (!secure) {
    // Browsers drop these cookies without Secure: a login that never sticks.
    const needsSecure = [
      attributes.sameSite === "None" && "COOKIES SameSite None",
      attributes.partitioned !== false && "COOKIES Partitioned",
      /^__(Host|Secure)-/i.test(cookie) && "a __Host- or __Secure- SESSION_COOKIE_NAME",
    ].filter((reason): reason is string => reason !== false);
    for (const reason of needsSecure) {
      problems.push({
        path: "SECURE_SESSION_COOKIE",
        message: `must not be false with ${reason} (browsers require Secure)`,
      });
    }
  }

  if (problems.length > 0) return { ok: false, problems };
  return {
    ok: true,
    value: {
      cookieName: cookie,
      idleTimeoutMs: idleMinutes * MINUTE_MS,
      absoluteTimeoutMs: absoluteMinutes * MINUTE_MS,
      memory: { maxEntries, maxBytes },
      cookie: attributes,
    },
  };
}

const headerList = v.array(singleHeaderObject, 'must be an array of { "Header-Name": "value" } objects');

/**
 * The HTTP-layer variables: SEND_XFRAMEOPTIONS, httpHeaders, CORS, WS_ALLOWED_ORIGINS,
 * CJ_PROTECT_WHITELIST, MERGE_CSP_HEADERS (`true`/`false`; SAP merges for any value, even
 * "false").
 */
export function parseHttpSettings(env: HttpEnv): Checked<HttpSettings> {
  const problems: ConfigProblem[] = [];
  const read = reader(env, problems);
  const readJson = jsonReader(env, problems);

  const sendXFrameOptions = read("SEND_XFRAMEOPTIONS", booleanText) ?? true;
  const mergeCspHeaders = read("MERGE_CSP_HEADERS", booleanText) ?? false;
  const httpHeaders = readJson("httpHeaders", headerList) ?? [];
  const cors = readJson("CORS", corsRules) ?? [];
  const wsAllowedOrigins = readJson("WS_ALLOWED_ORIGINS", originRules);
  const clickjackWhitelist = readJson(
    "CJ_PROTECT_WHITELIST",
    v.array(originRule, "must be an array of { host, protocol, port }"),
  );

  if (problems.length > 0) return { ok: false, problems };
  return {
    ok: true,
    value: {
      sendXFrameOptions,
      httpHeaders,
      cors,
      ...(wsAllowedOrigins !== undefined && { wsAllowedOrigins }),
      ...(clickjackWhitelist !== undefined && { clickjackWhitelist }),
      ...(mergeCspHeaders && { mergeCspHeaders }),
    },
  };
}
