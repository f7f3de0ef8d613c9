/**
 * Building blocks shared by the configuration schemas. Every message here states the
 * requirement, never the offending value.
 */
import * as v from "valibot";
import { suggestKnownNames, UNKNOWN_PROPERTY } from "./problems.js";

/** A JSON object (not an array, not null). */
export const jsonObject = v.custom<Record<string, unknown>>(
  (input) => typeof input === "object" && input !== null && !Array.isArray(input),
  "must be an object",
);

/**
 * An object with exactly these properties: every unknown property is reported on its
 * own (`v.strictObject` reports only the first), missing required ones as
 * `missing required property`.
 */
export function strictObject<const E extends v.ObjectEntries>(entries: E) {
  const object = v.objectWithRest(entries, v.never(UNKNOWN_PROPERTY));
  return v.pipe(jsonObject, object, suggestKnownNames<v.InferOutput<typeof object>>(Object.keys(entries)));
}

export const string = v.string("must be a string");

export const nonEmptyString = v.pipe(string, v.minLength(1, "must not be empty"));

export const boolean = v.boolean("must be true or false");

export const positiveInteger = v.pipe(
  v.number("must be a positive integer"),
  v.safeInteger("must be a positive integer"),
  v.minValue(1, "must be a positive integer"),
);

export const nonNegativeInteger = v.pipe(
  v.number("must be an integer ≥ 0"),
  v.safeInteger("must be an integer ≥ 0"),
  v.minValue(0, "must be an integer ≥ 0"),
);

export const positiveNumber = v.pipe(
  v.number("must be a positive number"),
  v.finite("must be a positive number"),
  v.gtValue(0, "must be a positive number"),
);

export function isHttpUrl(input: string): boolean {
  try {
    const url = new URL(input);
    return url.protocol === "https:" || url.protocol === "http:";
  } catch {
    return false;
  }
}

/** An absolute http: or https: URL (surrounding whitespace removed). */
export const httpUrl = v.pipe(string, v.trim(), v.check(isHttpUrl, "must be an absolute http(s) URL"));

/** A decimal positive integer given as text (environment variables); a number is accepted too. */
export const positiveIntegerText = v.pipe(
  v.union([string, v.number()], "must be a positive integer"),
  v.transform((input) => String(input).trim()),
  v.regex(/^[0-9]+$/, "must be a positive integer"),
  v.transform(Number),
  v.safeInteger("must be a positive integer"),
  v.minValue(1, "must be a positive integer"),
);

/**
 * A rule across properties of an object, reported at the property `at`. Unlike
 * `v.partialCheck`, it is skipped whenever one of `keys` already has a problem of any
 * kind (a value is never reported twice), and it still runs when other properties have
 * problems (every problem is reported at once).
 */
export function crossCheck<TInput extends Record<string, unknown>>(
  keys: readonly (keyof TInput & string)[],
  requirement: (input: TInput) => boolean,
  at: keyof TInput & string,
  message: string,
) {
  return v.rawCheck<TInput>(({ dataset, addIssue }) => {
    const input = dataset.value as TInput;
    const involved = (key: unknown) => keys.some((k) => k === key);
    if (dataset.issues?.some((issue) => issue.path === undefined || involved(issue.path[0]?.key))) return;
    if (requirement(input)) return;
    addIssue({ message, path: [{ type: "object", origin: "value", input, key: at, value: input[at] }] });
  });
}

export const integer = (message: string, min: number, max: number) =>
  v.pipe(v.number(message), v.safeInteger(message), v.minValue(min, message), v.maxValue(max, message));

/** Upper-case method names SAP accepts (plus CONNECT, which fetch rejects anyway). */
export const HTTP_METHODS = [
  "GET",
  "HEAD",
  "POST",
  "PUT",
  "DELETE",
  "CONNECT",
  "OPTIONS",
  "TRACE",
  "PATCH",
] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

export const httpMethod = v.pipe(
  string,
  v.toUpperCase(),
  v.picklist(HTTP_METHODS, `must be an HTTP method (${HTTP_METHODS.join(", ")})`),
);

function isRegExp(source: string): boolean {
  try {
    new RegExp(source);
    return true;
  } catch {
    return false;
  }
}

export const regExpCheck = v.check(isRegExp, "invalid regular expression");

/**
 * SAP's `source` form, also used by `cors[].uriPattern` / `hostPattern`: a regular
 * expression string (case-sensitive), or `{ path, matchCase }` (`matchCase: false` → flag `i`).
 */
export const regExpSource = v.lazy((input) =>
  typeof input === "object" && input !== null
    ? v.pipe(
        strictObject({ path: v.pipe(string, regExpCheck), matchCase: v.optional(boolean, true) }),
        v.transform((source) => new RegExp(source.path, source.matchCase ? "" : "i")),
      )
    : v.pipe(
        v.string("must be a regular expression (a string) or an object { path, matchCase }"),
        regExpCheck,
        v.transform((source) => new RegExp(source)),
      ),
);

/**
 * A path inside the Workers static assets, normalised to start with `/` (SAP paths are
 * relative to its working directory: `./err.html`, `resources`). Never leaves the assets:
 * no `..`/`.` segments (also percent-encoded), no backslash, no scheme, no control character.
 */
export function assetPath(message: string) {
  return v.pipe(
    nonEmptyString,
    v.check((input) => normaliseAssetPath(input) !== null, message),
    v.transform((input) => normaliseAssetPath(input)!),
  );
}

/** `./a/b/` → `/a/b`; null for anything that could leave the folder. */
export function normaliseAssetPath(input: string): string | null {
  if (/[\u0000-\u001f\u007f\\]|%5c|%2f|%00/i.test(input) || /^[a-z][a-z0-9+.-]*:/i.test(input)) return null;
  const segments = input.split("/").filter((s) => s !== "" && s !== ".");
  if (segments.length === 0) return "/";
  if (segments.some((s) => /^(\.|%2e){1,2}$/i.test(s))) return null;
  return `/${segments.join("/")}`;
}
