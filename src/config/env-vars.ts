/**
 * Session settings from plain environment variables:
 * - `SESSION_TIMEOUT` (SAP): idle timeout, minutes; else xs-app.json `sessionTimeout`; else 15.
 * - `SESSION_ABSOLUTE_TIMEOUT` (extension): minutes; default 480, or the idle timeout
 *   when that is longer; when set, must be at least the idle timeout.
 * - `SESSION_COOKIE_NAME` (SAP): default `JSESSIONID`; an RFC 6265 cookie-name token.
 * - `SESSION_MEMORY_MAX_ENTRIES`, `SESSION_MEMORY_MAX_BYTES` (extensions): bounds of the
 *   in-memory tier; defaults 10000 and 64 MiB.
 * Unset or blank variables take their default.
 */
import * as v from "valibot";
import type { ConfigProblem, SessionSettings } from "./types.js";
import { validate, type Checked } from "./problems.js";
import { positiveIntegerText, string } from "./schemas.js";

export const DEFAULT_IDLE_MINUTES = 15;
export const DEFAULT_ABSOLUTE_MINUTES = 480;
export const DEFAULT_COOKIE_NAME = "JSESSIONID";
export const DEFAULT_MEMORY_MAX_ENTRIES = 10_000;
export const DEFAULT_MEMORY_MAX_BYTES = 64 * 1024 * 1024;

const MINUTE_MS = 60_000;

/** RFC 6265 cookie-name = token (RFC 2616): visible ASCII except separators. */
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

const cookieName = v.pipe(string, v.regex(COOKIE_NAME, "must be a valid cookie name (an RFC 6265 token)"));

export interface SessionEnv {
  SESSION_TIMEOUT?: unknown;
  SESSION_ABSOLUTE_TIMEOUT?: unknown;
  SESSION_COOKIE_NAME?: unknown;
  SESSION_MEMORY_MAX_ENTRIES?: unknown;
  SESSION_MEMORY_MAX_BYTES?: unknown;
}

/** `xsAppSessionTimeout`: xs-app.json `sessionTimeout` (minutes), when known. */
export function parseSessionSettings(env: SessionEnv, xsAppSessionTimeout: number | undefined): Checked<SessionSettings> {
  const problems: ConfigProblem[] = [];
  const read = <T>(name: keyof SessionEnv, schema: v.GenericSchema<unknown, T>): T | undefined => {
    const raw = env[name];
    if (raw === undefined || raw === null || (typeof raw === "string" && raw.trim() === "")) return undefined;
    const checked = validate(schema, raw, name);
    if (checked.ok) return checked.value;
    problems.push(...checked.problems);
    return undefined;
  };

  const idleMinutes = read("SESSION_TIMEOUT", positiveIntegerText) ?? xsAppSessionTimeout ?? DEFAULT_IDLE_MINUTES;
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

  if (problems.length > 0) return { ok: false, problems };
  return {
    ok: true,
    value: {
      cookieName: cookie,
      idleTimeoutMs: idleMinutes * MINUTE_MS,
      absoluteTimeoutMs: absoluteMinutes * MINUTE_MS,
      memory: { maxEntries, maxBytes },
    },
  };
}
