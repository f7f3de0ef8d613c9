/**
 * Turning validation failures into `ConfigProblem`s: a JSON path prefixed by the
 * variable's name (`EXT_SESSION_MGT.sessionSecret`, `destinations[2].url`,
 * `xs-app.json.routes[3].source`) and a message that says what is wrong, never
 * what the value is (values may be secrets).
 */
import * as v from "valibot";
import type { ConfigProblem } from "./types.js";

export type Issue = v.BaseIssue<unknown>;

/** Either a value or the problems that prevented it. */
export type Checked<T> = { ok: true; value: T } | { ok: false; problems: ConfigProblem[] };

/** Appends one key to a path: `a.b` for identifier-like keys, `a[3]` for indexes, `a["x y"]` otherwise. */
export function appendKey(path: string, key: unknown): string {
  if (typeof key === "number") return `${path}[${key}]`;
  if (typeof key === "string") {
    return /^[A-Za-z_$][\w$-]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
  }
  return path;
}

/** The issue's full path, prefixed by the variable name. */
export function issuePath(prefix: string, issue: Issue): string {
  let path = prefix;
  for (const item of issue.path ?? []) path = appendKey(path, item.key);
  return path;
}

const OBJECT_TYPES = new Set(["object", "strict_object", "loose_object", "object_with_rest"]);

/**
 * The message of an issue whose schema has no message of its own. Built from the
 * schema's expectation only (never from `issue.input` / `issue.received`, which
 * carry the value), so it can't leak a secret.
 */
export function describeIssue(issue: Issue): string {
  const last = issue.path?.at(-1);
  if (OBJECT_TYPES.has(issue.type) && last?.origin === "key" && issue.input === undefined) {
    return "missing required property";
  }
  if (issue.type === "never") return "unknown property";
  if (issue.kind === "schema") {
    switch (issue.expected) {
      case "string":
        return "must be a string";
      case "number":
        return "must be a number";
      case "boolean":
        return "must be true or false";
      case "Array":
        return "must be an array";
      case "Object":
        return "must be an object";
    }
    if ((issue.type === "picklist" || issue.type === "literal") && issue.expected) {
      return `must be ${issue.type === "picklist" ? "one of " : ""}${issue.expected.split(" | ").join(", ")}`;
    }
  }
  return "is invalid";
}

/**
 * The known name closest to `name` (case-insensitive edit distance, transpositions count
 * once), if it is close enough to be a typo: `authenticationtype` → `authenticationType`.
 */
export function nearestName(name: string, known: readonly string[]): string | undefined {
  const wanted = name.toLowerCase();
  const limit = wanted.length <= 4 ? 1 : wanted.length <= 10 ? 2 : 3;
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const candidate of known) {
    const distance = editDistance(wanted, candidate.toLowerCase(), bestDistance);
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  return best;
}

/** Optimal string alignment distance; gives up (returns `ceiling`) once it cannot be below it. */
function editDistance(a: string, b: string, ceiling: number): number {
  if (Math.abs(a.length - b.length) >= ceiling) return ceiling;
  let before: number[] = [];
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d = Math.min(d, before[j - 2]! + 1);
      current.push(d);
      rowMin = Math.min(rowMin, d);
    }
    if (rowMin >= ceiling) return ceiling;
    [before, previous] = [previous, current];
  }
  return Math.min(previous[b.length]!, ceiling);
}

export const UNKNOWN_PROPERTY = "unknown property";

/**
 * A pipe step after `v.objectWithRest(entries, v.never(UNKNOWN_PROPERTY))`: each unknown
 * property of this object (not of nested ones, which have their own step) that looks like
 * a typo of a known one gets the known name suggested. Names only, never values.
 */
export function suggestKnownNames<T>(known: readonly string[]): v.RawCheckAction<T> {
  return v.rawCheck<T>(({ dataset }) => {
    for (const issue of (dataset.issues ?? []) as { -readonly [K in keyof Issue]: Issue[K] }[]) {
      const key = issue.path?.length === 1 ? issue.path[0]!.key : undefined;
      if (issue.type !== "never" || issue.message !== UNKNOWN_PROPERTY || typeof key !== "string") continue;
      const near = nearestName(key, known);
      if (near !== undefined) issue.message = `${UNKNOWN_PROPERTY}; did you mean ${JSON.stringify(near)}?`;
    }
  });
}

/** `v.safeParse` with secret-safe messages; issues become problems under `prefix`. */
export function validate<const S extends v.GenericSchema>(
  schema: S,
  input: unknown,
  prefix: string,
): Checked<v.InferOutput<S>> {
  const result = v.safeParse(schema, input, { message: describeIssue });
  if (result.success) return { ok: true, value: result.output };
  return { ok: false, problems: issuesToProblems(prefix, result.issues) };
}

export function issuesToProblems(prefix: string, issues: readonly Issue[]): ConfigProblem[] {
  return issues.map((issue) => ({ path: issuePath(prefix, issue), message: issue.message }));
}

/**
 * Reads a JSON-valued variable. Unset or blank → `undefined` value. A string is parsed
 * (a parse error is reported as `must be valid JSON`, never with the parser's text,
 * which may quote the content). A non-string (a wrangler `[vars]` JSON value arrives
 * already parsed) is taken as is.
 */
export function readJsonVariable(raw: unknown, path: string): Checked<unknown> {
  if (raw === undefined || raw === null) return { ok: true, value: undefined };
  if (typeof raw !== "string") return { ok: true, value: raw };
  if (raw.trim() === "") return { ok: true, value: undefined };
  try {
    return { ok: true, value: JSON.parse(raw) as unknown };
  } catch {
    return { ok: false, problems: [{ path, message: "must be valid JSON" }] };
  }
}

/** One line per problem: `path: message`. */
export function formatProblems(problems: readonly ConfigProblem[]): string {
  return problems.map((p) => `${p.path}: ${p.message}`).join("\n");
}
