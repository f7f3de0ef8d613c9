/**
 * The backend cookie jars in the router session (`record.data.cookies`, one per
 * destination name; docs/storage-schema.md): what a destination's request replays and
 * where its response's session cookies are kept. The cookie rules are backend-cookies.ts.
 */
import type { SessionRecord } from "../session/record.js";
import { type JarCookie, readJar } from "./backend-cookies.js";

/** The jar of `destination` in `record`: empty without one (or with one that is not a jar). */
export function jarOf(record: SessionRecord | undefined, destination: string): JarCookie[] {
  const jars = record?.data?.cookies;
  return typeof jars === "object" && jars !== null ? readJar(jars[destination]) : [];
}

/** `record` with the jar of `destination` replaced by `jar` (a new record: records are never edited). */
export function withJar(
  record: SessionRecord,
  destination: string,
  jar: readonly JarCookie[],
): SessionRecord {
  const data = record.data;
  return { ...record, data: { ...data, cookies: { ...data?.cookies, [destination]: jar } } };
}
