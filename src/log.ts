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
