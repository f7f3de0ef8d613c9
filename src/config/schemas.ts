/**
 * Building blocks shared by the configuration schemas. Every message here states the
 * requirement, never the offending value.
 */
import * as v from "valibot";

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
  return v.pipe(jsonObject, v.objectWithRest(entries, v.never("unknown property")));
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
