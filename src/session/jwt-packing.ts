import { base64url } from "jose";

/**
 * Sessions mostly hold JWTs: base64url text, which DEFLATE squeezes poorly and whose
 * claims repeat across the ID and access tokens without the compressor seeing it. Before
 * sealing, each JWT's header and payload are stored as the JSON they encode
 * (`{"$jwt":[header, payload, signature]}`), and turned back into the very same string
 * when opened. Only JWTs whose parts round-trip byte for byte are packed; anything else
 * stays as it was.
 */
const JWT = /^[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*$/;
const MARK = "$jwt";

type Part = string | Record<string, unknown>;

export function packJwts(_key: string, value: unknown): unknown {
  if (typeof value !== "string" || value.length < 20 || !JWT.test(value)) return value;
  const [header, payload, signature] = value.split(".") as [string, string, string];
  const h = unpackPart(header);
  const p = unpackPart(payload);
  return h === null || p === null ? value : { [MARK]: [h, p, signature] };
}

export function unpackJwts(_key: string, value: unknown): unknown {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return value;
  const parts = (value as Record<string, unknown>)[MARK];
  if (!Array.isArray(parts) || parts.length !== 3 || Object.keys(value).length !== 1) return value;
  const [h, p, s] = parts as [unknown, unknown, unknown];
  if (typeof s !== "string" || !isPart(h) || !isPart(p)) return value;
  return `${encodePart(h)}.${encodePart(p)}.${s}`;
}

/**
 * The JSON a base64url part encodes: parsed when it re-serialises identically, else its
 * text; null if it is not JSON text.
 */
function unpackPart(segment: string): Part | null {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(base64url.decode(segment));
  } catch {
    return null;
  }
  if (base64url.encode(text) !== segment) return null; // not canonical: keep the original
  try {
    const parsed: unknown = JSON.parse(text);
    if (
      typeof parsed === "object" &&
      parsed !== null &&
      !Array.isArray(parsed) &&
      JSON.stringify(parsed) === text
    ) {
      return parsed as Record<string, unknown>;
    }
  } catch {
    // not JSON: keep the text
  }
  return text;
}

function encodePart(part: Part): string {
  return base64url.encode(typeof part === "string" ? part : JSON.stringify(part));
}

function isPart(value: unknown): value is Part {
  return typeof value === "string" || (typeof value === "object" && value !== null && !Array.isArray(value));
}
