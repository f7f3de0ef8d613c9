// Types of the XSUAA and IAS simulators (xsuaa.mjs, ias.mjs), for TypeScript callers.

/** One request the simulator received. Credentials (authorization, cookie) are "<redacted>". */
export interface SimRequest {
  at: number;
  method: string;
  /** The Host header (selects the XSUAA identity zone). */
  host: string;
  path: string;
  /** Query parameters (authorize: scope, nonce, idp, login_hint, code_challenge_method, app_tid …). */
  query: Record<string, string>;
  headers: Record<string, string>;
  status?: number;
  /** XSUAA: the identity zone's subdomain. */
  zone?: string;
  /** Token requests: names of the form fields sent (values are not kept). */
  form?: string[];
  grantType?: string;
  /** Token requests: "client_secret_basic" | "client_secret_post" | "client_secret_basic+post" | "tls_client_auth" (XSUAA certificate host) | "none". */
  clientAuthMethod?: string;
  /** Token requests that authenticated. */
  clientId?: string;
  /** IAS token requests: the app_tid form field. */
  appTid?: string;
  /** IAS logout: whether an id_token_hint was given and verified. */
  idTokenHintValid?: boolean;
}

export interface XsuaaUserOptions {
  username: string;
  password: string;
  /** Scopes beside UAA's default openid and uaa.user; `$XSAPPNAME` is replaced. */
  scopes: string[];
  /** UAA user id (sub, user_id). Default: a random UUID. */
  id?: string;
  /** Default "sap.default". */
  origin?: string;
  email?: string;
  givenName?: string;
  familyName?: string;
  /** user_uuid claim (users from IAS); left out by default. */
  userUuid?: string;
  /** xs.user.attributes (and user_attributes at /userinfo). */
  attributes?: Record<string, string[]>;
  roleCollections?: string[];
}

export interface XsuaaSimOptions {
  /** Bind address, loopback. Default 127.0.0.2 (a router on 127.0.0.1 is then cross-site); 127.0.0.1 with a localhost uaadomain. */
  host?: string;
  /** Default 0: a free port. */
  port?: number;
  /**
   * Domain the zone URLs are built on: `<scheme>://<subdomain>.<uaadomain>`. Default
   * `<host>:<port>` (plain loopback: the provider zone is `http://<host>:<port>`). A
   * `localhost`/`*.localhost` domain without a port gets the bound port. https unless loopback.
   */
  uaadomain?: string;
  /** The provider's identity zone subdomain. Default "provider". */
  subdomain?: string;
  /** Subscriber tenants: more identity zones, by subdomain. */
  tenants?: string[];
  /** Default "approuter-edge!t123". */
  xsappname?: string;
  /** Default `sb-<xsappname>`. */
  clientId?: string;
  /** Default: random. */
  clientSecret?: string;
  /** Allowed redirect URIs, UAA patterns (`*`, `**`). A pattern without a query ignores the URI's query. */
  redirectUris?: string[];
  /** Allowed /logout.do redirects. Default: redirectUris. */
  logoutRedirectUris?: string[];
  /** The client's scopes. Default openid, uaa.user, $XSAPPNAME.Display, .Edit, .Admin. */
  clientScopes?: string[];
  /** Scopes of client_credentials tokens. Default ["uaa.resource"]. */
  clientAuthorities?: string[];
  /** Default DEFAULT_XSUAA_USERS: demo/demo (Display, Edit), admin/admin (+ Admin). */
  users?: XsuaaUserOptions[];
  /** Seconds. Default 1800. */
  accessTokenTtl?: number;
  /** Each refresh returns a new refresh token and invalidates the old one. Default true. */
  rotateRefreshTokens?: boolean;
  /** false: refresh answers carry no refresh_token (the old one stays valid). Default true. */
  refreshReturnsRefreshToken?: boolean;
  /** Start with this signing key (from `keptState()`), else a new one. */
  signingKey?: { kid: string; privateJwk: import("jose").JWK };
  /** Identity zone ids by subdomain (from `keptState()`), else new ones. */
  zoneIds?: Record<string, string>;
  /** A line under the sign-in form's title (npm start names its demo user there). */
  loginNote?: string;
}

export interface XsuaaBindingOptions {
  /** Instance name. Default "uaa". */
  name?: string;
  /** Default "dedicated". */
  tenantmode?: "dedicated" | "shared";
  /** Whose zone the binding names (url, identityzone). Default the provider. */
  subdomain?: string;
  /** Add `verificationkey` (the current public key, PEM). */
  verificationKey?: boolean;
}

export interface XsuaaZone {
  subdomain: string;
  zoneId: string;
  subaccountId: string;
  /** `<scheme>://<subdomain>.<uaadomain>` ("" for a tenant when uaadomain is a bare IP). */
  url: string;
}

/** A service binding as it stands in VCAP_SERVICES. */
export interface ServiceBinding<Label extends string, Credentials> {
  label: Label;
  name: string;
  instance_name: string;
  tags: string[];
  plan: "application";
  credentials: Credentials;
}

export type XsuaaBinding = ServiceBinding<
  "xsuaa",
  {
    url: string;
    clientid: string;
    clientsecret: string;
    xsappname: string;
    uaadomain: string;
    identityzone: string;
    identityzoneid: string;
    tenantid: string;
    subaccountid: string;
    tenantmode: "dedicated" | "shared";
    sburl: string;
    "credential-type": "binding-secret";
    verificationkey?: string;
  }
>;

export interface SimSettings {
  accessTokenTtl: number;
  rotateRefreshTokens: boolean;
  /** false: refresh answers carry no refresh_token (the presented one stays valid). */
  refreshReturnsRefreshToken: boolean;
}

export type SimFetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

interface SimBase {
  /** The origin the server really listens on (http://host:port). */
  localOrigin: string;
  clientId: string;
  clientSecret: string;
  /** Reaches the simulator under any host it serves (keeps the URL's host as Host header). No redirects followed. */
  fetch: SimFetch;
  /** Whether a host (host[:port]) is one the simulator answers for. */
  servesHost(host: string): boolean;
  /** For Miniflare `outboundService`: requests to the simulator's hosts go to it, the rest to the network. */
  outbound(request: Request): Promise<Response>;
  /** The published JWKS. */
  jwks(): { keys: Array<Record<string, string>> };
  /** kid of the current signing key. */
  readonly kid: string;
  /** A new signing key with a new kid; the old stays published unless dropOld. Returns the new kid. */
  rotateSigningKey(o?: { dropOld?: boolean }): Promise<string>;
  requests(): SimRequest[];
  tokenRequests(): SimRequest[];
  set(settings: Partial<SimSettings>): void;
  /** Every token request answers this status (default 503) until reset(). */
  failTokenEndpoint(status?: number): void;
  /** Refresh tokens of this user (all users when omitted) are rejected from now on. */
  revokeRefreshTokens(username?: string): void;
  /** Login session ids currently open (IAS: the tokens' `sid`). */
  sessionIds(): string[];
  /** Forget all login sessions (the next authorize shows the form again). */
  endSessions(): void;
  /** Clears the request log, settings back to the start values, token endpoint up. Tokens and sessions stay. */
  reset(): void;
  /** Listen again on the same port after stop(). */
  start(): Promise<void>;
  stop(): Promise<void>;
  readonly running: boolean;
}

export interface XsuaaSim extends SimBase {
  /** The provider zone's URL (the binding's url). */
  readonly url: string;
  /** Port, signing key and zone ids: given back as options, a restart looks the same to a router holding its tokens. */
  keptState(): Promise<{
    port: number;
    signingKey: { kid: string; privateJwk: import("jose").JWK };
    zoneIds: Record<string, string>;
  }>;
  uaadomain: string;
  xsappname: string;
  zones: XsuaaZone[];
  zone(subdomain: string): XsuaaZone;
  users: Array<{ id: string; username: string; password: string; scopes: string[]; email: string }>;
  binding(o?: XsuaaBindingOptions): XsuaaBinding;
  /**
   * The X.509 variant, with `certurl` = `<scheme>://<subdomain>.<uaadomain with "cert" after its
   * first label>` (authentication.sap.test -> authentication.cert.sap.test). The simulator serves
   * those hosts too; there a token request with client_id and no secret counts as authenticated
   * by the certificate (plain http carries none), recorded as `tls_client_auth`. Needs the
   * openssl command; rejects when uaadomain is an IP (no certificate host).
   */
  x509Binding(o?: XsuaaBindingOptions): Promise<X509Binding<XsuaaBinding, { certurl: string }, "x509">>;
  /** `{"xsuaa":[binding(o)]}` as a string. */
  vcapServices(o?: XsuaaBindingOptions): string;
  /** An access token signed with the simulator's key, as the token endpoint would issue; `claims` override. */
  mintAccessToken(o?: {
    username?: string;
    subdomain?: string;
    scopes?: string[];
    claims?: Record<string, unknown>;
  }): Promise<string>;
}

/** The X.509 variant of a binding: `certificate`, `key` (PEM, self-signed) instead of `clientsecret`. */
export type X509Binding<
  B extends ServiceBinding<string, { clientsecret: string; "credential-type": string }>,
  Extra,
  Type extends string,
> = ServiceBinding<
  B["label"],
  Omit<B["credentials"], "clientsecret" | "credential-type"> & {
    certificate: string;
    key: string;
    "credential-type": Type;
  } & Extra
>;

export interface IasUserOptions {
  username: string;
  password: string;
  /** sub and user_uuid. Default: a random UUID. */
  userUuid?: string;
  scimId?: string;
  email?: string;
  givenName?: string;
  familyName?: string;
  groups?: string[];
}

export interface IasSimOptions {
  host?: string;
  port?: number;
  /** The tenant URL as the binding gives it, e.g. https://mytenant.accounts.ondemand.test (reach it with fetch/outbound). Default: the loopback origin. */
  url?: string;
  /** Tokens' iss (a custom domain); `ias_iss` is then the url. Default: iss = url. */
  customIssuer?: string;
  /** Default: [the url's host minus its first label] (a loopback IP: the IP). */
  domains?: string[];
  /** Default: a random UUID. */
  clientId?: string;
  clientSecret?: string;
  /** app_tid and zone_uuid. Default: a random UUID. */
  appTid?: string;
  redirectUris?: string[];
  /** Default: redirectUris. */
  postLogoutRedirectUris?: string[];
  users?: IasUserOptions[];
  /** Seconds. Default 3600. */
  accessTokenTtl?: number;
  /** Default true. */
  rotateRefreshTokens?: boolean;
}

export interface IasBindingOptions {
  /** Default "ias". */
  name?: string;
  /** `domains` as a JSON string (as some SAP bindings have it). */
  domainsAsString?: boolean;
}

export type IasBinding = ServiceBinding<
  "identity",
  {
    url: string;
    clientid: string;
    clientsecret: string;
    domains: string[] | string;
    app_tid: string;
    zone_uuid: string;
    "credential-type": "binding-secret";
  }
>;

export interface IasSim extends SimBase {
  url: string;
  issuer: string;
  appTid: string;
  domains: string[];
  users: Array<{ username: string; password: string; userUuid: string; email: string }>;
  binding(o?: IasBindingOptions): IasBinding;
  /** The X.509 variant (`credential-type` X509_GENERATED). The token endpoint still wants the secret. Needs openssl. */
  x509Binding(
    o?: IasBindingOptions,
  ): Promise<X509Binding<IasBinding, Record<never, never>, "X509_GENERATED">>;
  /** `{"identity":[binding(o)]}` as a string. */
  vcapServices(o?: IasBindingOptions): string;
  signLogoutToken(o: { sid?: string; sub?: string; aud?: string | string[] }): Promise<string>;
  /** POSTs `logout_token=<jwt>` to endpoint (with o.fetch, e.g. a Miniflare dispatch); returns the response status. */
  sendBackchannelLogout(o: {
    endpoint: string;
    sid?: string;
    sub?: string;
    aud?: string | string[];
    fetch?: SimFetch;
  }): Promise<number>;
}
