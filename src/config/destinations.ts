/**
 * The `destinations` variable (SAP: JSON array of `{ name, url, forwardAuthToken,
 * timeout, setXForwardedHeaders }`).
 *
 * `strictSSL: false` is refused for https/wss URLs (a Worker always verifies TLS; without
 * this, every request would fail later with 502), accepted for http; `proxyType` only
 * as `"Internet"`; other SAP properties (`proxyHost`, `proxyPort`, `IASDependencyName`,
 * …) are rejected as unknown: they can't be honoured at the edge.
 *
 * `ws:` / `wss:` URLs (SAP, for WebSocket backends) are stored as `http:` / `https:`:
 * a Worker opens a WebSocket with `fetch` and an `Upgrade` header on an http(s) URL.
 */
import * as v from "valibot";
import type { ConfigProblem, Destination } from "./types.js";
import { appendKey, readJsonVariable, validate } from "./problems.js";
import {
  boolean,
  crossCheck,
  isHttpUrl,
  nonEmptyString,
  positiveInteger,
  string,
  strictObject,
} from "./schemas.js";

/** An absolute http(s) or ws(s) URL, the latter turned into http(s). */
const destinationUrl = v.pipe(
  string,
  v.trim(),
  v.transform((url) => url.replace(/^ws(s?):/i, "http$1:")),
  v.check(isHttpUrl, "must be an absolute http(s) URL"),
);

export const VARIABLE = "destinations";

export interface DestinationsResult {
  /** The valid destinations by name (all of them only when `problems` is empty). */
  destinations: Map<string, Destination>;
  /**
   * Every well-formed name given, valid entry or not, for cross-checks (xs-app.json
   * routes); undefined when the variable itself is unusable (not JSON, not an array).
   */
  names?: ReadonlySet<string>;
  problems: ConfigProblem[];
}

/** SAP `strictSSL: false` skips certificate checks; a Worker's fetch always makes them. */
const STRICT_SSL =
  "false is not supported at the edge: a Worker always verifies TLS certificates " +
  "(give the backend a certificate from a public CA, or use http:// inside a trusted network)";

const destinationSchema = v.pipe(
  strictObject({
    name: nonEmptyString,
    url: destinationUrl,
    forwardAuthToken: v.optional(boolean, false),
    timeout: v.optional(positiveInteger, 30000),
    setXForwardedHeaders: v.optional(boolean, true),
    strictSSL: v.optional(boolean),
    proxyType: v.optional(v.literal("Internet", 'only "Internet" is supported at the edge')),
  }),
  crossCheck(
    ["strictSSL", "url"],
    (d) => d.strictSSL !== false || !/^(https|wss):/i.test(d.url),
    "strictSSL",
    STRICT_SSL,
  ),
  v.transform(
    (d): Destination => ({
      name: d.name,
      url: d.url.replace(/\/+$/, ""),
      forwardAuthToken: d.forwardAuthToken,
      timeoutMs: d.timeout,
      setXForwardedHeaders: d.setXForwardedHeaders,
    }),
  ),
);

const listSchema = v.array(v.unknown(), "must be an array");

/** Parses `destinations`; unset or blank → no destinations. */
export function parseDestinations(raw: unknown): DestinationsResult {
  const json = readJsonVariable(raw, VARIABLE);
  if (!json.ok) return { destinations: new Map(), problems: json.problems };
  if (json.value === undefined) return { destinations: new Map(), names: new Set(), problems: [] };
  const list = validate(listSchema, json.value, VARIABLE);
  if (!list.ok) return { destinations: new Map(), problems: list.problems };

  const destinations = new Map<string, Destination>();
  const names = new Set<string>();
  const problems: ConfigProblem[] = [];
  list.value.forEach((entry, index) => {
    const path = appendKey(VARIABLE, index);
    const parsed = validate(destinationSchema, entry, path);
    if (!parsed.ok) problems.push(...parsed.problems);

    const name = v.safeParse(v.object({ name: nonEmptyString }), entry);
    if (!name.success) return;
    if (names.has(name.output.name)) {
      problems.push({
        path: `${path}.name`,
        message: `duplicate destination name ${JSON.stringify(name.output.name)}`,
      });
      return;
    }
    names.add(name.output.name);
    if (parsed.ok) destinations.set(parsed.value.name, parsed.value);
  });
  return { destinations, names, problems };
}
