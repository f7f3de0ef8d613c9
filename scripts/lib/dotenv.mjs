// Writing variables for wrangler's env files (.dev.vars, --env-file): dotenv lines that
// wrangler reads back verbatim.

/** Variables the router parses as JSON (src/config). */
export const JSON_VARIABLES = new Set([
  "VCAP_SERVICES",
  "destinations",
  "EXT_SESSION_MGT",
  "XS_APP",
  "httpHeaders",
  "CORS",
  "COOKIES",
  "WS_ALLOWED_ORIGINS",
  "CJ_PROTECT_WHITELIST",
  "plugins",
  "COMPRESSION",
  "OWN_SAP_CLOUD_SERVICE",
  "DIRECT_ROUTING_URI_PATTERNS",
]);

/**
 * A JSON value as a dotenv value: single-quoted and compact; since wrangler also expands
 * `$VAR` inside quotes, `$` and `'` are written as JSON \u escapes (valid only inside JSON
 * strings, which is the only place compact JSON has them; the router's JSON.parse
 * restores them).
 * @param {unknown} json
 */
export function dotenvJson(json) {
  return `'${JSON.stringify(json).replace(/[$']/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)}'`;
}

/**
 * `NAME=value` for `name`: JSON variables as compact JSON (a string holding JSON is parsed
 * first), anything else as its text. null when the value cannot be written so that wrangler
 * reads it back unchanged (a text with `$`, `'` or a line break; JSON text that does not parse).
 * @param {string} name @param {unknown} value
 * @returns {string | null}
 */
export function dotenvLine(name, value) {
  if (JSON_VARIABLES.has(name)) {
    let json = value;
    if (typeof value === "string") {
      try {
        json = JSON.parse(value);
      } catch {
        return null;
      }
    }
    return `${name}=${dotenvJson(json)}`;
  }
  const text = typeof value === "string" ? value : JSON.stringify(value);
  if (/[$'\r\n]/.test(text)) return null;
  return `${name}='${text}'`;
}
