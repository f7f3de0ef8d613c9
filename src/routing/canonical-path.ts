/**
 * The canonical form of a request path: the one spelling on which routes are decided and
 * which is forwarded, so that the router's decision and the backend's reading agree
 * (docs/path-canonicalization.md has the table of what Tomcat, nginx and Node read).
 *
 * - Percent-encoded unreserved characters (ALPHA, DIGIT, `-._~`) are decoded, other
 *   escapes get upper-case hex (RFC 3986 §6.2.2); `/a/%61` and `/a/a` are one path.
 * - Empty segments are merged (`//` → `/`), as Tomcat and nginx do before they match.
 * - Refused, because common backends read them differently from a regular expression
 *   over the raw text: dot segments in any spelling (`..`, `%2e%2E`, `.%2e`, also behind
 *   `;` parameters: `..;`), encoded `/` and `\`, raw `\`, malformed escapes, invalid or
 *   overlong UTF-8, control characters (C0, DEL, C1; encoded or not).
 * - `;` path parameters (Tomcat, Spring and Jetty strip them; SAP Gateway needs `;v=2`,
 *   `;o=ALIAS`) are kept; `withoutParams` is the path as a backend that strips them reads
 *   it, so the caller can refuse a request whose route would depend on them.
 *
 * Pure; the input is a URL's `pathname` (the WHATWG parser has already resolved raw dot
 * segments and turned raw `\` into `/`); anything else is handled too. The output is a
 * fixed point: canonicalizing it, or parsing it as a URL path, gives it back.
 */
export type PathRefusal =
  | "not-absolute"
  | "malformed-escape"
  | "invalid-utf8"
  | "control-character"
  | "encoded-slash"
  | "backslash"
  | "dot-segment";

export type CanonicalPath =
  | {
      ok: true;
      path: string;
      /** The path with every segment's `;` parameters removed; only when it has any. */
      withoutParams?: string;
    }
  | { ok: false; reason: PathRefusal };

const UNRESERVED = /^[A-Za-z0-9\-._~]$/;
/**
 * Printable ASCII the WHATWG path parser percent-encodes (workerd's `new URL`): encoded
 * here too, so the output parses back unchanged.
 */
const ENCODED_BY_URL_PARSER = /^[ "<>`{}^]$/;

const fatalUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

class Refused {
  constructor(readonly reason: PathRefusal) {}
}

/** Already canonical (most requests): unreserved characters and sub-delims, no empty, dot or `;` segments. */
const PLAIN = /^(?:\/(?!\.\.?(?:\/|$))[A-Za-z0-9\-._~!$&'()*+,=:@]+)*\/?$/;

export function canonicalizePath(raw: string): CanonicalPath {
  if (!raw.startsWith("/")) return { ok: false, reason: "not-absolute" };
  if (PLAIN.test(raw)) return { ok: true, path: raw };
  return canonicalizeSegments(raw);
}

/** The full reading, segment by segment (exported to check the fast path against it). */
export function canonicalizeSegments(raw: string): CanonicalPath {
  if (!raw.startsWith("/")) return { ok: false, reason: "not-absolute" };
  const segments: string[] = [];
  const parts = raw.split("/");
  try {
    for (let i = 1; i < parts.length; i++) {
      const segment = canonicalSegment(parts[i]!);
      if (segment === "") continue; // `//` merged
      if (isDotSegment(segment)) return { ok: false, reason: "dot-segment" };
      segments.push(segment);
    }
  } catch (error) {
    if (error instanceof Refused) return { ok: false, reason: error.reason };
    throw error;
  }
  const trailing = raw.endsWith("/") && segments.length > 0 ? "/" : "";
  const path = `/${segments.join("/")}${trailing}`;
  if (!segments.some((s) => s.includes(";"))) return { ok: true, path };
  const stripped = segments
    .map((s) => s.slice(0, s.indexOf(";") === -1 ? s.length : s.indexOf(";")))
    .filter((s) => s !== "");
  return { ok: true, path, withoutParams: `/${stripped.join("/")}${stripped.length > 0 ? trailing : ""}` };
}

/**
 * `.` or `..`, also with path parameters (`..;x`, which Tomcat resolves as `..`) or an
 * encoded `;` after them (no backend should see a dot segment in any reading).
 */
function isDotSegment(segment: string): boolean {
  const name = segment.split(/;|%3B/, 1)[0]!;
  return name === "." || name === "..";
}

function canonicalSegment(segment: string): string {
  let out = "";
  let i = 0;
  while (i < segment.length) {
    const ch = segment[i]!;
    if (ch === "%") {
      const bytes: number[] = [];
      while (segment[i] === "%") {
        const hex = segment.slice(i + 1, i + 3);
        if (!/^[0-9A-Fa-f]{2}$/.test(hex)) throw new Refused("malformed-escape");
        bytes.push(parseInt(hex, 16));
        i += 3;
      }
      out += canonicalBytes(bytes);
      continue;
    }
    const code = segment.codePointAt(i)!;
    const char = String.fromCodePoint(code);
    i += char.length;
    if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) throw new Refused("control-character");
    if (ch === "\\") throw new Refused("backslash");
    if (code > 0x7f) {
      // Not from a URL parser (it encodes non-ASCII): encode as the parser would.
      try {
        out += encodeURIComponent(char);
      } catch {
        throw new Refused("invalid-utf8"); // a lone surrogate
      }
    } else if (ENCODED_BY_URL_PARSER.test(char)) {
      out += percentEncode(code);
    } else {
      out += char;
    }
  }
  return out;
}

/** One run of percent-decoded bytes: ASCII one by one, each run of high bytes as strict UTF-8. */
function canonicalBytes(bytes: number[]): string {
  let out = "";
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    if (b < 0x80) {
      if (b < 0x20 || b === 0x7f) throw new Refused("control-character");
      if (b === 0x2f) throw new Refused("encoded-slash");
      if (b === 0x5c) throw new Refused("backslash");
      const char = String.fromCharCode(b);
      out += UNRESERVED.test(char) ? char : percentEncode(b);
      i++;
      continue;
    }
    let end = i;
    while (end < bytes.length && bytes[end]! >= 0x80) end++;
    let text: string;
    try {
      // Rejects overlong forms (`%C0%AE` for `.`), surrogates, truncated sequences.
      text = fatalUtf8.decode(new Uint8Array(bytes.slice(i, end)));
    } catch {
      throw new Refused("invalid-utf8");
    }
    for (const char of text) {
      const code = char.codePointAt(0)!;
      if (code >= 0x80 && code <= 0x9f) throw new Refused("control-character");
    }
    for (let k = i; k < end; k++) out += percentEncode(bytes[k]!);
    i = end;
  }
  return out;
}

function percentEncode(byte: number): string {
  return `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
}
