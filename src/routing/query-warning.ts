import type { RouteConfig } from "../config/types.js";

/**
 * A start-up warning for a foot-gun of SAP's route semantics: `source` is matched against
 * path AND query, so a source that can match text in the query lets the query choose the
 * route. With `{ "source": "/public/", "authenticationType": "none" }` before
 * `{ "source": "^/api/admin/", "scope": "Admin" }`, `/api/admin/users?x=/public/` takes
 * the public route to the admin path. Two shapes are found:
 * - an alternative not anchored with `^` (it matches anywhere, query included);
 * - a wildcard that can run past `?` (`.`, `[^/]`, `\S`, …) followed by text the match
 *   requires (`^/(.*)\.html$` matches `/api/admin/users?.html`).
 * A route is named only when a later route is stricter (needs authentication where it
 * does not, or a scope it does not have): only then can a path be taken from it. Sources
 * that mention `?` themselves match the query on purpose and are left alone. Heuristic:
 * regular expressions are not fully analysed (backreferences, lookarounds are ignored).
 */
export interface RouteQueryWarning {
  /** Index of the route whose source lets the query decide. */
  route: number;
  source: string;
  /** Index of the first later, stricter route whose paths it can take. */
  stricterRoute: number;
  kind: "unanchored" | "wildcard-into-query";
  fix: string;
}

export function routeQueryWarnings(routes: readonly RouteConfig[]): RouteQueryWarning[] {
  const warnings: RouteQueryWarning[] = [];
  routes.forEach((route, index) => {
    const source = route.source.source;
    const kind = queryRisk(source);
    if (kind === undefined) return;
    const stricter = routes.findIndex((later, j) => j > index && isStricter(later, route));
    if (stricter === -1) return;
    warnings.push({
      route: index,
      source,
      stricterRoute: stricter,
      kind,
      fix:
        kind === "unanchored"
          ? "anchor the source at the start of the path with ^ (e.g. ^/public/)"
          : "let wildcards stop at the query and allow it at the end: [^?]* instead of .*, " +
            "ending with (\\?.*)?$ (e.g. ^/([^?]*)\\.html(\\?.*)?$)",
    });
  });
  return warnings;
}

function isStricter(later: RouteConfig, earlier: RouteConfig): boolean {
  if (later.authenticationType === "none") return false;
  if (earlier.authenticationType === "none") return true;
  return later.scope !== undefined && JSON.stringify(later.scope) !== JSON.stringify(earlier.scope);
}

/** What in a source lets the query take part in the match, if anything. */
export function queryRisk(source: string): RouteQueryWarning["kind"] | undefined {
  let parsed: Alternatives;
  try {
    parsed = new Parser(source).alternatives();
  } catch {
    return undefined; // a construct this heuristic does not know: no claim
  }
  if (parsed.mentionsQuery) return undefined;
  if (!parsed.alts.every(startsAnchored)) return "unanchored";
  return parsed.alts.some((alt) => leaks(alt, false).leak) ? "wildcard-into-query" : undefined;
}

type Item =
  | { kind: "start" | "end" | "wild" | "literal"; optional: boolean }
  | { kind: "group"; alts: Item[][]; optional: boolean };
type Alternatives = { alts: Item[][]; mentionsQuery: boolean };

function startsAnchored(alt: Item[]): boolean {
  const first = alt[0];
  if (first === undefined) return false;
  if (first.kind === "start") return true;
  return first.kind === "group" && !first.optional && first.alts.every(startsAnchored);
}

/**
 * Whether text required after a wildcard can only be found in the query. `wildBefore`: a
 * wildcard came earlier. An optional item need not match: what follows a wildcard in it is
 * only a risk inside it.
 */
function leaks(alt: Item[], wildBefore: boolean): { leak: boolean; wild: boolean } {
  let wild = wildBefore;
  for (const item of alt) {
    if (item.kind === "wild") wild = true;
    else if (item.kind === "literal" && !item.optional && wild) return { leak: true, wild };
    else if (item.kind === "group") {
      const inner = item.alts.map((a) => leaks(a, item.optional ? false : wild));
      if (inner.some((r) => r.leak)) return { leak: true, wild };
      wild ||= inner.some((r) => r.wild);
    }
  }
  return { leak: false, wild };
}

/** A small recursive-descent reader of JavaScript regular expression syntax, enough for the above. */
class Parser {
  private i = 0;
  private mentionsQuery = false;
  constructor(private readonly src: string) {}

  alternatives(): Alternatives {
    const alts = this.alts();
    if (this.i < this.src.length) throw new Error("unbalanced");
    return { alts, mentionsQuery: this.mentionsQuery };
  }

  private alts(): Item[][] {
    const alts: Item[][] = [this.sequence()];
    while (this.src[this.i] === "|") {
      this.i++;
      alts.push(this.sequence());
    }
    return alts;
  }

  private sequence(): Item[] {
    const items: Item[] = [];
    while (this.i < this.src.length && this.src[this.i] !== "|" && this.src[this.i] !== ")") {
      const item = this.atom();
      if (item === null) continue;
      item.optional = this.quantifier();
      items.push(item);
    }
    return items;
  }

  private atom(): Item | null {
    const c = this.src[this.i++]!;
    switch (c) {
      case "^":
        return { kind: "start", optional: false };
      case "$":
        return { kind: "end", optional: false };
      case ".":
        return { kind: "wild", optional: false };
      case "\\": {
        const e = this.src[this.i++];
        if (e === undefined) throw new Error("trailing backslash");
        if (e === "?") this.mentionsQuery = true;
        if (e === "b" || e === "B") return null; // zero-width
        if (/[1-9k]/.test(e)) throw new Error("backreference"); // not analysed
        if (e === "u" || e === "x" || e === "c" || e === "p" || e === "P") this.skipEscapeBody(e);
        return { kind: /[SWDP]/.test(e) ? "wild" : "literal", optional: false };
      }
      case "[":
        return this.characterClass();
      case "(": {
        const look = /^\?<?[=!]/.exec(this.src.slice(this.i));
        if (look) {
          this.i += look[0].length;
          this.alts(); // a lookaround consumes nothing
          this.close();
          return null;
        }
        const prefix = /^\?(?::|<[A-Za-z_$][\w$]*>)/.exec(this.src.slice(this.i));
        if (prefix) this.i += prefix[0].length;
        const alts = this.alts();
        this.close();
        return { kind: "group", alts, optional: false };
      }
      case "*":
      case "+":
      case "?":
      case "{":
        if (c === "{" && !/^\d+(,\d*)?\}/.test(this.src.slice(this.i)))
          return { kind: "literal", optional: false };
        throw new Error("quantifier without atom");
      default:
        return { kind: "literal", optional: false };
    }
  }

  private skipEscapeBody(kind: string): void {
    const body =
      kind === "u"
        ? /^(\{[0-9A-Fa-f]+\}|[0-9A-Fa-f]{4})/
        : kind === "x"
          ? /^[0-9A-Fa-f]{2}/
          : kind === "c"
            ? /^[A-Za-z]/
            : /^\{[^}]*\}/;
    const m = body.exec(this.src.slice(this.i));
    if (m) this.i += m[0].length;
  }

  private characterClass(): Item {
    const negated = this.src[this.i] === "^";
    if (negated) this.i++;
    let listsQuestionMark = false; // "?" or "\?" written out
    let broad = false; // \S, \W, \D: "?" among them
    let first = true;
    while (this.i < this.src.length && (this.src[this.i] !== "]" || first)) {
      const c = this.src[this.i++]!;
      first = false;
      if (c === "\\") {
        const e = this.src[this.i++];
        if (e === "?") listsQuestionMark = true;
        if (e !== undefined && /[SWD]/.test(e)) broad = true;
      } else if (c === "?") listsQuestionMark = true;
    }
    if (this.src[this.i++] !== "]") throw new Error("unterminated class");
    if (!negated && listsQuestionMark) this.mentionsQuery = true;
    // Runs into the query: a negated class that leaves "?" in ([^/]), or a class with \S, \W, \D.
    const wild = negated ? !listsQuestionMark && !broad : broad;
    return { kind: wild ? "wild" : "literal", optional: false };
  }

  private quantifier(): boolean {
    const c = this.src[this.i];
    let optional: boolean;
    if (c === "*" || c === "?") optional = true;
    else if (c === "+") optional = false;
    else if (c === "{") {
      const m = /^\{(\d+)(,\d*)?\}/.exec(this.src.slice(this.i));
      if (!m) return false;
      this.i += m[0].length - 1;
      optional = m[1] === "0";
    } else return false;
    this.i++;
    if (this.src[this.i] === "?") this.i++; // lazy
    return optional;
  }

  private close(): void {
    if (this.src[this.i++] !== ")") throw new Error("unbalanced");
  }
}
