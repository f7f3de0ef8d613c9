/**
 * The router's own error pages: one look, a short sentence saying what happened and what to
 * try, and the stable code for support (it also goes to the log). Never internal detail, a
 * stack or a configuration value. The README's troubleshooting table lists every code.
 */
import { ownResponse } from "./mutable.js";

interface PageText {
  /** The heading: what the user would call it. */
  title: string;
  /** What happened, in one sentence. */
  text: string;
  /** What to try. */
  hint: string;
  /** A link that helps (a same-origin path). */
  action?: { href: string; label: string };
}

const START = { href: "/", label: "Go to the start page" };
const SIGN_IN_AGAIN = { href: "/", label: "Sign in again" };
const CORS: PageText = {
  title: "Cross-origin request refused",
  text: "This site does not accept this request from the page that sent it.",
  hint:
    "Developers: compare the request's origin, method and headers with the cors settings of xs-app.json " +
    "(or CORS).",
};
const WEBSOCKET: PageText = {
  title: "WebSocket refused",
  text: "This site does not accept this WebSocket connection.",
  hint:
    "Developers: websockets.enabled in xs-app.json, and the page's origin " +
    "(WS_ALLOWED_ORIGINS for other origins).",
};

const DESTINATION_REFUSED: PageText = {
  title: "Service not usable here",
  text: "The destination behind this address is configured in a way this router cannot use.",
  hint: "Tell the application's administrator; the log says why.",
};

const PAGES = {
  ROUTE_NOT_FOUND: {
    title: "Page not found",
    text: "There is nothing at this address.",
    hint: "Check the address, or start again from the start page.",
    action: START,
  },
  FILE_NOT_FOUND: {
    title: "Page not found",
    text: "The file at this address does not exist.",
    hint: "Check the address, or start again from the start page.",
    action: START,
  },
  FILE_TOO_LARGE: {
    title: "File too large",
    text: "This file is too large to be prepared for display.",
    hint: "Tell the application's administrator (files with placeholders are limited to 10 MiB).",
    action: START,
  },
  METHOD_NOT_ALLOWED: {
    title: "Not possible here",
    text: "This address does not accept this kind of request.",
    hint: "If you followed a link or sent a form, start again from the start page.",
    action: START,
  },
  PATH_REFUSED: {
    title: "Invalid address",
    text: "This address is spelled in a way that servers read differently, so it is refused.",
    hint: "Check the address for encoded characters (%2F, %5C), dot segments or ;parameters, and try again.",
    action: START,
  },
  INVALID_TARGET: {
    title: "Invalid address",
    text: "This address cannot be passed on.",
    hint: "Check the address for unusual parts such as .. and try again.",
    action: START,
  },
  INVALID_PATH: {
    title: "Invalid address",
    text: "This address points outside the folder it may read.",
    hint: "Check the address for unusual parts such as .. and try again.",
    action: START,
  },
  AUTHENTICATION_REQUIRED: {
    title: "Sign-in required",
    text: "You need to be signed in for this, and you are not (your session may have ended).",
    hint: "Sign in, then try again.",
    action: { href: "/", label: "Sign in" },
  },
  INSUFFICIENT_SCOPE: {
    title: "No access",
    text: "You are signed in, but your account lacks the authorization this page needs.",
    hint: "Ask your administrator for the role; once you have it, sign out and in again.",
    action: START,
  },
  CSRF_TOKEN_REQUIRED: {
    title: "Request refused",
    text: "This change came without a valid security token, which protects you from forged requests.",
    hint:
      "Reload the page and try again. " +
      "Developers: fetch a token with the header x-csrf-token: fetch first.",
    action: START,
  },
  STATUS_TOKEN_REQUIRED: {
    title: "Token required",
    text: "The status endpoint needs its bearer token.",
    hint: "Send Authorization: Bearer <STATUS_TOKEN>.",
  },
  LOGIN_FAILED: {
    title: "Sign-in failed",
    text: "Sign-in was cancelled or failed.",
    hint: "Try again.",
    action: SIGN_IN_AGAIN,
  },
  LOGIN_STATE_INVALID: {
    title: "Sign-in expired",
    text: "This sign-in took too long, or it was started in another browser or tab.",
    hint: "Start again from the application.",
    action: SIGN_IN_AGAIN,
  },
  LOGIN_STATE_REPLAYED: {
    title: "Sign-in already used",
    text: "This sign-in answer was used before, for example by going back in the browser.",
    hint: "Start again from the application.",
    action: SIGN_IN_AGAIN,
  },
  IDP_UNAVAILABLE: {
    title: "Sign-in unavailable",
    text: "The sign-in service cannot be reached right now.",
    hint: "Wait a moment, then try again.",
    action: SIGN_IN_AGAIN,
  },
  IDP_ERROR: {
    title: "Sign-in unavailable",
    text: "The sign-in service reported an error.",
    hint: "Wait a moment, then try again.",
    action: SIGN_IN_AGAIN,
  },
  LOGIN_CODE_INVALID: {
    title: "Sign-in failed",
    text: "The answer from the sign-in service was incomplete.",
    hint: "Start again from the application.",
    action: SIGN_IN_AGAIN,
  },
  TENANT_MISMATCH: {
    title: "Wrong account",
    text: "You are signed in for another tenant than the one of this address.",
    hint: "Sign out, then sign in again at this address.",
    action: START,
  },
  IDP_NOT_CONFIGURED: {
    title: "Sign-in not set up",
    text: "This page needs a sign-in service that is not set up.",
    hint: "Tell the application's administrator.",
  },
  SESSION_STORE_UNAVAILABLE: {
    title: "Temporarily unavailable",
    text: "Your session cannot be reached right now.",
    hint: "Wait a moment, then try again.",
    action: START,
  },
  BACKEND_UNREACHABLE: {
    title: "Service unreachable",
    text: "The service behind this address cannot be reached.",
    hint: "Wait a moment, then try again. If it stays so, tell the application's administrator.",
    action: START,
  },
  BACKEND_TIMEOUT: {
    title: "No answer in time",
    text: "The service behind this address did not answer in time.",
    hint: "Wait a moment, then try again. If it stays so, tell the application's administrator.",
    action: START,
  },
  DESTINATION_NOT_FOUND: {
    title: "Service not found",
    text: "This address leads to a destination the destination service does not have.",
    hint: "Tell the application's administrator.",
    action: START,
  },
  DESTINATION_SERVICE_UNAVAILABLE: {
    title: "Temporarily unavailable",
    text: "The destination service cannot be reached right now.",
    hint: "Wait a moment, then try again.",
    action: START,
  },
  DESTINATION_ON_PREMISE_NOT_SUPPORTED: DESTINATION_REFUSED,
  DESTINATION_NOT_SUPPORTED: DESTINATION_REFUSED,
  DESTINATION_INVALID: DESTINATION_REFUSED,
  DESTINATION_AUTH_FAILED: {
    title: "Service sign-in failed",
    text: "The router could not get the credentials this service needs.",
    hint: "Wait a moment, then try again. If it stays so, tell the application's administrator.",
    action: START,
  },
  DESTINATION_NEEDS_USER: {
    title: "Sign-in required",
    text: "This service needs your identity, and this address is reached without sign-in.",
    hint: "Tell the application's administrator (the route must require authentication).",
    action: START,
  },
  DYNAMIC_DESTINATION_REFUSED: {
    title: "Service not available",
    text: "This address names a destination that cannot be reached through it.",
    hint:
      "Check the address. Administrators: the destination must exist and have " +
      "HTML5.DynamicDestination true; the log says why.",
    action: START,
  },
  DESTINATION_HOST_UNMATCHED: {
    title: "Page not found",
    text: "This host name does not name a destination.",
    hint:
      "Check the address. Administrators: DESTINATION_HOST_PATTERN must match this host " +
      "with a capturing group.",
    action: START,
  },
  USER_API_NOT_FOUND: {
    title: "Page not found",
    text: "The user API has no such endpoint.",
    hint: "Use currentUser or attributes.",
    action: START,
  },
  USERINFO_UNAVAILABLE: {
    title: "Temporarily unavailable",
    text: "Your user attributes cannot be read from the sign-in service right now.",
    hint: "Wait a moment, then try again.",
    action: START,
  },
  USERINFO_FAILED: {
    title: "User attributes unavailable",
    text: "The sign-in service refused to give your user attributes.",
    hint: "Sign in again; if it stays so, tell the application's administrator.",
    action: SIGN_IN_AGAIN,
  },
  HTML5_APP_NOT_FOUND: {
    title: "App not found",
    text: "The HTML5 application repository has no app of this name.",
    hint: "Check the address, or start again from the start page.",
    action: START,
  },
  HTML5_APP_CONFIG_INVALID: {
    title: "App not usable here",
    text: "This app's routing configuration (its xs-app.json) cannot be used.",
    hint: "Tell the application's administrator; the log names every problem.",
  },
  HTML5_REPO_UNAVAILABLE: {
    title: "Temporarily unavailable",
    text: "The HTML5 application repository cannot be reached right now.",
    hint: "Wait a moment, then try again.",
    action: START,
  },
  HTML5_REPO_REFUSED: {
    title: "App not available",
    text: "The HTML5 application repository refused the router's request.",
    hint: "Tell the application's administrator; the log says why.",
  },
  UNKNOWN_DESTINATION: {
    title: "Something went wrong",
    text: "This address leads to a service the router does not know.",
    hint: "Tell the application's administrator.",
  },
  ASSETS_NOT_BOUND: {
    title: "Something went wrong",
    text: "The router's static files are not available.",
    hint: "Tell the application's administrator.",
  },
  CORS_INVALID_ORIGIN: CORS,
  CORS_ORIGIN_NOT_ALLOWED: CORS,
  CORS_METHOD_NOT_ALLOWED: CORS,
  CORS_HEADERS_NOT_ALLOWED: CORS,
  WEBSOCKETS_DISABLED: WEBSOCKET,
  WEBSOCKET_ORIGIN_REQUIRED: WEBSOCKET,
  WEBSOCKET_ORIGIN_NOT_ALLOWED: WEBSOCKET,
  CONFIGURATION_INVALID: {
    title: "Not configured correctly",
    text: "The application router cannot start: its configuration has problems.",
    hint: "If you run this application: the log names every problem (npx wrangler tail).",
  },
  INTERNAL_ERROR: {
    title: "Something went wrong",
    text: "The router hit an unexpected error.",
    hint:
      "Try again. If it keeps happening, " +
      "tell the application's administrator the time and the code below.",
    action: START,
  },
} as const satisfies Record<string, PageText>;

/** Every code the router's own error pages carry: stable, for support and logs. */
export type ErrorCode = keyof typeof PAGES;

export const ERROR_CODES = Object.keys(PAGES) as ErrorCode[];

const REASONS: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

/**
 * Marks the router's own error pages until the app has had the chance to replace them
 * (`errorPage`); never sent.
 */
export const ROUTER_ERROR_HEADER = "x-approuter-error";

export interface PageOptions {
  /** Shown as a list (configuration problems in local development: paths and names, never values). */
  details?: readonly string[];
  /** Replaces the page's hint. */
  hint?: string;
}

export function errorPage(
  status: number,
  code: ErrorCode,
  headers: Record<string, string> = {},
  options: PageOptions = {},
): Response {
  return ownResponse(
    new Response(renderErrorPage(status, code, options), {
      status,
      headers: {
        "content-type": "text/html; charset=utf-8",
        "cache-control": "no-cache, no-store, must-revalidate",
        ...headers,
        [ROUTER_ERROR_HEADER]: code,
      },
    }),
  );
}

const STYLE =
  "body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;" +
  "background:#f4f5f7;color:#1d2d3e;" +
  "font:16px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif}" +
  "main{box-sizing:border-box;width:34rem;max-width:calc(100% - 2rem);margin:1rem;padding:2rem 2.25rem;" +
  "background:#fff;border-radius:12px;box-shadow:0 1px 3px rgba(0,0,0,.12)}" +
  ".status{margin:0;color:#5b738b;font-size:.875rem;letter-spacing:.02em}" +
  "h1{margin:.25rem 0 1rem;font-size:1.6rem;line-height:1.25}" +
  "p{margin:0 0 .75rem}a.action{display:inline-block;margin:.5rem 0 1rem;padding:.55rem 1.1rem;" +
  "background:#0a6ed1;color:#fff;border-radius:8px;text-decoration:none}" +
  "a.action:hover{background:#0854a0}ul{margin:0 0 1rem;padding:.75rem 1rem .75rem 2rem;" +
  "background:#fff8e6;border-radius:8px;font:.85rem/1.5 ui-monospace,Menlo,Consolas,monospace;" +
  "overflow-wrap:anywhere}" +
  ".code{margin:1rem 0 0;padding-top:.75rem;border-top:1px solid #e5e9ee;color:#5b738b;font-size:.8rem}" +
  "code{font-family:ui-monospace,Menlo,Consolas,monospace}";

export function renderErrorPage(status: number, code: ErrorCode, options: PageOptions = {}): string {
  const page: PageText = PAGES[code];
  const reason = REASONS[status] ?? "Error";
  const details = options.details?.length
    ? `<ul>${options.details.map((d) => `<li>${escapeHtml(d)}</li>`).join("")}</ul>`
    : "";
  const action = page.action
    ? `<a class="action" href="${escapeHtml(page.action.href)}">${escapeHtml(page.action.label)}</a>`
    : "";
  return (
    '<!doctype html><html lang="en"><head><meta charset="utf-8">' +
    '<meta name="viewport" content="width=device-width,initial-scale=1">' +
    `<meta name="robots" content="noindex"><title>${escapeHtml(page.title)}</title>` +
    `<style>${STYLE}</style></head><body><main>` +
    `<p class="status">${status} ${reason}</p><h1>${escapeHtml(page.title)}</h1>` +
    `<p>${escapeHtml(page.text)}</p>${details}` +
    `<p>${escapeHtml(options.hint ?? page.hint)}</p>${action}` +
    `<p class="code">Error code: <code>${code}</code></p></main></body></html>`
  );
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * Local development, where the configuration problems may be shown on the page: the
 * router's scripts set APPROUTER_DEV=true, and a request to a loopback host can only come
 * from this machine (a deployed Worker is reached by its own host name).
 */
export function isLocalDevelopment(request: Request, env: Readonly<Record<string, unknown>>): boolean {
  if (env.APPROUTER_DEV === "true" || env.APPROUTER_DEV === true) return true;
  const host = new URL(request.url).hostname.replace(/^\[|\]$/g, "");
  return (
    host === "localhost" ||
    host.endsWith(".localhost") ||
    host === "::1" ||
    /^127(?:\.\d{1,3}){3}$/.test(host)
  );
}

/**
 * The page of an isolate whose configuration is invalid: the problems themselves only in local development.
 */
export function configurationInvalidPage(
  request: Request,
  env: Readonly<Record<string, unknown>>,
  problems: readonly string[],
): Response {
  if (!isLocalDevelopment(request, env)) return errorPage(503, "CONFIGURATION_INVALID");
  return errorPage(
    503,
    "CONFIGURATION_INVALID",
    {},
    {
      details: problems,
      hint:
        "Fix these in your configuration (wrangler.toml [vars], .dev.vars, default-env.json or " +
        "xs-app.json) and restart. " +
        "Shown because this is local development; deployed, this page points to the log.",
    },
  );
}
