/**
 * Structured logs (Workers Logs picks up JSON lines). Callers pass event names and
 * counts, never session ids, tokens, cookies or secrets.
 */
export type Logger = (event: string, fields?: Record<string, unknown>) => void;

/**
 * Events named `*.error` or `*.invalid` are errors, `*.warn` warnings, the rest info.
 * Errors and warnings go to console.error / console.warn, so that `wrangler dev
 * --log-level warn` still shows them.
 */
export const consoleLogger: Logger = (event, fields) => {
  const level = /\.(error|invalid)$/.test(event) ? "error" : event.endsWith(".warn") ? "warn" : "info";
  const line = JSON.stringify({ level, event, ...fields });
  if (level === "error") console.error(line);
  else if (level === "warn") console.warn(line);
  else console.log(line);
};

/** A code as libraries give their errors one (jose's `ERR_JWT_EXPIRED`, oauth4webapi's `OAUTH_…`). */
const STABLE_CODE = /^[A-Z][A-Z0-9_]{1,63}$/;

/**
 * What is logged of an unexpected error: its name and, when it carries one, its stable
 * code; never its message (it may hold request data). Bundled without function names
 * (wrangler.toml `keep_names = false`), a library error's name, taken from its class, is
 * minified: its code still says what failed.
 */
export function errorFields(error: unknown): { name: string; code?: string } {
  if (!(error instanceof Error)) return { name: "unknown" };
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" && STABLE_CODE.test(code)
    ? { name: error.name, code }
    : { name: error.name };
}
