import { timingSafeEqual } from "./constant-time.js";

/**
 * CSRF protection as in the SAP application router: a client fetches the token with
 * `x-csrf-token: fetch` on a GET/HEAD and sends it back in `x-csrf-token` on every
 * state-changing request to a route that requires authentication and has
 * `csrfProtection` (the default). Pure: the caller reads the header and the session.
 */
export type CsrfDecision =
  /** Answer with the session's token in the `x-csrf-token` response header (create one if missing). */
  | { kind: "fetch" }
  /** Let the request through. */
  | { kind: "ok" }
  /** Answer 403 with `x-csrf-token: Required`. */
  | { kind: "reject" };

export interface CsrfInput {
  method: string;
  /** Value of the `x-csrf-token` request header, or null when absent. */
  fetchHeader: string | null;
  routeRequiresAuth: boolean;
  /** The route's (or logout's) `csrfProtection`. */
  csrfProtection: boolean;
  /** The token stored in the session; undefined without a session or token. */
  sessionToken: string | undefined;
}

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** Everything except GET, HEAD and OPTIONS (case-insensitive). */
export function isStateChanging(method: string): boolean {
  return !SAFE_METHODS.has(method.toUpperCase());
}

export function csrfDecision(input: CsrfInput): CsrfDecision {
  const method = input.method.toUpperCase();
  if ((method === "GET" || method === "HEAD") && input.fetchHeader?.toLowerCase() === "fetch") {
    return { kind: "fetch" };
  }
  if (!isStateChanging(method) || !input.routeRequiresAuth || !input.csrfProtection) return { kind: "ok" };
  const { fetchHeader, sessionToken } = input;
  if (sessionToken === undefined || sessionToken === "" || fetchHeader === null) return { kind: "reject" };
  return timingSafeEqual(fetchHeader, sessionToken) ? { kind: "ok" } : { kind: "reject" };
}
