/**
 * xs-app.json `replace` on `localDir` routes: placeholders in static text files filled
 * from environment variables and service bindings, as SAP's router does it
 * (lib/middleware/static-resource-handler.js, lib/configuration/app-config.js
 * `handleReplace`): the whole file is a Mustache template (mustache.js 4.2) rendered with
 * a view of `{ <var>: env[var], <service key>: <binding credentials> }`.
 *
 * Mustache as mustache.js does it: `{{name}}` HTML-escaped (`& < > " ' / \` =`),
 * `{{{name}}}` and `{{& name}}` raw, dotted names (`{{svc.url}}`), a missing value is
 * empty, `{{#s}}…{{/s}}` / `{{^s}}…{{/s}}` sections (arrays repeat, objects and strings
 * become the context), comments, partials (none: empty), and "standalone" lines (a line
 * holding only section/comment/partial tags and blanks disappears, newline included).
 *
 * Streamed: a TransformStream renders as the file arrives; only an unfinished tag and a
 * line that might still turn out standalone are held back (both capped), and array
 * sections keep their tokens to repeat them. Differences from SAP, which renders the
 * whole file first: a template error (unclosed tag or section, `{{=…=}}` delimiter
 * changes, which are not supported) found after output has started aborts the stream
 * instead of a 500; names resolve to own properties only (mustache.js also finds
 * `toString` & co. on the prototype).
 */

import { errorPage } from "../http/pages.js";

/** Route configuration after validation; `view` is built once per isolate. */
export interface ReplaceConfig {
  pathSuffixes: string[];
  view: Record<string, unknown>;
}

export interface ReplaceLimits {
  /** Largest file rendered, bytes (SAP reads the file into memory). */
  maxInputBytes: number;
  /**
   * Longest text held back (an unfinished tag, a blank line with tags, a section repeated per array item).
   */
  maxPendingChars: number;
  /** Largest output, bytes (array sections multiply). */
  maxOutputBytes: number;
}

export const DEFAULT_LIMITS: ReplaceLimits = {
  maxInputBytes: 10 * 1024 * 1024,
  maxPendingChars: 64 * 1024,
  maxOutputBytes: 32 * 1024 * 1024,
};

export class TemplateError extends Error {
  override name = "TemplateError";
}

/**
 * Does `pathname` (relative to the route's folder, after `target`) get rendered? SAP:
 * `endsWith` any suffix; `/` means `index.html`.
 */
export function replaceApplies(pathSuffixes: readonly string[], pathname: string): boolean {
  const path = pathname.endsWith("/") ? `${pathname}index.html` : pathname;
  return pathSuffixes.some((suffix) => path.endsWith(suffix));
}

/** SAP's content type for a rendered file (lib/utils/content-type.js): by extension, else text/html. */
export function replacedContentType(pathname: string): string {
  const path = pathname.endsWith("/") ? `${pathname}index.html` : pathname;
  const ext = /\.[^./]*$/.exec(path)?.[0].toLowerCase();
  const types: Record<string, string> = {
    ".json": "application/json",
    ".txt": "text/plain",
    ".html": "text/html",
    ".js": "application/javascript",
    ".css": "text/css",
  };
  return (ext !== undefined ? types[ext] : undefined) ?? "text/html";
}

/**
 * SAP's view: each `vars` name with its environment value (missing: undefined, rendered
 * empty) and each `services` key with the credentials of the one binding its query finds
 * (@sap/xsenv `getServices`). Returns the problem text when a query finds none or several,
 * or a key is also a var (SAP refuses both at start-up).
 */
export function buildView(
  vars: readonly string[],
  services: Readonly<Record<string, ServiceQuery>>,
  env: Readonly<Record<string, unknown>>,
  vcap: Readonly<Record<string, readonly Record<string, unknown>[]>> | undefined,
): { ok: true; view: Record<string, unknown> } | { ok: false; path: string; message: string } {
  const view: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const name of vars) view[name] = envText(env[name]);
  const bindings = Object.values(vcap ?? {}).flat();
  for (const [key, query] of Object.entries(services)) {
    if (Object.hasOwn(view, key))
      return {
        ok: false,
        path: `services.${key}`,
        message: `collides with the variable ${JSON.stringify(key)} in vars`,
      };
    const matches = bindings.filter((b) => serviceMatches(b, query));
    if (matches.length !== 1) {
      return {
        ok: false,
        path: `services.${key}`,
        message:
          matches.length === 0
            ? "no service binding in VCAP_SERVICES matches"
            : `${matches.length} service bindings in VCAP_SERVICES match (one is needed)`,
      };
    }
    view[key] = matches[0]!.credentials;
  }
  return { ok: true, view };
}

/**
 * @sap/xsenv service query: an instance name, or `{ name, label, tag, plan, … }` all of
 * which must match (`tag`: one of `tags`).
 */
export type ServiceQuery = string | Readonly<Record<string, unknown>>;

function serviceMatches(binding: Record<string, unknown>, query: ServiceQuery): boolean {
  if (typeof query === "string") return binding.name === query;
  const entries = Object.entries(query);
  return (
    entries.length > 0 &&
    entries.every(
      ([key, want]) =>
        binding[key] === want ||
        (/tags?/.test(key) && Array.isArray(binding.tags) && binding.tags.includes(want)),
    )
  );
}

/** Worker variables may be JSON values ([vars] in wrangler.toml); SAP's are strings. */
function envText(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  return typeof value === "string"
    ? value
    : typeof value === "object"
      ? JSON.stringify(value)
      : String(value);
}

// ---------------------------------------------------------------------------------------
// Mustache, incrementally
// ---------------------------------------------------------------------------------------

type Token =
  | { type: "text"; value: string }
  /** name: escaped; &: raw; #, ^: section open; /: close; !: comment; >: partial. */
  | { type: "name" | "&" | "#" | "^" | "/" | "!" | ">"; value: string };

const ENTITIES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
  "/": "&#x2F;",
  "`": "&#x60;",
  "=": "&#x3D;",
};

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"'`=/]/g, (c) => ENTITIES[c]!);
}

/** mustache.js `Context`: a view and its parent. */
interface Context {
  view: unknown;
  parent?: Context;
}

function has(object: unknown, key: string): boolean {
  return object !== null && typeof object === "object" && Object.hasOwn(object, key);
}

function lookup(context: Context, name: string): unknown {
  if (name === ".") return context.view;
  for (let c: Context | undefined = context; c; c = c.parent) {
    if (name.indexOf(".") > 0) {
      let value: unknown = c.view;
      const names = name.split(".");
      let hit = false;
      for (let i = 0; value !== null && value !== undefined && i < names.length; i++) {
        const key = names[i]!;
        // mustache.js also finds own properties of primitives here (`{{VAR.length}}`).
        const own =
          has(value, key) ||
          (typeof value === "string" &&
            (key === "length" || (/^\d+$/.test(key) && Number(key) < value.length)));
        if (i === names.length - 1) hit = own;
        value = own ? (value as Record<string, unknown>)[key] : undefined;
      }
      if (hit) return value;
    } else if (has(c.view, name)) {
      return (c.view as Record<string, unknown>)[name];
    }
  }
  return undefined;
}

/** JavaScript's `"" + value`, as mustache.js concatenates. */
function text(value: unknown): string {
  return typeof value === "string" ? value : String(value);
}

interface Frame {
  name: string;
  /** Does this section's content render (this one and all around it)? */
  rendering: boolean;
  pushed: boolean;
  /** Array sections: the tokens inside, to render once more per remaining item. */
  record?: Token[];
  rest?: unknown[];
}

/** Renders a token sequence as it arrives; `emit` receives output text. */
class Renderer {
  private frames: Frame[] = [];
  private recorded = 0;

  constructor(
    private context: Context,
    private readonly emit: (text: string) => void,
    private readonly limits: ReplaceLimits,
  ) {}

  token(token: Token): void {
    const closing = token.type === "/";
    for (let i = 0; i < this.frames.length - (closing ? 1 : 0); i++) {
      const record = this.frames[i]!.record;
      if (!record) continue;
      record.push(token);
      this.recorded += token.value.length;
      if (this.recorded > this.limits.maxPendingChars) throw new TemplateError("array section too long");
    }
    const rendering = this.frames.length === 0 || this.frames[this.frames.length - 1]!.rendering;
    switch (token.type) {
      case "text":
        if (rendering) this.emit(token.value);
        return;
      case "name":
      case "&": {
        if (!rendering) return;
        const value = lookup(this.context, token.value);
        if (value === null || value === undefined) return;
        this.emit(token.type === "&" || typeof value === "number" ? text(value) : escapeHtml(text(value)));
        return;
      }
      case "#":
      case "^":
        this.open(token.type, token.value, rendering);
        return;
      case "/":
        this.close(token.value);
        return;
      default: // comments and partials (SAP passes no partials) render nothing
        return;
    }
  }

  private open(type: "#" | "^", name: string, outerRendering: boolean): void {
    if (!outerRendering) {
      this.frames.push({ name, rendering: false, pushed: false });
      return;
    }
    const value = lookup(this.context, name);
    const empty = !value || (Array.isArray(value) && value.length === 0);
    if (type === "^" || empty) {
      this.frames.push({ name, rendering: type === "^" ? empty : false, pushed: false });
      return;
    }
    if (Array.isArray(value)) {
      this.context = { view: value[0], parent: this.context };
      this.frames.push({
        name,
        rendering: true,
        pushed: true,
        ...(value.length > 1 ? { record: [], rest: value.slice(1) } : {}),
      });
      return;
    }
    const pushed = typeof value === "object" || typeof value === "string" || typeof value === "number";
    if (pushed) this.context = { view: value, parent: this.context };
    this.frames.push({ name, rendering: true, pushed });
  }

  private close(name: string): void {
    const frame = this.frames.pop();
    if (!frame) throw new TemplateError(`unopened section "${name}"`);
    if (frame.name !== name) throw new TemplateError(`unclosed section "${frame.name}"`);
    if (frame.pushed) this.context = this.context.parent!;
    if (frame.record) this.recorded -= frame.record.reduce((n, t) => n + t.value.length, 0);
    for (const item of frame.rest ?? []) {
      const again = new Renderer({ view: item, parent: this.context }, this.emit, this.limits);
      for (const token of frame.record!) again.token(token);
      again.end();
    }
  }

  end(): void {
    const open = this.frames[this.frames.length - 1];
    if (open) throw new TemplateError(`unclosed section "${open.name}"`);
  }
}

const TAG_TYPES = "#^/>{&=!";

/**
 * mustache.js's parser, one chunk at a time: tags `{{…}}` (blanks after `{{` and before
 * `}}` ignored), and its standalone-line rule: a line with tags but no other non-blank
 * text and no variable tag loses its blanks and newline.
 */
class Tokenizer {
  private pending = "";
  /** The current line's tokens while it may still be standalone. */
  private line: Token[] = [];
  private lineChars = 0;
  private hasTag = false;
  /** The line has non-blank text or a variable: it cannot be standalone, tokens pass. */
  private passing = false;

  constructor(
    private readonly out: (token: Token) => void,
    private readonly limits: ReplaceLimits,
  ) {}

  push(chunk: string): void {
    this.pending += chunk;
    this.scan(false);
  }

  end(): void {
    this.scan(true);
    this.endLine();
  }

  private scan(final: boolean): void {
    let pos = 0;
    const s = this.pending;
    while (pos < s.length) {
      const open = s.indexOf("{{", pos);
      if (open < 0) {
        // Keep a trailing "{" that may start a tag in the next chunk.
        const stop = !final && s.endsWith("{") ? s.length - 1 : s.length;
        this.text(s.slice(pos, stop));
        pos = stop;
        break;
      }
      this.text(s.slice(pos, open));
      pos = open;
      const tag = parseTag(s, open);
      if (tag === null) {
        if (final) throw new TemplateError("unclosed tag");
        if (s.length - open > this.limits.maxPendingChars) throw new TemplateError("unclosed tag (too long)");
        break;
      }
      this.tag(tag.token);
      pos = tag.end;
    }
    this.pending = s.slice(pos);
  }

  private text(value: string): void {
    let start = 0;
    while (start < value.length) {
      const newline = value.indexOf("\n", start);
      const end = newline < 0 ? value.length : newline + 1;
      const piece = value.slice(start, end);
      if (/\S/.test(piece)) this.startPassing();
      this.add({ type: "text", value: piece });
      if (newline >= 0) this.endLine();
      start = end;
    }
  }

  private tag(token: Token): void {
    this.hasTag = true;
    if (token.type === "name" || token.type === "&") this.startPassing();
    this.add(token);
  }

  private add(token: Token): void {
    if (this.passing) {
      this.out(token);
      return;
    }
    this.line.push(token);
    this.lineChars += token.value.length;
    if (this.lineChars > this.limits.maxPendingChars) this.startPassing(); // too long to be a blank line
  }

  private startPassing(): void {
    if (this.passing) return;
    this.passing = true;
    for (const token of this.line) this.out(token);
    this.line = [];
  }

  private endLine(): void {
    const standalone = this.hasTag && !this.passing;
    for (const token of this.line) if (!(standalone && token.type === "text")) this.out(token);
    this.line = [];
    this.lineChars = 0;
    this.hasTag = false;
    this.passing = false;
  }
}

/** The tag starting at `open` ("{{"), or null when its end has not arrived yet. */
function parseTag(s: string, open: number): { token: Token; end: number } | null {
  let i = open + 2;
  while (i < s.length && /\s/.test(s[i]!)) i++;
  if (i >= s.length) return null;
  const typeChar = TAG_TYPES.includes(s[i]!) ? s[i]! : "";
  if (typeChar === "=") throw new TemplateError("changing delimiters ({{=…=}}) is not supported");
  if (typeChar) i++;
  const closing = typeChar === "{" ? "}}}" : "}}";
  const close = s.indexOf(closing, i);
  if (close < 0) return null;
  const value = s.slice(i, close).trim();
  const type = typeChar === "" ? "name" : typeChar === "{" ? "&" : (typeChar as Token["type"]);
  return { token: { type, value } as Token, end: close + closing.length };
}

/** Renders a whole template (tests, small files). */
export function renderTemplate(
  template: string,
  view: Record<string, unknown>,
  limits: ReplaceLimits = DEFAULT_LIMITS,
): string {
  let out = "";
  const renderer = new Renderer({ view }, (t) => (out += t), limits);
  const tokenizer = new Tokenizer((t) => renderer.token(t), limits);
  tokenizer.push(template);
  tokenizer.end();
  renderer.end();
  return out;
}

/** A TransformStream rendering UTF-8 bytes as they stream; errors (template, limits) abort the stream. */
export function replaceStream(
  view: Record<string, unknown>,
  limits: ReplaceLimits = DEFAULT_LIMITS,
): TransformStream<Uint8Array, Uint8Array> {
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  let inBytes = 0;
  let outBytes = 0;
  let batch = "";
  let controllerRef: TransformStreamDefaultController<Uint8Array> | undefined;
  const renderer = new Renderer({ view }, (t) => (batch += t), limits);
  const tokenizer = new Tokenizer((t) => renderer.token(t), limits);
  const flush = () => {
    if (batch === "") return;
    const bytes = encoder.encode(batch);
    batch = "";
    outBytes += bytes.byteLength;
    if (outBytes > limits.maxOutputBytes) throw new TemplateError("output too large");
    controllerRef!.enqueue(bytes);
  };
  return new TransformStream({
    transform(chunk, controller) {
      controllerRef = controller;
      inBytes += chunk.byteLength;
      if (inBytes > limits.maxInputBytes) throw new TemplateError("file too large");
      tokenizer.push(decoder.decode(chunk, { stream: true }));
      flush();
    },
    flush(controller) {
      controllerRef = controller;
      tokenizer.push(decoder.decode());
      tokenizer.end();
      renderer.end();
      flush();
    },
  });
}

/**
 * Start-up: gives every `replace` route its view (SAP `handleReplace`); a service query
 * that finds no binding or several, or a key that is also a var, is a problem at
 * `<prefix>.routes[i].replace.services.<key>`.
 */
export function resolveReplaceViews(
  routes: readonly {
    replace?: { vars: string[]; services: Record<string, ServiceQuery>; view?: Record<string, unknown> };
  }[],
  env: object,
  vcap: Readonly<Record<string, readonly Record<string, unknown>[]>> | undefined,
  prefix: string,
): { path: string; message: string }[] {
  const problems: { path: string; message: string }[] = [];
  routes.forEach((route, i) => {
    if (!route.replace) return;
    const built = buildView(route.replace.vars, route.replace.services, env as Record<string, unknown>, vcap);
    if (built.ok) route.replace.view = built.view;
    else problems.push({ path: `${prefix}.routes[${i}].replace.${built.path}`, message: built.message });
  });
  return problems;
}

/**
 * Wraps the assets fetcher of a `replace` route: a file whose path (`target`, relative to
 * the route's folder) ends with one of `pathSuffixes` is fetched whole (no conditional or
 * range request: the rendered text is not the stored file) and rendered as it streams,
 * with SAP's content type and no validators; anything else passes unchanged.
 */
export function withReplace(
  assets: (request: Request) => Promise<Response>,
  replace: { pathSuffixes: string[]; view?: Record<string, unknown> },
  target: string,
  limits: ReplaceLimits = DEFAULT_LIMITS,
): (request: Request) => Promise<Response> {
  const raw = target.split(/[?#]/, 1)[0] ?? "";
  const pathname = raw.startsWith("/") ? raw : `/${raw}`;
  if (!replaceApplies(replace.pathSuffixes, pathname)) return assets;
  return async (request) => {
    const headers = new Headers(request.headers);
    for (const name of [
      "if-match",
      "if-none-match",
      "if-modified-since",
      "if-unmodified-since",
      "if-range",
      "range",
      "accept-encoding",
    ])
      headers.delete(name);
    const upstream = await assets(new Request(request.url, { method: request.method, headers }));
    if (upstream.status !== 200) return upstream;
    const length = Number(upstream.headers.get("content-length") ?? "0");
    if (length > limits.maxInputBytes) {
      await upstream.body?.cancel();
      return errorPage(500, "FILE_TOO_LARGE");
    }
    const out = new Headers(upstream.headers);
    // The asset's validators and caching describe the stored file, not the rendered text (SAP sends none).
    for (const name of [
      "content-length",
      "content-encoding",
      "etag",
      "last-modified",
      "accept-ranges",
      "cache-control",
    ])
      out.delete(name);
    out.set("content-type", `${replacedContentType(pathname)}; charset=utf-8`);
    const body =
      request.method === "HEAD" || !upstream.body
        ? null
        : upstream.body.pipeThrough(replaceStream(replace.view ?? {}, limits));
    return new Response(body, { status: 200, headers: out });
  };
}
