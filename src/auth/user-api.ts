import type { Context } from "hono";
import { decodeJwt, type JWTPayload } from "jose";
import { errorPage } from "../http/pages.js";
import type { Logger } from "../log.js";
import type { SessionEnv } from "../session/middleware.js";
import { authOf, type AuthData } from "./auth-data.js";

/**
 * SAP's user API (`"service": "sap-approuter-userapi"` routes; AR
 * lib/middleware/user-api-middleware.js): `/currentUser` and `/attributes` answered from
 * the logged-in session, with SAP's field mapping and JSON shape.
 *
 * Differences from SAP, on purpose:
 * - The endpoint is the last path segment of the route's target (`/currentUser`,
 *   `/attributes`); anything else is 404. SAP matches any URL that merely contains the
 *   word (`/x?currentUser`).
 * - `/attributes` for XSUAA: when `<url>/userinfo` fails, the answer is 502/503 naming
 *   the failure; SAP silently answers without the user's attributes, which an app
 *   cannot tell from a user who has none.
 */
export { USER_API_SERVICE } from "../config/xs-app.js";

export type UserApiEndpoint = "currentUser" | "attributes";

/** Claims SAP drops from the attributes it merges into `/attributes` (SAP's list). */
const IGNORED_CLAIMS = new Set([
  "aud",
  "nonce",
  "remoteEntityId",
  "zone_uuid",
  "sub",
  "given_name",
  "family_name",
  "email",
  "first_name",
  "last_name",
  "azp",
  "mail",
  "app_tid",
  "iss",
  "sid",
  "ias_iss",
  "scim_id",
  "cnf",
  "jti",
  "exp",
  "iat",
  "nbf",
  "auth_time",
  "acr",
  "amr",
  "at_hash",
  "c_hash",
  "sub_jwk",
  "ias_apis",
]);

/** The user API endpoint a route target names, from its last path segment. */
export function userApiEndpoint(target: string): UserApiEndpoint | undefined {
  const path = target.split("?", 1)[0]!;
  const last = path.slice(path.lastIndexOf("/") + 1);
  return last === "currentUser" || last === "attributes" ? last : undefined;
}

/**
 * What the user API reads from a session: the access token's claims (SAP decodes the
 * access token; it was verified at login), else the ID token's (a provider that issues
 * opaque access tokens), else only the subject. Scopes are the token response's `scope`
 * as kept at login (SAP's session scopes), else the access token's `scope` claim.
 */
export function sessionView(auth: AuthData): { claims: JWTPayload; scopes: string[] } {
  const claims = decoded(auth.accessToken) ??
    (auth.idToken ? decoded(auth.idToken) : undefined) ?? { sub: auth.sub };
  const scopes = Array.isArray(auth.scopes) ? auth.scopes : scopeClaim(claims.scope);
  return { claims, scopes };
}

function decoded(token: string): JWTPayload | undefined {
  try {
    return decodeJwt(token);
  } catch {
    return undefined;
  }
}

function scopeClaim(scope: unknown): string[] {
  if (Array.isArray(scope)) return scope.filter((s): s is string => typeof s === "string");
  return typeof scope === "string" ? scope.split(" ").filter(Boolean) : [];
}

export interface UserDetails {
  firstname?: unknown;
  lastname?: unknown;
  email?: unknown;
  name?: unknown;
  scopes: string[];
  displayName?: unknown;
}

/**
 * SAP's mapping: `firstname=given_name`, `lastname=family_name`, `email=email||name`,
 * `name` = `user_name||email` for XSUAA tokens (they carry `ext_attr`), else `sub`.
 * Absent claims are absent from the JSON (SAP serialises `undefined` away).
 */
export function userDetails(claims: JWTPayload, scopes: string[]): UserDetails {
  const c = claims as Record<string, unknown>;
  return {
    firstname: c.given_name,
    lastname: c.family_name,
    email: c.email || c.name,
    name: c.ext_attr ? c.user_name || c.email : c.sub,
    scopes,
  };
}

/** `/currentUser`: the details plus `displayName` ("First Last (name)", else the name). */
export function currentUser(claims: JWTPayload, scopes: string[]): UserDetails {
  const details = userDetails(claims, scopes);
  details.displayName =
    details.firstname && details.lastname
      ? `${details.firstname} ${details.lastname} (${details.name})`
      : details.name;
  return details;
}

/**
 * `/attributes`: the details with the identity provider's attributes merged over them
 * (SAP: `Object.assign`, so an attribute may replace a detail), minus SAP's ignored
 * claims. Anything but a plain object adds nothing.
 */
export function withAttributes(details: UserDetails, attributes: unknown): Record<string, unknown> {
  if (typeof attributes !== "object" || attributes === null || Array.isArray(attributes))
    return { ...details };
  const kept = Object.entries(attributes).filter(([name]) => !IGNORED_CLAIMS.has(name));
  return { ...details, ...Object.fromEntries(kept) };
}

/**
 * The XSUAA userinfo URL for a session: `<url>/userinfo` of the UAA that issued its
 * token (the access token's `iss` is `<uaa url>/oauth/token`), which is the binding's
 * `url` or, with `tenantmode: "shared"`, the same URL on a tenant's host
 * `<tenant>.<uaadomain>` (the binding's `uaadomain`, else the domain of its `url`). Any
 * other issuer falls back to the binding's `url`: the token is never sent anywhere else.
 */
export function xsuaaUserinfoUrl(bindingUrl: string, iss: unknown, uaaDomain?: string): string {
  const binding = new URL(bindingUrl);
  const basePath = binding.pathname.replace(/\/+$/, "");
  const fallback = `${binding.origin}${basePath}/userinfo`;
  if (typeof iss !== "string" || !iss.endsWith("/oauth/token")) return fallback;
  let issuer: URL;
  try {
    issuer = new URL(iss.slice(0, -"/oauth/token".length));
  } catch {
    return fallback;
  }
  const samePlace =
    issuer.protocol === binding.protocol &&
    issuer.port === binding.port &&
    issuer.pathname.replace(/\/+$/, "") === basePath;
  if (!samePlace || issuer.username || issuer.password || issuer.search) return fallback;
  const domain = (uaaDomain ?? binding.hostname.slice(binding.hostname.indexOf(".") + 1))
    .split(":")[0]!
    .toLowerCase();
  if (issuer.hostname !== binding.hostname && !isTenantHost(issuer.hostname, domain)) return fallback;
  return `${issuer.origin}${basePath}/userinfo`;
}

/** `<one label>.<domain>`, for a real domain (a dot in it) or `localhost` (simulators); never an IP. */
function isTenantHost(host: string, domain: string): boolean {
  const dot = host.indexOf(".");
  if (dot <= 0 || /^[\d.]+$|^\[/.test(host)) return false;
  return host.slice(dot + 1) === domain && (domain.includes(".") || domain === "localhost");
}

export type UserinfoResult =
  | { kind: "ok"; attributes: unknown }
  | { kind: "unavailable" }
  | { kind: "failed"; status: number };

/**
 * `GET <url>/userinfo` with the user's token (SAP: `user_attributes` of the answer).
 * One retry on a network error or 5xx, as SAP retries; 10 s per attempt.
 */
export async function fetchUserAttributes(
  fetch: typeof globalThis.fetch,
  url: string,
  accessToken: string,
): Promise<UserinfoResult> {
  let last: UserinfoResult = { kind: "unavailable" };
  for (let attempt = 0; attempt < 2; attempt++) {
    let response: Response;
    try {
      response = await fetch(url, {
        headers: { authorization: `Bearer ${accessToken}`, accept: "application/json" },
        signal: AbortSignal.timeout(10_000),
      });
    } catch {
      last = { kind: "unavailable" };
      continue;
    }
    if (response.status >= 500) {
      await response.body?.cancel();
      last = { kind: "unavailable" };
      continue;
    }
    if (response.status !== 200) {
      await response.body?.cancel();
      return { kind: "failed", status: response.status };
    }
    try {
      const body: unknown = await response.json();
      if (typeof body !== "object" || body === null || Array.isArray(body))
        return { kind: "failed", status: 200 };
      return { kind: "ok", attributes: (body as Record<string, unknown>).user_attributes };
    } catch {
      return { kind: "failed", status: 200 };
    }
  }
  return last;
}

export interface UserApiDeps {
  fetch: typeof globalThis.fetch;
  log: Logger;
  /**
   * The XSUAA binding `url` (for `/attributes` of XSUAA sessions), when a provider speaking
   * XSUAA's protocol is bound.
   */
  xsuaaUrl?: string;
  /** The binding's `uaadomain`: tenants' UAA hosts are `<tenant>.<uaadomain>`. */
  uaaDomain?: string;
}

/**
 * The XSUAA binding `url` from the bound provider's configuration, when that provider
 * speaks SAP's XSUAA protocol (`url`, else the issuer, which is the binding `url`).
 */
export function userApiProvider(
  xsuaa: { url: string; kind: "xsuaa" | "ias"; uaadomain?: string } | undefined,
): { xsuaaUrl?: string; uaaDomain?: string } {
  if (xsuaa?.kind !== "xsuaa") return {};
  return { xsuaaUrl: xsuaa.url, ...(xsuaa.uaadomain ? { uaaDomain: xsuaa.uaadomain } : {}) };
}

export type UserApiHandler = (c: Context<SessionEnv>, target: string) => Promise<Response>;

/**
 * The thin HTTP layer. Runs after the route's authentication and CSRF check (SAP's
 * order). A session without a login (a public route) gets 401.
 */
export function userApiHandler(deps: UserApiDeps): UserApiHandler {
  return async (c, target) => {
    const endpoint = userApiEndpoint(target);
    if (!endpoint) return errorPage(404, "USER_API_NOT_FOUND");
    const session = await c.get("session").current();
    const auth = authOf(session?.record.data);
    if (!auth) return errorPage(401, "AUTHENTICATION_REQUIRED");
    const { claims, scopes } = sessionView(auth);
    if (endpoint === "currentUser") return json(currentUser(claims, scopes));

    const details = userDetails(claims, scopes);
    // SAP: XSUAA sessions take their attributes from userinfo, IAS (and OpenID) sessions from the token.
    if (auth.idp !== "xsuaa" || deps.xsuaaUrl === undefined) return json(withAttributes(details, claims));
    const result = await fetchUserAttributes(
      deps.fetch,
      xsuaaUserinfoUrl(deps.xsuaaUrl, claims.iss, deps.uaaDomain),
      auth.accessToken,
    );
    if (result.kind === "unavailable") {
      deps.log("userapi.userinfo.error", { reason: "unavailable" });
      return errorPage(503, "USERINFO_UNAVAILABLE");
    }
    if (result.kind === "failed") {
      deps.log("userapi.userinfo.error", { reason: "answer", status: result.status });
      return errorPage(502, "USERINFO_FAILED");
    }
    return json(withAttributes(details, result.attributes));
  };
}

/** SAP's answer: pretty-printed JSON, never cached. */
function json(body: unknown): Response {
  return new Response(JSON.stringify(body, undefined, 2), {
    status: 200,
    headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-cache, no-store" },
  });
}
