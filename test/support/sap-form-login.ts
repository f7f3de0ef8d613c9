// Browserless login and logout through the XSUAA / IAS simulators' pages: starts from the
// router's answer (a 302, or SAP's 200 HTML page whose script sets `location`), follows
// redirects, fills the simulator's username/password form, and hands the redirect back to
// the router to `routerFetch`. Cookies are kept per origin with SameSite applied.
import { CookieJar, parseForms, type IdpWalkOptions } from "./form-login.js";

export type SimFetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

export interface SapWalkOptions extends Omit<IdpWalkOptions, "routerJar"> {
  /** Fetch for the simulator's URLs: the sim's `fetch` (realistic https hosts); default global fetch. */
  idpFetch?: SimFetch;
  /** Router cookies; default a new jar seeded from `start`. */
  routerJar?: CookieJar;
}

/** The URL SAP's login page sends the browser to: `location="…"`, `location.href=…`, `location.replace(…)` or a meta refresh. */
export function scriptRedirectOf(html: string): string | undefined {
  const js = /location(?:\.href)?\s*(?:=|\.replace\()\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')/.exec(html);
  if (js?.[1]) {
    const literal = js[1];
    if (literal.startsWith('"')) return JSON.parse(literal) as string;
    return literal.slice(1, -1).replace(/\\(.)/g, "$1");
  }
  const meta = /<meta[^>]+http-equiv=["']?refresh["']?[^>]+content=["'][^"']*url=([^"'>]+)/i.exec(html);
  return meta?.[1]?.replace(/&amp;/g, "&");
}

const isRedirect = (s: number) => s >= 301 && s <= 308 && s !== 304;
const siteOf = (u: URL) =>
  /^[\d.]+$|:/.test(u.hostname) || !u.hostname.includes(".")
    ? u.hostname
    : u.hostname.split(".").slice(-2).join(".");

/** Log in with username and password; returns the router's answer to the redirect back (its callback). */
export async function loginThroughSapForm(
  o: SapWalkOptions & { username: string; password: string },
): Promise<Response> {
  return walk(o, { username: o.username, password: o.password });
}

/** Follow the router's logout redirect through the simulator; returns the router's answer to the redirect back, or the simulator's last page. */
export async function logoutThroughSap(o: SapWalkOptions): Promise<Response> {
  return walk(o, undefined);
}

async function walk(
  o: SapWalkOptions,
  credentials: { username: string; password: string } | undefined,
): Promise<Response> {
  const routerOrigin = new URL(o.routerOrigin).origin;
  const idpJar = o.idpJar ?? new CookieJar();
  const routerJar = o.routerJar ?? new CookieJar();
  const idpFetch = o.idpFetch ?? fetch;
  const trace = o.trace ?? [];
  const fail = (msg: string): never => {
    throw new Error(`${msg}\n--- steps ---\n${trace.join("\n")}`);
  };
  let url = new URL(o.startUrl ?? `${routerOrigin}/`);
  let res = o.start;
  routerJar.storeFrom(res, url);
  let crossSite = false;
  let visitedIdp = false;
  let submitted = false;

  const call = async (target: URL, init: { method: string; body?: string }): Promise<Response> => {
    const toRouter = target.origin === routerOrigin;
    const headers: Record<string, string> = init.body
      ? { "content-type": "application/x-www-form-urlencoded" }
      : {};
    const jar = toRouter ? routerJar : idpJar;
    const cookie = jar.header(target, { crossSite: toRouter && crossSite, method: init.method });
    if (cookie) headers.cookie = cookie;
    const r = toRouter
      ? await o.routerFetch(target.href, { ...init, headers, redirect: "manual" })
      : await idpFetch(target.href, { ...init, headers, redirect: "manual" });
    trace.push(
      `${toRouter ? "router" : "idp"} ${init.method} ${target.href} -> ${r.status}${r.headers.get("location") ? ` ${r.headers.get("location")}` : ""}`,
    );
    jar.storeFrom(r, target);
    return r;
  };

  for (let step = 0; step < (o.maxSteps ?? 25); step++) {
    let next: URL | undefined;
    let body = "";
    if (isRedirect(res.status)) {
      next = new URL(
        res.headers.get("location") ?? fail(`${res.status} without Location at ${url.href}`),
        url,
      );
      await res.body?.cancel();
    } else {
      body = await res.text();
      if (url.origin === routerOrigin) {
        const target = scriptRedirectOf(body);
        if (!target)
          fail(
            `expected a redirect to the identity provider from the router, got ${res.status} at ${url.href}`,
          );
        next = new URL(target!, url);
      }
    }
    if (next) {
      if (next.origin === routerOrigin && visitedIdp) return call(next, { method: "GET" });
      if (next.origin !== routerOrigin && !visitedIdp) {
        visitedIdp = true;
        crossSite = siteOf(next) !== siteOf(new URL(routerOrigin));
      }
      res = await call(next, { method: "GET" });
      url = next;
      continue;
    }
    // A page of the simulator: its login form, or (logout without redirect) a final page.
    if (res.status >= 400)
      fail(
        `the identity provider answered ${res.status} at ${url.href}: ${body
          .replace(/<[^>]+>/g, " ")
          .trim()
          .slice(0, 300)}`,
      );
    const form = parseForms(body).find((f) => f.hasPassword);
    if (!form) {
      if (!credentials)
        return new Response(body, {
          status: res.status,
          headers: { "content-type": res.headers.get("content-type") ?? "text/html" },
        });
      fail(`no login form at ${url.href}`);
    }
    if (!credentials) fail(`the identity provider asks for a login at ${url.href} during logout`);
    if (submitted)
      fail(
        `the identity provider rejected user "${credentials!.username}" (login form shown again at ${url.href})`,
      );
    submitted = true;
    const fields = new URLSearchParams();
    for (const f of form!.fields) {
      if (f.name === "username" || f.name === "login") fields.append(f.name, credentials!.username);
      else if (f.name === "password") fields.append(f.name, credentials!.password);
      else fields.append(f.name, f.value);
    }
    const action = new URL(form!.action || url.href, url);
    res = await call(action, { method: "POST", body: fields.toString() });
    url = action;
  }
  return fail(`no redirect back to ${routerOrigin} after ${o.maxSteps ?? 25} steps`);
}
