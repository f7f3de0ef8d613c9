/**
 * Structured logs (Workers Logs picks up JSON lines). Callers pass event names and
 * counts, never session ids, tokens, cookies or secrets.
 */
export type Logger = (event: string, fields?: Record<string, unknown>) => void;

/** Events named `*.error` or `*.invalid` are errors; `*.warn` warnings; the rest info. */
export const consoleLogger: Logger = (event, fields) => {
  const level = /\.(error|invalid)$/.test(event) ? "error" : event.endsWith(".warn") ? "warn" : "info";
  console.log(JSON.stringify({ level, event, ...fields }));
};

export const silentLogger: Logger = () => {};
