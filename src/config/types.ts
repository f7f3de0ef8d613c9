/** Validated, normalised configuration. Produced once per isolate by `loadConfig`. */

/** One configuration problem, named by its JSON path (`EXT_SESSION_MGT.sessionSecret`). */
export interface ConfigProblem {
  path: string;
  message: string;
}

export type ConfigResult = { ok: true; config: RouterConfig } | { ok: false; problems: ConfigProblem[] };

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
  login: LoginSettings;
  /** Response headers, CORS and WebSocket origins from the environment. */
  http: HttpSettings;
  /**
   * The bound destination service (VCAP_SERVICES label `destination`): routes may name
   * destinations that live there.
   */
  destinationService?: DestinationServiceBinding;
  /**
   * `DESTINATION_HOST_PATTERN`: the destination name of `"destination": "*"` routes from the
   * host (group 1).
   */
  destinationHostPattern?: RegExp;
  /**
   * The bound HTML5 application repository (`html5-apps-repo`, plan `app-runtime`): dynamic
   * routing to its apps.
   */
  html5Repo?: Html5RepoBinding;
}

export interface Html5RepoBinding {
  /** Binding name, for logs. */
  name?: string;
  /** Runtime API base (`uri`, `…/applications/content`), without a trailing slash. */
  uri: string;
  /** `<uaa.url>/oauth/token`. */
  tokenUrl: string;
  clientId: string;
  /** Never logged. */
  clientSecret: string;
  /** OWN_SAP_CLOUD_SERVICE, without dots: app-key prefixes that name the router's own apps. */
  ownSapCloudServices: readonly string[];
  /** DIRECT_ROUTING_URI_PATTERNS: first path segments always routed with the central xs-app.json. */
  directRoutingUriPatterns?: readonly DirectRoutingPattern[];
  /**
   * Bound business services with UIs in the repository, by app-key prefix
   * (src/html5/business-services.ts).
   */
  businessServices?: ReadonlyMap<string, BusinessService>;
}

/**
 * A DIRECT_ROUTING_URI_PATTERNS entry, as SAP reads it: a first path segment, matched as it
 * is or as a regular expression (case-sensitive, unanchored unless it says `^`/`$`).
 */
export interface DirectRoutingPattern {
  text: string;
  pattern: RegExp;
}

/** A bound business service whose UIs live in the HTML5 application repository. */
export interface BusinessService {
  /** Binding name, for logs. */
  name?: string;
  /** `html5-apps-repo.app_host_id`: sent as `x-app-host-id` for its apps. */
  appHostId: string;
  /** `uaa.xsappname`: `$XSAPPNAME` in its apps' scopes. */
  xsappname?: string;
}

export interface DestinationServiceBinding {
  /** Binding name, for logs. */
  name?: string;
  /** REST API base (`uri`), without a trailing slash. */
  uri: string;
  /** `<url>/oauth/token` of the binding's XSUAA. */
  tokenUrl: string;
  clientId: string;
  /** Never logged. */
  clientSecret: string;
  xsappname?: string;
  tenantId?: string;
}

export interface IdentityProviderConfig {
  /** The binding label the router files the provider under (sessions record it). */
  label: "xsuaa" | "identity";
  /**
   * The protocol: SAP's XSUAA (endpoints from the binding) or OpenID Connect with discovery
   * (IAS, any OIDC provider).
   */
  kind: "xsuaa" | "ias";
  /** Where the binding was found (`VCAP_SERVICES.xsuaa[0]`), for messages. */
  bindingPath: string;
  /** Binding `url`, without a trailing slash (a generic OpenID provider's issuer). */
  url: string;
  clientId: string;
  /** Never logged. Absent for X.509 bindings. */
  clientSecret?: string;
  /**
   * X.509 bindings: the binding's private `key`, only to derive the login-state key when
   * nothing else is secret. Never logged.
   */
  keyMaterial?: string;
  /** X.509 binding (`certificate`/`key`): token calls go through this Workers mTLS certificate binding. */
  mtlsBinding?: string;
  /** `certurl`, without a trailing slash (X.509 token endpoint host). */
  certUrl?: string;
  /**
   * Scopes requested at login: none for XSUAA unless the `scope` extension is set; IAS
   * "openid" (or the extension).
   */
  scope?: string;
  /** XSUAA: replaces `$XSAPPNAME` in route scopes; part of the audience rule. */
  xsappname?: string;
  /** XSUAA: the UAA domain (`https://<uaadomain>/token_keys`, tenant hosts). */
  uaadomain?: string;
  /** XSUAA `tenantmode`: "shared" sends each tenant to `<tenant>.<uaadomain>`. */
  tenantMode?: "dedicated" | "shared";
  /** IAS `domains`: accepted issuer hosts (equal or one label under). */
  domains: string[];
  /** IAS `app_tid` (or `zone_uuid`), sent as SAP sends it. */
  appTid?: string;
}

/** Login settings from the environment (SAP variables). */
export interface LoginSettings {
  /**
   * JWT_REFRESH: refresh this long before the access token expires, ms; 0 = never refresh
   * early. Default 5 min.
   */
  refreshBeforeMs: number;
  /** TENANT_HOST_PATTERN: group 1 of the request host is the tenant subdomain. */
  tenantHostPattern?: RegExp;
  /** PRESERVE_FRAGMENT (default true): start login with a page that keeps the URL `#fragment`. */
  preserveFragment: boolean;
  /** `?authType=` on the redirect URI: both providers bound, or ENABLE_PERMANENT_AUTHTYPE=true. */
  authTypeInRedirect: boolean;
  /** LOGOUT_WITH_TOKEN_HINT=true: IAS logout carries `id_token_hint`. */
  logoutWithTokenHint: boolean;
  /** XS_BIND_ADDRESS set (XS advanced): a route's identityProvider goes as `login_hint`, not `idp`. */
  xsa: boolean;
  /** DYNAMIC_IDENTITY_PROVIDER=true: `sap_idp` chooses the identity provider on every route (SAP). */
  dynamicIdentityProvider?: boolean;
  /**
   * Which provider a route without `authenticationType` uses ("ias" when only IAS is bound, SAP's iasOnly).
   */
  defaultAuthenticationType: "xsuaa" | "ias";
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
  /** Destination service: headers that replace the client's (authentication, `sap-client`). Never logged. */
  headers?: readonly HeaderEntry[];
  /** Destination service `URL.headers.<name>`: sent unless the client sent that header (SAP). */
  defaultHeaders?: readonly HeaderEntry[];
  /** Destination service `URL.queries.<name>`: added unless the request has that parameter. */
  queries?: readonly HeaderEntry[];
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
  /** xs-app.json `errorPage`: status → what answers it; a later entry wins (SAP). */
  errorPage: ReadonlyMap<number, ErrorPageTarget>;
  /** Default `{ enabled: false }` (SAP). */
  websockets: { enabled: boolean };
  /**
   * `compression.enabled` (default true, SAP); false asks Cloudflare not to compress
   * (`Cache-Control: no-transform`).
   */
  compression: { enabled: boolean };
  /** SAP's clickjacking allow-list service (src/handlers/whitelist-service.ts). */
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
  /**
   * Default Origin, Accept, X-Requested-With, Content-Type, Access-Control-Request-Method,
   * Access-Control-Request-Headers.
   */
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
  /**
   * CJ_PROTECT_WHITELIST: origins allowed to frame the app (whitelist service); undefined = service inactive.
   */
  clickjackWhitelist?: OriginRule[];
  /**
   * MERGE_CSP_HEADERS: a configured Content-Security-Policy is sent besides a backend's
   * (browsers enforce both) instead of giving way to it.
   */
  mergeCspHeaders?: boolean;
  /**
   * The `plugins` variable as given (JSON), for `pluginMetadataEndpoint`; its routes are in `xsApp.routes`.
   */
  plugins?: Record<string, unknown>[];
}

/**
 * Scopes by upper-case HTTP method, plus `default` for the others; the user needs any one
 * scope of the list. A string or array `scope` becomes `{ default: [...] }`. SAP: a method
 * with no entry and no `default` is refused. `$XSAPPNAME` is kept for the login layer.
 */
export type RouteScope = Partial<
  Record<
    "GET" | "HEAD" | "POST" | "PUT" | "DELETE" | "CONNECT" | "OPTIONS" | "TRACE" | "PATCH" | "default",
    string[]
  >
>;

export interface LogoutConfig {
  logoutEndpoint?: string;
  logoutPage?: string;
  /** SAP: the path IAS posts back-channel logout tokens to (routes of authenticationType "ias"). */
  backChannelLogoutEndpoint?: string;
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
  /** Set when xs-app.json did not name one: the login layer picks the bound provider as SAP does. */
  authenticationTypeImplicit?: true;
  /** Default true. */
  csrfProtection: boolean;
  /** Folder in the static assets, normalised: starts with `/`, no trailing `/` (`/` = all assets). */
  localDir?: string;
  /**
   * SAP's user API (`sap-approuter-userapi`) or the HTML5 application repository
   * (`html5-apps-repo-rt`); destination is "" then.
   */
  service?: "sap-approuter-userapi" | "html5-apps-repo-rt";
  /** `Cache-Control` for static content (SAP: only effective on localDir and HTML5 repository routes). */
  cacheControl?: string;
  /** Dropped when the effective authenticationType is "none" (SAP ignores it there). */
  scope?: RouteScope;
  identityProvider?: string;
  /** SAP: the request's `sap_idp` query parameter replaces identityProvider at login. */
  dynamicIdentityProvider?: boolean;
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
  /**
   * Resolved from VCAP_SERVICES (binding named instanceName) or UPSTASH_REDIS_REST_*;
   * absent with a custom store.
   */
  upstash?: { url: string; token: string };
}

/**
 * An xs-app.json `errorPage` entry: a file of the static assets served with the error's
 * status (`/err.html`), or a path the error is answered with a redirect to (SAP: `path`,
 * typically a page of an app in the HTML5 application repository).
 */
export type ErrorPageTarget = { file: string } | { path: string };
