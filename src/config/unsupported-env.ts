/**
 * SAP application router variables about login, tokens, sessions and cookies that this
 * router does not support. They are named at start-up in one warning line, never
 * silently ignored. Drawn from what `@sap/approuter` 23 reads (lib/configuration/
 * env-config.js, the `process.env` reads under lib/, its README's variable table); the
 * README's "SAP variables not supported" table gives the same reasons.
 *
 * Supported, so not listed: UAA_SERVICE_NAME, IAS_SERVICE_NAME, JWT_REFRESH,
 * TENANT_HOST_PATTERN, PRESERVE_FRAGMENT, ENABLE_PERMANENT_AUTHTYPE,
 * LOGOUT_WITH_TOKEN_HINT, XS_BIND_ADDRESS (detection), SESSION_TIMEOUT,
 * SESSION_COOKIE_NAME, SECURE_SESSION_COOKIE, COOKIES, EXT_SESSION_MGT,
 * SEND_XFRAMEOPTIONS, httpHeaders, CORS, WS_ALLOWED_ORIGINS, destinations,
 * VCAP_SERVICES; REMOVE_CLASHING_BACKEND_SESSION_COOKIE is always on. Variables outside
 * login and sessions (plugins, DESTINATION_HOST_PATTERN, …) are src/config's business.
 */
export interface UnsupportedVariable {
  name: string;
  /** Why, for users (README table). */
  reason: string;
}

const SERVICE_TO_APPROUTER =
  "the service-to-application-router flow (`x-approuter-authorization`) is not supported";
const X509_KEY =
  "X.509 keys are not read from variables: upload certificate and key as a Workers mTLS certificate";
const FORWARDED_HOST =
  "the router's own URL is the URL the Worker receives; `X-Forwarded-*` headers never change it";
const LOGIN_CSP =
  "the login page sends its own fixed Content-Security-Policy (script hash, nothing else allowed)";
const REFRESH_TUNING =
  "refresh runs once per session across all isolates (a store lease) with fixed timeouts";
const IAS_ZONE_INFO =
  "IAS tenant login info (`tenantLoginInfo`) is not fetched; IAS endpoints come from the binding";

export const UNSUPPORTED_VARIABLES: readonly UnsupportedVariable[] = [
  // Login and tokens
  { name: "XSUAA_PRIVATE_KEY", reason: X509_KEY },
  { name: "IAS_PRIVATE_KEY", reason: X509_KEY },
  {
    name: "STATE_PARAMETER_SECRET",
    reason: "state and PKCE are always on; login state is sealed with the router's own key",
  },
  { name: "PKCE_ENABLED", reason: "PKCE (S256) is always on" },
  {
    name: "EXCLUDED_STATE_HANDLING_SUBDOMAINS",
    reason: "state protection cannot be switched off, for any tenant",
  },
  {
    name: "MINIMUM_TOKEN_VALIDITY",
    reason: "a token's remaining lifetime is not checked at login; JWT_REFRESH renews it",
  },
  {
    name: "DYNAMIC_IDENTITY_PROVIDER",
    reason:
      "the identity provider cannot be chosen by the request (`sap_idp`); use the route's `identityProvider`",
  },
  { name: "CHECK_X_FORWARDED_HOST_IN_LOGIN_CALLBACK", reason: FORWARDED_HOST },
  { name: "EXTERNAL_REVERSE_PROXY", reason: FORWARDED_HOST },
  { name: "ENABLE_X_FORWARDED_HOST_VALIDATION", reason: FORWARDED_HOST },
  { name: "ACCEPTED_FORWARD_PROTOCOLS", reason: FORWARDED_HOST },
  {
    name: "SKIP_APP_KEY_WITH_X_FORWARD_PATH",
    reason: "the logout page is never taken from `X-Forwarded-Path`",
  },
  {
    name: "BACK_CHANNEL_LOGOUT_URI",
    reason:
      "the token request carries no `s3bcl_*` registration; " +
      "register the URL of xs-app.json `logout.backChannelLogoutEndpoint` with IAS",
  },
  { name: "LOGOUT_WO_SESSION_TRIGGERS_LOGIN", reason: "logout without a session never starts a login" },
  {
    name: "REQUIRE_AUTH_FOR_UNKNOWN_ROUTES",
    reason: "a path no route matches is answered 404 without a login",
  },
  { name: "DISABLE_XSUAA_ENCODING", reason: "the `redirect` of XSUAA's logout.do is always URL-encoded" },
  {
    name: "INCLUDE_HOST_IN_REDIRECT",
    reason: "the address kept for after login is always a path on this router",
  },
  {
    name: "DELETE_STALE_COOKIES",
    reason: "not needed: a login always issues a new session cookie in place of the old one",
  },
  { name: "EXTENDED_LOGIN_CSP", reason: LOGIN_CSP },
  { name: "OMIT_LOGIN_CSP", reason: LOGIN_CSP },
  { name: "INCLUDE_NONCE_ATTR", reason: LOGIN_CSP },
  { name: "TOKEN_REFRESH_TIMEOUT_MS", reason: REFRESH_TUNING },
  { name: "MAX_CONCURRENT_TOKEN_REFRESHES", reason: REFRESH_TUNING },
  {
    name: "ENABLE_FORWARD_CORPORATE_IDP_TOKEN",
    reason: "the corporate identity provider's token is not forwarded to destinations",
  },
  { name: "ZONE_INFO_CACHE_TTL", reason: IAS_ZONE_INFO },
  { name: "ZONE_INFO_MAX_CACHE_TTL", reason: IAS_ZONE_INFO },
  {
    name: "USE_HTML5_APP_XS_APPJSON_IN_LOGIN_CALLBACK",
    reason: "the login callback always uses the central xs-app.json",
  },
  // Sessions and cookies
  {
    name: "PLATFORM_COOKIE_NAME",
    reason: "no session stickiness: every isolate reads sessions from the session store",
  },
  {
    name: "COOKIE_BACKWARD_COMPATIBILITY",
    reason: "cookies are always written as RFC 6265 says; there is no older format",
  },
  { name: "UGW_GET_SESSION_ATTRIBUTES", reason: "the session-context endpoint is not offered" },
  {
    name: "REDIS_SCALE_READS",
    reason: "Redis is reached through Upstash's REST API; read replicas are Upstash's concern",
  },
  { name: "BACKEND_COOKIES_SECRET", reason: SERVICE_TO_APPROUTER },
  { name: "STORE_SESSION_COOKIES_IN_EXTERNAL_SESSION_STORE", reason: SERVICE_TO_APPROUTER },
  { name: "SVC2AR_STORE_CSRF_IN_EXTERNAL_SESSION", reason: SERVICE_TO_APPROUTER },
  { name: "SVC2AR_EXTERNAL_SESSION_ID_SECRET", reason: SERVICE_TO_APPROUTER },
  { name: "SVC2AR_EXTERNAL_SESSION_ID_SECRET_ALT", reason: SERVICE_TO_APPROUTER },
  { name: "SVC2AR_EXTERNAL_SESSION_COOKIE_ENABLED", reason: SERVICE_TO_APPROUTER },
  { name: "SVC2AR_DIRECT_EXT_SESSION_ID_USAGE", reason: SERVICE_TO_APPROUTER },
  { name: "SERVICE_2_APPROUTER_DISABLE_COOKIE_MERGE", reason: SERVICE_TO_APPROUTER },
];

/**
 * The unsupported variables set in `env`, in the list's order. Blank counts as unset, as
 * for every variable the router reads. Names only: values may be secrets.
 */
export function unsupportedVariables(env: Readonly<Record<string, unknown>>): string[] {
  return UNSUPPORTED_VARIABLES.filter(({ name }) => {
    const value = env[name];
    return value !== undefined && value !== null && !(typeof value === "string" && value.trim() === "");
  }).map(({ name }) => name);
}

/** Logs the unsupported variables set in `env` as one warning line; nothing when there are none. */
export function warnUnsupported(
  env: Readonly<Record<string, unknown>>,
  log: (event: string, fields: Record<string, unknown>) => void,
): void {
  const variables = unsupportedVariables(env);
  if (variables.length > 0) log("config.unsupported.warn", { variables });
}
