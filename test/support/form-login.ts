// Browserless login (and logout) through the test IdP's HTML pages (oidc-provider
// devInteractions): follows redirects by hand, keeps cookies per origin, fills and submits the
// login, consent and logout forms, and hands the redirect back to the router to `routerFetch`.

export type RouterFetch = (url: string, init?: RequestInit) => Promise<Response>;

// ---- cookies ----------------------------------------------------------------------------

interface StoredCookie {
  name: string;
  value: string;
  host: string;
  /** true: exactly `host`; false: `host` and its subdomains (Domain attribute). */
  hostOnly: boolean;
  path: string;
  secure: boolean;
  sameSite: "strict" | "lax" | "none";
  /** ms since epoch, or undefined for a session cookie */
  expires?: number;
}

function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, "");
  return h === "localhost" || h.endsWith(".localhost") || h === "::1" || /^127(\.\d{1,3}){3}$/.test(h);
}

/** Secure context the way Chromium sees it: https, or http on loopback. */
function isTrustworthy(url: URL): boolean {
  return url.protocol === "https:" || isLoopbackHost(url.hostname);
}

function defaultPath(url: URL): string {
  const p = url.pathname;
  if (!p.startsWith("/") || p.lastIndexOf("/") === 0) return "/";
  return p.slice(0, p.lastIndexOf("/"));
}

function pathMatches(requestPath: string, cookiePath: string): boolean {
  if (requestPath === cookiePath) return true;
  if (!requestPath.startsWith(cookiePath)) return false;
  return cookiePath.endsWith("/") || requestPath[cookiePath.length] === "/";
}

/** Set-Cookie header values of a response (undici's getSetCookie, else a best-effort split). */
export function setCookiesOf(res: Response): string[] {
  const h = res.headers as Headers & { getSetCookie?: () => string[] };
  if (typeof h.getSetCookie === "function") return h.getSetCookie();
  const raw = res.headers.get("set-cookie");
  return raw ? raw.split(/,(?=\s*[^;,=\s]+=)/).map((s) => s.trim()) : [];
}

/** A small RFC 6265 cookie jar: host, path, expiry, Secure (loopback counts as secure), SameSite. */
export class CookieJar {
  private cookies: StoredCookie[] = [];

  /** Store the Set-Cookie headers of a response received from `url`. */
  storeFrom(res: Response, url: string | URL): void {
    for (const line of setCookiesOf(res)) this.set(line, url);
  }

  set(setCookie: string, url: string | URL): void {
    const u = new URL(url);
    const [pair = "", ...attrs] = setCookie.split(";");
    const eq = pair.indexOf("=");
    if (eq <= 0) return;
    const cookie: StoredCookie = {
      name: pair.slice(0, eq).trim(),
      value: pair.slice(eq + 1).trim(),
      host: u.hostname,
      hostOnly: true,
      path: defaultPath(u),
      secure: false,
      sameSite: "lax",
    };
    let maxAge: number | undefined;
    for (const attr of attrs) {
      const i = attr.indexOf("=");
      const key = (i < 0 ? attr : attr.slice(0, i)).trim().toLowerCase();
      const val = i < 0 ? "" : attr.slice(i + 1).trim();
      if (key === "path" && val.startsWith("/")) cookie.path = val;
      else if (key === "domain" && val) {
        const d = val.replace(/^\./, "").toLowerCase();
        if (u.hostname !== d && !u.hostname.endsWith(`.${d}`)) return; // not ours to set
        cookie.host = d;
        cookie.hostOnly = false;
      } else if (key === "secure") cookie.secure = true;
      else if (key === "samesite") {
        const v = val.toLowerCase();
        cookie.sameSite = v === "strict" ? "strict" : v === "none" ? "none" : "lax";
      } else if (key === "max-age" && /^-?\d+$/.test(val)) maxAge = Number(val);
      else if (key === "expires" && cookie.expires === undefined) {
        const t = Date.parse(val);
        if (!Number.isNaN(t)) cookie.expires = t;
      }
    }
    if (maxAge !== undefined) cookie.expires = Date.now() + maxAge * 1000;
    if (cookie.secure && !isTrustworthy(u)) return;
    this.cookies = this.cookies.filter(
      (c) => !(c.name === cookie.name && c.host === cookie.host && c.path === cookie.path),
    );
    if (cookie.expires === undefined || cookie.expires > Date.now()) this.cookies.push(cookie);
  }

  /**
   * The Cookie header for a request to `url`. `crossSite`: the request is a navigation from
   * another site (SameSite=Strict withheld; Lax only for GET).
   */
  header(url: string | URL, context: { crossSite?: boolean; method?: string } = {}): string | undefined {
    const u = new URL(url);
    const now = Date.now();
    this.cookies = this.cookies.filter((c) => c.expires === undefined || c.expires > now);
    const method = (context.method ?? "GET").toUpperCase();
    const matching = this.cookies
      .filter((c) =>
        c.hostOnly ? u.hostname === c.host : u.hostname === c.host || u.hostname.endsWith(`.${c.host}`),
      )
      .filter((c) => pathMatches(u.pathname, c.path))
      .filter((c) => !c.secure || isTrustworthy(u))
      .filter((c) => {
        if (!context.crossSite) return true;
        if (c.sameSite === "strict") return false;
        if (c.sameSite === "lax") return method === "GET" || method === "HEAD";
        return true;
      })
      .sort((a, b) => b.path.length - a.path.length);
    return matching.length ? matching.map((c) => `${c.name}=${c.value}`).join("; ") : undefined;
  }

  /** The value of a cookie by name (any host/path). */
  get(name: string): string | undefined {
    return this.cookies.find((c) => c.name === name)?.value;
  }

  names(): string[] {
    return this.cookies.map((c) => c.name);
  }

  clear(): void {
    this.cookies = [];
  }
}

// ---- HTML forms -------------------------------------------------------------------------

interface ParsedForm {
  id?: string;
  action?: string;
  method: string;
  fields: Array<{ name: string; value: string; type: string }>;
  hasLogin: boolean;
  hasPassword: boolean;
}

function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos|#39);/gi, (_m, e: string) => {
    const k = e.toLowerCase();
    if (k === "amp") return "&";
    if (k === "lt") return "<";
    if (k === "gt") return ">";
    if (k === "quot") return '"';
    if (k === "apos" || k === "#39") return "'";
    if (k.startsWith("#x")) return String.fromCodePoint(parseInt(k.slice(2), 16));
    return String.fromCodePoint(parseInt(k.slice(1), 10));
  });
}

function parseAttrs(s: string): Record<string, string> {
  const attrs: Record<string, string> = {};
  const re = /([^\s=/>"']+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g;
  for (let m = re.exec(s); m; m = re.exec(s)) {
    attrs[(m[1] ?? "").toLowerCase()] = decodeEntities(m[2] ?? m[3] ?? m[4] ?? "");
  }
  return attrs;
}

/** The forms of a page with their fields; buttons outside a form joined by their form= attribute. */
export function parseForms(html: string): ParsedForm[] {
  const forms: ParsedForm[] = [];
  const formRe = /<form\b([^>]*)>([\s\S]*?)<\/form\s*>/gi;
  for (let m = formRe.exec(html); m; m = formRe.exec(html)) {
    const a = parseAttrs(m[1] ?? "");
    const form: ParsedForm = {
      id: a.id,
      action: a.action,
      method: (a.method || "GET").toUpperCase(),
      fields: [],
      hasLogin: false,
      hasPassword: false,
    };
    let submitter: { name: string; value: string } | undefined;
    for (const el of (m[2] ?? "").matchAll(/<(input|button)\b([^>]*)>/gi)) {
      const attrs = parseAttrs(el[2] ?? "");
      const tag = (el[1] ?? "").toLowerCase();
      const type = (attrs.type || (tag === "button" ? "submit" : "text")).toLowerCase();
      if (!attrs.name) continue;
      if (type === "submit" || type === "image") {
        submitter ??= { name: attrs.name, value: attrs.value ?? "" };
        continue;
      }
      if (tag === "button") continue;
      if ((type === "checkbox" || type === "radio") && !("checked" in attrs)) continue;
      form.fields.push({ name: attrs.name, value: attrs.value ?? "", type });
      if (attrs.name === "login") form.hasLogin = true;
      if (type === "password" || attrs.name === "password") form.hasPassword = true;
    }
    if (!submitter && form.id) {
      for (const el of html.matchAll(/<button\b([^>]*)>/gi)) {
        const attrs = parseAttrs(el[1] ?? "");
        if (attrs.form === form.id && attrs.name && (attrs.type ?? "submit") === "submit") {
          submitter = { name: attrs.name, value: attrs.value ?? "" };
          break;
        }
      }
    }
    if (submitter && !form.fields.some((f) => f.name === submitter!.name))
      form.fields.push({ ...submitter, type: "submit" });
    forms.push(form);
  }
  return forms;
}

function pageText(html: string): string {
  return decodeEntities(html.replace(/<(script|style)\b[\s\S]*?<\/\1>/gi, " ").replace(/<[^>]+>/g, " "))
    .replace(/\s+/g, " ")
    .trim()
    .slice(0, 600);
}

// ---- the walk -----------------------------------------------------------------------------

export interface IdpWalkOptions {
  /** Fetches URLs on the router origin (a Miniflare dispatchFetch, or fetch for wrangler dev). Gets `redirect: "manual"`. */
  routerFetch: RouterFetch;
  /** e.g. "https://router.test" or "http://127.0.0.1:8787". */
  routerOrigin: string;
  /** The router's response that starts it: usually a 302 to the IdP. */
  start: Response;
  /** URL `start` answered (to resolve a relative Location). Default start.url, else routerOrigin + "/". */
  startUrl?: string;
  /** Cookies of the IdP origin: pass the same jar to log in again (SSO) or to log out. Default: a new jar. */
  idpJar?: CookieJar;
  /**
   * Cookies of the router origin, sent as a `cookie` header in routerFetch's init. Default: a
   * new jar seeded from `start`'s Set-Cookie (e.g. the login-state cookie). `false`: the
   * caller's routerFetch handles router cookies itself. SameSite is applied as a browser would
   * (the IdP's redirect back is cross-site unless the IdP shares the router's host).
   */
  routerJar?: CookieJar | false;
  /** Default 25. */
  maxSteps?: number;
  /** Receives one line per request ("GET url -> 303"), for debugging. */
  trace?: string[];
}

export interface FormLoginOptions extends IdpWalkOptions {
  login: string;
  password: string;
}

function siteOf(u: URL): string {
  const h = u.hostname;
  const isIp = /^\d+(\.\d+){3}$/.test(h) || h.includes(":");
  const site = isIp || !h.includes(".") ? h : h.split(".").slice(-2).join(".");
  return `${u.protocol}//${site}`;
}

const isRedirect = (s: number) => s === 301 || s === 302 || s === 303 || s === 307 || s === 308;

/** Log in through the IdP's forms; returns the router's answer to the redirect back (its callback's response). */
export async function loginThroughForms(options: FormLoginOptions): Promise<Response> {
  return walkIdp(options, { login: options.login, password: options.password });
}

/**
 * Log out through the IdP (RP-initiated logout): `start` is the router's redirect to the
 * end_session endpoint; pass the `idpJar` used for the login so the IdP knows the session.
 * Returns the router's answer to the post-logout redirect (or, if the IdP does not redirect
 * back, the IdP's final page).
 */
export async function logoutThroughForms(options: IdpWalkOptions): Promise<Response> {
  return walkIdp(options, undefined);
}

async function walkIdp(
  o: IdpWalkOptions,
  credentials: { login: string; password: string } | undefined,
): Promise<Response> {
  const routerOrigin = new URL(o.routerOrigin).origin;
  const idpJar = o.idpJar ?? new CookieJar();
  const routerJar = o.routerJar === false ? undefined : (o.routerJar ?? new CookieJar());
  const trace = o.trace ?? [];
  const maxSteps = o.maxSteps ?? 25;
  let url = new URL(o.startUrl || o.start.url || `${routerOrigin}/`);
  let res = o.start;
  let crossSite = false;
  let visitedIdp = false;
  let loginSubmitted = false;
  routerJar?.storeFrom(res, url);

  const fail = (msg: string): never => {
    throw new Error(`${msg}\n--- steps ---\n${trace.join("\n")}`);
  };

  const routerCall = async (target: URL, init: RequestInit): Promise<Response> => {
    const method = init.method ?? "GET";
    const headers = new Headers(init.headers);
    const cookie = routerJar?.header(target, { crossSite, method });
    if (cookie) headers.set("cookie", cookie);
    // A plain header object: Miniflare's dispatchFetch runs its own undici.
    const r = await o.routerFetch(target.href, {
      ...init,
      method,
      headers: Object.fromEntries(headers),
      redirect: "manual",
    });
    trace.push(
      `router ${method} ${target.href} -> ${r.status}${r.headers.get("location") ? ` ${r.headers.get("location")}` : ""}`,
    );
    routerJar?.storeFrom(r, target);
    return r;
  };
  const idpCall = async (target: URL, init: RequestInit): Promise<Response> => {
    const method = init.method ?? "GET";
    const headers = new Headers(init.headers);
    const cookie = idpJar.header(target, { method });
    if (cookie) headers.set("cookie", cookie);
    const r = await fetch(target, { ...init, method, headers, redirect: "manual" });
    trace.push(
      `idp ${method} ${target.href} -> ${r.status}${r.headers.get("location") ? ` ${r.headers.get("location")}` : ""}`,
    );
    idpJar.storeFrom(r, target);
    return r;
  };
  const toIdp = (target: URL) => {
    if (!visitedIdp) {
      visitedIdp = true;
      crossSite = siteOf(target) !== siteOf(new URL(routerOrigin));
    }
  };

  for (let step = 0; step < maxSteps; step++) {
    if (isRedirect(res.status)) {
      const location = res.headers.get("location");
      if (!location) fail(`${res.status} without Location from ${url.href}`);
      await res.body?.cancel();
      const next = new URL(location!, url);
      if (next.origin === routerOrigin) {
        const r = await routerCall(next, { method: "GET" });
        if (visitedIdp) return r; // the redirect back: the callback's answer
        res = r;
      } else {
        toIdp(next);
        res = await idpCall(next, { method: "GET" });
      }
      url = next;
      continue;
    }

    const body = await res.text();
    if (url.origin === routerOrigin) {
      fail(
        `expected a redirect to the IdP from the router, got ${res.status} at ${url.href}: ${pageText(body)}`,
      );
    }
    if (res.status >= 400) fail(`IdP answered ${res.status} at ${url.href}: ${pageText(body)}`);
    const forms = parseForms(body);
    const form =
      forms.find((f) => f.hasLogin && f.hasPassword) ??
      forms.find((f) => f.fields.some((x) => x.name === "prompt")) ??
      forms.find((f) => f.method === "POST") ??
      forms[0];
    if (!form) {
      // Logging out without a post_logout_redirect_uri ends on the IdP's "Sign-out Success" page.
      if (!credentials)
        return new Response(body, {
          status: res.status,
          headers: { "content-type": res.headers.get("content-type") ?? "text/html" },
        });
      fail(`no form on the IdP page ${url.href} (${res.status}): ${pageText(body)}`);
    }
    const fields = new URLSearchParams();
    if (form!.hasLogin && form!.hasPassword) {
      if (!credentials) fail(`the IdP asks for a login at ${url.href} during logout`);
      if (loginSubmitted)
        fail(`the IdP rejected login "${credentials!.login}" (login form shown again at ${url.href})`);
      loginSubmitted = true;
      for (const f of form!.fields) {
        if (f.name === "login") fields.append("login", credentials!.login);
        else if (f.name === "password") fields.append("password", credentials!.password);
        else fields.append(f.name, f.value);
      }
    } else {
      for (const f of form!.fields) fields.append(f.name, f.value);
    }
    const action = new URL(form!.action || url.href, url);
    const init: RequestInit =
      form!.method === "POST"
        ? {
            method: "POST",
            headers: { "content-type": "application/x-www-form-urlencoded" },
            body: fields.toString(),
          }
        : { method: "GET" };
    if (form!.method !== "POST") for (const [k, v] of fields) action.searchParams.append(k, v);
    if (action.origin === routerOrigin) {
      return routerCall(action, init); // response_mode=form_post back to the router
    }
    res = await idpCall(action, init);
    url = action;
  }
  return fail(`no redirect back to ${routerOrigin} after ${maxSteps} steps`);
}
