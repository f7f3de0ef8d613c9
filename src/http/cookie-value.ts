/**
 * One cookie's value from a Cookie header, by the rules of Hono's `parse(header, name)`
 * (hono/utils/cookie): the first `name=value` pair whose value is valid, spaces and tabs
 * trimmed, surrounding quotes removed, percent-decoded. Without the object `parse` builds
 * (a dictionary-mode object per call, most of its cost): this runs on every request with a
 * cookie. test/unit/cookie-value.test.ts holds it to `parse` on generated headers.
 */

/** Hono's `validCookieValueRegEx`. */
const VALID_VALUE = /^[ !#-:<-[\]-~]*$/;
/** Hono's `relaxedCookieNameRegEx`: a name `parse` can never find. */
const VALID_NAME = /^[!#-:<>-[\]-~]+$/;

export function cookieValue(header: string, name: string): string | undefined {
  if (header.indexOf(name) === -1 || !VALID_NAME.test(name)) return undefined; // the common miss: one scan
  for (const pair of header.split(";")) {
    const eq = pair.indexOf("=");
    if (eq === -1 || trimSpaces(pair.substring(0, eq)) !== name) continue;
    let value = trimSpaces(pair.substring(eq + 1));
    if (value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    if (VALID_VALUE.test(value)) return value.indexOf("%") === -1 ? value : decodePercent(value);
  }
  return undefined;
}

/** Spaces and tabs at both ends (what Hono trims; not String.prototype.trim's set). */
function trimSpaces(value: string): string {
  let start = 0;
  let end = value.length;
  while (start < end && (value.charCodeAt(start) === 32 || value.charCodeAt(start) === 9)) start++;
  while (end > start && (value.charCodeAt(end - 1) === 32 || value.charCodeAt(end - 1) === 9)) end--;
  return start === 0 && end === value.length ? value : value.slice(start, end);
}

/** decodeURIComponent; for a malformed sequence, each well-formed run decoded alone (Hono's tryDecode). */
function decodePercent(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => {
      try {
        return decodeURIComponent(run);
      } catch {
        return run;
      }
    });
  }
}
