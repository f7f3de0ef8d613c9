/** Validated, normalised configuration. Produced once per isolate by `loadConfig`. */

/** One configuration problem, named by its JSON path (`EXT_SESSION_MGT.sessionSecret`). */
export interface ConfigProblem {
  path: string;
  message: string;
}

export type ConfigResult =
  | { ok: true; config: RouterConfig }
  | { ok: false; problems: ConfigProblem[] };

export interface RouterConfig {
  xsApp: XsAppConfig;
  /** By destination name. */
  destinations: ReadonlyMap<string, Destination>;
  session: SessionSettings;
  /** Present when EXT_SESSION_MGT is set and valid. */
  externalSession?: ExternalSessionConfig;
  /** Bearer token of the status endpoint (STATUS_TOKEN); never logged. */
  statusToken?: string;
  /** Bound identity providers by VCAP_SERVICES label. */
  identityProviders: Partial<Record<"xsuaa" | "identity", IdentityProviderConfig>>;
  /** Response headers, CORS and WebSocket origins from the environment. */
  http: HttpSettings;
}

export interface IdentityProviderConfig {
  label: "xsuaa" | "identity";
  /** The issuer (binding `url`), without a trailing slash. */
  issuer: string;
  clientId: string;
  /** Never logged. */
  clientSecret: string;
  /** Scopes requested at login (extension `scope` in the credentials; default "openid"). */
  scope: string;
  /** XSUAA: replaces `$XSAPPNAME` in route scopes. */
  xsappname?: string;
}

export interface Destination {
  name: string;
  /** Absolute http(s) URL, without a trailing slash. */
  url: string;
  forwardAuthToken: boolean;
  /** Default 30000 ms (SAP: `timeout`, ms). */
  timeoutMs: number;
  /** Default true. */
  setXForwardedHeaders: boolean;
}

export interface XsAppConfig {
  welcomeFile?: string;
  authenticationMethod: "route" | "none";
  /** Minutes, when set in xs-app.json. */
  sessionTimeout?: number;
  routes: RouteConfig[];
  login: { callbackEndpoint: string };
  logout?: LogoutConfig;
  /** xs-app.json `destinations`: the logout call per destination name (on logout and session timeout). */
  destinations: ReadonlyMap<string, DestinationLogoutConfig>;
  /** xs-app.json `responseHeaders`, in order. */
  responseHeaders: HeaderEntry[];
  /** xs-app.json `cors`; consulted before the `CORS` variable's rules (SAP). */
  cors: CorsRule[];
  /** xs-app.json `errorPage`: status → asset path (`/err.html`); a later entry wins (SAP). */
  errorPage: ReadonlyMap<number, string>;
  /** Default `{ enabled: false }` (SAP). */
  websockets: { enabled: boolean };
  /** `compression.enabled` (default true, SAP); false asks Cloudflare not to compress (`Cache-Control: no-transform`). */
  compression: { enabled: boolean };
  /** SAP's clickjacking allow-list service (src/http/whitelist-service.ts). */
  whitelistService?: { endpoint: string };
  /** Serves the `plugins` variable's routes as JSON. */
  pluginMetadataEndpoint?: string;
  /** Settings accepted without effect, each with its reason; named once at start-up. */
  ignored: string[];
}

export interface DestinationLogoutConfig {
  /** Starts with `/`; relative to the destination URL. */
  logoutPath?: string;
  /** Default "POST" (SAP). */
  logoutMethod: "GET" | "POST" | "PUT";
}

export interface HeaderEntry {
  name: string;
  value: string;
}

/** One allowed origin (SAP allow-list item); absent protocol/port match any. */
export interface OriginRule {
  /** Lower-case: a host name, an IP, `*`, or `*.` + host name (any subdomain, not the name itself). */
  host: string;
  /** Lower-case scheme without ":". */
  protocol?: string;
  port?: number;
}

/** One CORS rule with SAP's defaults filled in. */
export interface CorsRule {
  /** Matched against path + query. */
  uriPattern: RegExp;
  /** Matched against the host name, and host name + ":" + port. */
  hostPattern?: RegExp;
  allowedOrigin: OriginRule[];
  /** Upper-case; default GET, POST, HEAD, OPTIONS. */
  allowedMethods: string[];
  /** Default Origin, Accept, X-Requested-With, Content-Type, Access-Control-Request-Method, Access-Control-Request-Headers. */
  allowedHeaders: string[];
  exposeHeaders: string[];
  /** Default true. */
  allowedCredentials: boolean;
  /** Seconds; default 1800; 0 = no Access-Control-Max-Age. */
  maxAge: number;
}

/** Environment settings of the HTTP layer. */
export interface HttpSettings {
  /** SEND_XFRAMEOPTIONS; default true: `X-Frame-Options: SAMEORIGIN` unless configured otherwise. */
  sendXFrameOptions: boolean;
  /** `httpHeaders`, in order. */
  httpHeaders: HeaderEntry[];
  /** `CORS`: consulted after xs-app.json `cors` (SAP). */
  cors: CorsRule[];
  /** WS_ALLOWED_ORIGINS; undefined = the router's own origin only (SAP). */
  wsAllowedOrigins?: OriginRule[];
  /** CJ_PROTECT_WHITELIST: origins allowed to frame the app (whitelist service); undefined = service inactive. */
  clickjackWhitelist?: OriginRule[];
  /** The `plugins` variable as given (JSON), for `pluginMetadataEndpoint`; its routes are in `xsApp.routes`. */
  plugins?: Record<string, unknown>[];
}

/**
 * Scopes by upper-case HTTP method, plus `default` for the others; the user needs any one
 * scope of the list. A string or array `scope` becomes `{ default: [...] }`. SAP: a method
 * with no entry and no `default` is refused. `$XSAPPNAME` is kept for the login layer.
 */
export type RouteScope = Partial<Record<"GET" | "HEAD" | "POST" | "PUT" | "DELETE" | "CONNECT" | "OPTIONS" | "TRACE" | "PATCH" | "default", string[]>>;

export interface LogoutConfig {
  logoutEndpoint?: string;
  logoutPage?: string;
  /** Default "GET", as in SAP. */
  logoutMethod: "GET" | "POST";
  /** Default true; applies to POST logout of an app that requires login (SAP). */
  csrfProtection: boolean;
}

export interface RouteConfig {
  /** The compiled `source` (case-sensitive, matched against path + query). */
  source: RegExp;
  target?: string;
  /** The destination name; "" exactly when `localDir` or `service` is set. */
  destination: string;
  /** Upper-case methods; undefined = all. */
  httpMethods?: string[];
  /** Effective type: "none" when xs-app `authenticationMethod` is "none". Default "xsuaa". */
  authenticationType: "xsuaa" | "ias" | "none";
  /** Default true. */
  csrfProtection: boolean;
  /** Folder in the static assets, normalised: starts with `/`, no trailing `/` (`/` = all assets). */
  localDir?: string;
  /** SAP's user API (`sap-approuter-userapi`), the only `service` the edge answers; destination is "" then. */
  service?: "sap-approuter-userapi";
  /** `Cache-Control` for static content (SAP: only effective on localDir routes). */
  cacheControl?: string;
  /** Dropped when the effective authenticationType is "none" (SAP ignores it there). */
  scope?: RouteScope;
  identityProvider?: string;
  /** SAP `replace` (localDir routes): resolved against the environment by `loadConfig` (`view`). */
  replace?: RouteReplace;
  /**
   * SAP: true sends backend session cookies to the browser instead of keeping them in
   * the router session. Always set by the parser (default false); optional only for
   * routes built by hand.
   */
  setBackendSessionCookies?: boolean;
}

export interface RouteReplace {
  pathSuffixes: string[];
  vars: string[];
  /** Key → @sap/xsenv query (instance name or `{ label, tag, name, plan }`). */
  services: Record<string, string | Record<string, unknown>>;
  /** Variable values and service credentials by name; set by `loadConfig`. Never logged. */
  view?: Record<string, unknown>;
}

export interface SessionSettings {
  cookieName: string;
  idleTimeoutMs: number;
  absoluteTimeoutMs: number;
  memory: { maxEntries: number; maxBytes: number };
  /** Attributes of the session cookie (COOKIES, SECURE_SESSION_COOKIE). */
  cookie: SessionCookieSettings;
}

export interface SessionCookieSettings {
  /** COOKIES `SameSite`; default "Lax". */
  sameSite: "Lax" | "Strict" | "None";
  /**
   * COOKIES `Partitioned`: `true`/`false` (extension), or SAP's user-agent test: partitioned
   * when the User-Agent matches `supportedAgents` and not `unsupportedAgents`.
   */
  partitioned: boolean | { supportedAgents: RegExp; unsupportedAgents: RegExp };
  /** SECURE_SESSION_COOKIE; default true. */
  secure: boolean;
}

export interface ExternalSessionConfig {
  instanceName: string;
  storageType: string;
  /** Newest first: [sessionSecret, ...previousSessionSecrets]. Never logged. */
  secrets: string[];
  externalStoreFilePath?: string;
  /** SAP `defaultRetryTimeout`: total time budget of one store operation, ms. Default 2000. */
  retryTimeoutMs: number;
  /** SAP `backOffMultiplier`: base of the exponential pause between retries, ms. Default 50. */
  backOffMultiplier: number;
  /** How long a first-tier copy is trusted before it is revalidated (extension). Default 5000 ms. */
  revalidateAfterMs: number;
  /** Resolved from VCAP_SERVICES (binding named instanceName) or UPSTASH_REDIS_REST_*; absent with a custom store. */
  upstash?: { url: string; token: string };
}
