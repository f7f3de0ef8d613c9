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
  /** Bound identity providers by VCAP_SERVICES label. */
  identityProviders: Partial<Record<"xsuaa" | "identity", IdentityProviderConfig>>;
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
}

export interface LogoutConfig {
  logoutEndpoint?: string;
  logoutPage?: string;
  /** Default "POST" as in SAP. */
  logoutMethod: "GET" | "POST";
  /** Default true. */
  csrfProtection: boolean;
}

export interface RouteConfig {
  /** The compiled `source` (case-sensitive, matched against path + query). */
  source: RegExp;
  target?: string;
  destination: string;
  /** Upper-case methods; undefined = all. */
  httpMethods?: string[];
  /** Effective type: "none" when xs-app `authenticationMethod` is "none". Default "xsuaa". */
  authenticationType: "xsuaa" | "ias" | "none";
  /** Default true. */
  csrfProtection: boolean;
}

export interface SessionSettings {
  cookieName: string;
  idleTimeoutMs: number;
  absoluteTimeoutMs: number;
  memory: { maxEntries: number; maxBytes: number };
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
