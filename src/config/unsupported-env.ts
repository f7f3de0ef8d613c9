/**
 * SAP application router variables about login, tokens, sessions and cookies that this
 * router does not support, and those that change routing or response headers (SaaS,
 * connectivity, frame-ancestors, path validation). They are named at start-up in one
 * warning line, never silently ignored. Drawn from what `@sap/approuter` 23 reads
 * (lib/configuration/env-config.js, the `process.env` reads under lib/, its README's
 * variable table); the README's "SAP variables not supported" table gives the same reasons.
 *
 * Supported, so not listed: UAA_SERVICE_NAME, IAS_SERVICE_NAME, JWT_REFRESH,
 * TENANT_HOST_PATTERN, PRESERVE_FRAGMENT, ENABLE_PERMANENT_AUTHTYPE,
 * LOGOUT_WITH_TOKEN_HINT, XS_BIND_ADDRESS (detection), SESSION_TIMEOUT,
 * SESSION_COOKIE_NAME, SECURE_SESSION_COOKIE, COOKIES, EXT_SESSION_MGT,
 * SEND_XFRAMEOPTIONS, httpHeaders, CORS, WS_ALLOWED_ORIGINS, destinations,
 * VCAP_SERVICES; REMOVE_CLASHING_BACKEND_SESSION_COOKIE is always on. Variables outside
 * login and sessions (plugins, DESTINATION_HOST_PATTERN, …) are src/config's business.
 * The list itself is unsupported-variables.json, in the order of the README table.
 */
import unsupportedVariablesJson from "./unsupported-variables.json";

export interface UnsupportedVariable {
  name: string;
  /** Why, for users (README table). */
  reason: string;
}

/**
 * Data, not code: `approuter-edge init` (scripts/init.mjs, plain Node) reads the same file to
 * tell a migrating user why a variable of theirs is left out.
 */
export const UNSUPPORTED_VARIABLES: readonly UnsupportedVariable[] = unsupportedVariablesJson;

/**
 * The unsupported variables set in `env`, in the list's order. Blank counts as unset, as
 * for every variable the router reads. Names only: values may be secrets.
 */
export function unsupportedVariables(env: Readonly<Record<string, unknown>>): string[] {
  return UNSUPPORTED_VARIABLES.filter(({ name }) => {
    const value = env[name];
    return value !== undefined && value !== null && !(typeof value === "string" && value.trim() === "");
  }).map(({ name }) => name);
}

/** Logs the unsupported variables set in `env` as one warning line; nothing when there are none. */
export function warnUnsupported(
  env: Readonly<Record<string, unknown>>,
  log: (event: string, fields: Record<string, unknown>) => void,
): void {
  const variables = unsupportedVariables(env);
  if (variables.length > 0) log("config.unsupported.warn", { variables });
}
