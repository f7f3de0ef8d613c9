// OAuth 2.0 pieces both simulators share: client authentication (which method a request
// used), PKCE, redirect-URI patterns with UAA's wildcards, single-use codes, the request log.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

export const randomToken = (bytes = 24) => randomBytes(bytes).toString("base64url");
export const nowSeconds = () => Math.floor(Date.now() / 1000);

/** Constant-time string comparison. */
export function safeEqual(/** @type {string} */ a, /** @type {string} */ b) {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * How a token request authenticated its client. `method` is "client_secret_basic",
 * "client_secret_post", "client_secret_basic+post" (both, as SAP's router does for IAS) or
 * "none" (a client_id in the body only, no secret).
 * @param {import("node:http").IncomingHttpHeaders} headers
 * @param {URLSearchParams} form
 * @returns {{ ok: true, method: string, clientId: string, secrets: string[] } | { ok: false, method: string, error: string }}
 */
export function clientAuthOf(headers, form) {
  const auth = String(headers.authorization ?? "");
  let basic;
  if (/^basic /i.test(auth)) {
    const decoded = Buffer.from(auth.slice(6).trim(), "base64").toString("utf8");
    const i = decoded.indexOf(":");
    if (i < 0) return { ok: false, method: "client_secret_basic", error: "malformed Basic credentials" };
    // RFC 6749 2.3.1: both parts are form-urlencoded before base64.
    basic = {
      id: decodeURIComponent(decoded.slice(0, i).replace(/\+/g, " ")),
      secret: decodeURIComponent(decoded.slice(i + 1).replace(/\+/g, " ")),
    };
  }
  const postId = form.get("client_id") ?? undefined;
  const postSecret = form.get("client_secret") ?? undefined;
  const method =
    basic && postSecret !== undefined
      ? "client_secret_basic+post"
      : basic
        ? "client_secret_basic"
        : postSecret !== undefined
          ? "client_secret_post"
          : "none";
  if (basic && postId !== undefined && postId !== basic.id)
    return { ok: false, method, error: "client_id in the body differs from the Basic credentials" };
  const clientId = basic?.id ?? postId;
  if (!clientId) return { ok: false, method, error: "no client authentication" };
  const secrets = [basic?.secret, postSecret].filter((s) => s !== undefined);
  return { ok: true, method, clientId, secrets: /** @type {string[]} */ (secrets) };
}

/** S256 PKCE: does `verifier` hash to `challenge`? */
export function pkceMatches(/** @type {string} */ challenge, /** @type {string} */ verifier) {
  if (!/^[A-Za-z0-9._~-]{43,128}$/.test(verifier)) return false;
  return safeEqual(createHash("sha256").update(verifier).digest("base64url"), challenge);
}

const escapeRegex = (/** @type {string} */ s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&");

/**
 * UAA redirect-URI patterns (xs-security.json `redirect-uris`): `**` matches anything, `*`
 * one host label or one path segment; e.g. `https://*.example.com/**`. A pattern without
 * a query matches the URI without its query, so `…/login/callback?authType=xsuaa` (what
 * SAP's router sends when XSUAA and IAS are both bound) matches `…/login/callback`.
 * @param {string} pattern
 * @param {string} uri
 */
export function redirectUriMatches(pattern, uri) {
  const compared = pattern.includes("?") ? uri : uri.split("?")[0].split("#")[0];
  const [, scheme = "", rest = ""] = /^([a-z][a-z0-9+.-]*:\/\/)(.*)$/i.exec(pattern) ?? [];
  if (!scheme) return pattern === compared;
  const slash = rest.indexOf("/");
  const authority = slash < 0 ? rest : rest.slice(0, slash);
  const path = slash < 0 ? "" : rest.slice(slash);
  const wild = (/** @type {string} */ s, /** @type {string} */ one) =>
    s
      .split("**")
      .map((part) => part.split("*").map(escapeRegex).join(one))
      .join(".*");
  const re = new RegExp(
    `^${escapeRegex(scheme.toLowerCase())}${wild(authority.toLowerCase(), "[^/.:@]*")}${wild(path, "[^/?#]*")}$`,
  );
  const [, uScheme = "", uAuthority = "", uPath = ""] =
    /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)(.*)$/i.exec(compared) ?? [];
  return re.test(`${uScheme.toLowerCase()}${uAuthority.toLowerCase()}${uPath}`);
}

/** Short-lived single-use values (authorization codes): `take` returns the entry once. */
export function singleUseStore(/** @type {number} */ ttlSeconds) {
  /** @type {Map<string, { value: any, expires: number }>} */
  const entries = new Map();
  return {
    /** @param {any} value */
    put(value) {
      // Values nobody takes (abandoned logins) expire; drop them now and then.
      if (entries.size > 1000) for (const [k, e] of entries) if (e.expires <= Date.now()) entries.delete(k);
      const key = randomToken(24);
      entries.set(key, { value, expires: Date.now() + ttlSeconds * 1000 });
      return key;
    },
    /** @param {string} key */
    take(key) {
      const e = entries.get(key);
      entries.delete(key);
      return e && e.expires > Date.now() ? e.value : undefined;
    },
    clear: () => entries.clear(),
  };
}

const MAX_LOG_ENTRIES = 2000;
const SECRET_HEADERS = new Set(["authorization", "cookie", "set-cookie", "proxy-authorization"]);

/**
 * The log of requests a simulator received, for tests to assert on: method, path, query
 * (no secrets travel there), headers with credentials redacted, names of form fields, and
 * for token requests the grant type, client id and client authentication method.
 */
export function requestLog() {
  /** @type {Array<Record<string, any>>} */
  let entries = [];
  return {
    /**
     * @param {import("node:http").IncomingMessage} req
     * @param {URL} url
     * @param {Record<string, unknown>} [extra]
     */
    add(req, url, extra = {}) {
      /** @type {Record<string, string>} */
      const headers = {};
      for (const [k, v] of Object.entries(req.headers))
        headers[k] = SECRET_HEADERS.has(k) ? "<redacted>" : String(v);
      const entry = {
        at: Date.now(),
        method: req.method ?? "",
        host: String(req.headers.host ?? ""),
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        headers,
        ...extra,
      };
      entries.push(entry);
      // A long `npm start` run keeps the recent past only.
      if (entries.length > MAX_LOG_ENTRIES) entries = entries.slice(-MAX_LOG_ENTRIES / 2);
      return entry;
    },
    all: () => entries.slice(),
    clear() {
      entries = [];
    },
  };
}

/** The HTML login page both simulators show: username and password, hidden fields carried along. */
export function loginPage(
  /** @type {{ title: string, action: string, hidden: Record<string, string>, error?: string, note?: string }} */ o,
) {
  const esc = (/** @type {string} */ s) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  const hidden = Object.entries(o.hidden)
    .map(([k, v]) => `<input type="hidden" name="${esc(k)}" value="${esc(v)}">`)
    .join("");
  return `<!doctype html><html><head><meta charset="utf-8"><title>${esc(o.title)}</title></head><body>
<h1>${esc(o.title)}</h1>${o.note ? `<p class="note">${esc(o.note)}</p>` : ""}${o.error ? `<p role="alert" class="error">${esc(o.error)}</p>` : ""}
<form method="post" action="${esc(o.action)}">${hidden}
<label>Username <input name="username" autocomplete="username" autofocus></label>
<label>Password <input name="password" type="password" autocomplete="current-password"></label>
<button type="submit">Sign in</button></form></body></html>`;
}

/** A page without a form (where logout ends when it may not redirect). */
export function messagePage(/** @type {string} */ title, /** @type {string} */ text) {
  return `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head><body><h1>${title}</h1><p>${text}</p></body></html>`;
}
