import { MAX_FRAGMENT } from "./login-state.js";

/**
 * The page that starts a login when PRESERVE_FRAGMENT is on (SAP's router does the same:
 * a 200 page instead of a 302). A URL's `#fragment` (Fiori's inner-app route) never
 * reaches a server, so a redirect would lose it; this page's script stores it in a
 * short-lived cookie for the callback, then moves on to the provider.
 *
 * The script is a constant (its data sits in escaped `data-` attributes, nothing from the
 * request is ever written into script), so the page allows exactly that script by hash
 * in its own Content-Security-Policy; without JavaScript a `<noscript>` refresh and a link
 * still lead to the provider (the fragment is then lost, as with a redirect).
 */
const SCRIPT =
  "(function(){var d=document.documentElement.dataset,h=location.hash||'';" +
  `var ok=h.length>1&&h.length<=${MAX_FRAGMENT};` +
  "document.cookie=d.c+'='+(ok?encodeURIComponent(h):'')+'; Path='+d.p+" +
  "'; Max-Age='+(ok?300:0)+'; Secure; SameSite=Lax';" +
  "location.replace(d.u);})();";

let scriptHash: Promise<string> | undefined;

function hashOfScript(): Promise<string> {
  scriptHash ??= crypto.subtle.digest("SHA-256", new TextEncoder().encode(SCRIPT)).then((digest) => {
    let binary = "";
    for (const b of new Uint8Array(digest)) binary += String.fromCharCode(b);
    return `'sha256-${btoa(binary)}'`;
  });
  return scriptHash;
}

const ENTITIES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => ENTITIES[ch]!);
}

export async function loginPage(
  authorizeUrl: string,
  fragmentCookie: string,
  callbackPath: string,
): Promise<Response> {
  const u = escapeHtml(authorizeUrl);
  const csp = `default-src 'none'; script-src ${await hashOfScript()}; base-uri 'none'; form-action 'none'`;
  const body =
    `<!doctype html><html data-u="${u}" data-c="${escapeHtml(fragmentCookie)}"` +
    ` data-p="${escapeHtml(callbackPath)}">` +
    `<head><meta charset="utf-8"><title>Signing in</title>` +
    `<noscript><meta http-equiv="refresh" content="0;url=${u}"></noscript>` +
    `<script>${SCRIPT}</script></head><body><p><a href="${u}">Continue to sign in</a></p></body></html>`;
  return new Response(body, {
    status: 200,
    headers: {
      "content-type": "text/html; charset=utf-8",
      "cache-control": "no-store",
      "content-security-policy": csp,
      "referrer-policy": "no-referrer",
    },
  });
}
