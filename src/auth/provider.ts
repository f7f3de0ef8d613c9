import {
  createRemoteJWKSet,
  customFetch as joseCustomFetch,
  decodeJwt,
  decodeProtectedHeader,
  errors as joseErrors,
  jwtVerify,
  type JWTPayload,
  type JWTVerifyGetKey,
} from "jose";
import type { IdentityProviderConfig, LoginSettings } from "../config/types.js";
import {
  iasEndpoints,
  isAllowedScheme,
  loggableUrl,
  xsuaaEndpoints,
  xsuaaJwksUrl,
  type Endpoints,
} from "./endpoints.js";
import {
  audienceContains,
  iasIssuerAccepted,
  xsuaaAudienceAccepted,
  xsuaaIssuerAccepted,
} from "./token-rules.js";

/**
 * One identity provider as this isolate talks to it: a protocol per kind behind one small
 * interface. XSUAA follows SAP's router (endpoints from the binding, no `scope`/`nonce`,
 * `client_secret_post` for the code, `client_secret_basic` for refresh); IAS and generic
 * OpenID providers are standard OpenID Connect with discovery.
 *
 * Token calls are plain form posts, not oauth4webapi: its strict OIDC checks (issuer of
 * the discovery document, a nonce-bound ID token, one client authentication method per
 * client) are exactly where XSUAA and IAS differ, so it would have to be argued out of
 * each of them. Signatures and times are checked with jose, stricter than SAP's router,
 * which only decodes the tokens.
 */
export type FailureKind = "unavailable" | "rejected";

/** An expected failure talking to the provider. `cause` and `url` are safe to log (no query, no secret). */
export class ProviderError extends Error {
  readonly code = "ERR_IDP";
  constructor(
    readonly kind: FailureKind,
    readonly op: string,
    readonly cause_: string,
    readonly url?: string,
    /** The provider's OAuth `error` code, when it sent one. */
    readonly providerError?: string,
  ) {
    super(`${op}: ${cause_}`);
  }

  /** Fields for a log line. */
  get fields(): Record<string, string> {
    return {
      op: this.op,
      cause: this.cause_,
      ...(this.url && { url: this.url }),
      ...(this.providerError && { error: this.providerError }),
    };
  }
}

export interface TokenSet {
  accessToken: string;
  refreshToken?: string;
  idToken?: string;
  expiresInS: number;
  /** The response's `scope`, split; undefined when it had none. */
  scopes?: string[];
}

/** Who logged in, from verified tokens. */
export interface Identity {
  iss: string;
  sub: string;
  sid?: string;
  /** XSUAA `ext_attr.zdn` (the tenant subdomain), else the request's tenant. */
  tenant?: string;
  user: Record<string, string>;
}

export interface AuthorizeArgs {
  tenant?: string;
  redirectUri: string;
  state: string;
  nonce: string;
  codeChallenge: string;
  identityProvider?: string;
}

export interface IdentityProvider {
  readonly config: IdentityProviderConfig;
  /** Whether the authorize request carries (and the ID token must echo) a nonce. */
  readonly usesNonce: boolean;
  authorizeUrl(args: AuthorizeArgs): Promise<string>;
  exchangeCode(args: {
    tenant?: string;
    code: string;
    redirectUri: string;
    codeVerifier: string;
  }): Promise<TokenSet>;
  /** Verifies the login's tokens; throws a ProviderError ("rejected": forged, foreign, expired). */
  verifyLogin(tokens: TokenSet, args: { nonce: string; tenant?: string }): Promise<Identity>;
  refresh(refreshToken: string, tenant?: string): Promise<TokenSet>;
  /** The provider's logout URL, or null when it cannot be known now. */
  logoutUrl(args: {
    tenant?: string;
    postLogoutRedirectUri?: string;
    idToken?: string;
  }): Promise<string | null>;
  userinfoUrl(tenant?: string): Promise<string>;
  /** Whether a back-channel logout token with these claims may come from this provider (IAS/OIDC only). */
  acceptsIssuer(claims: Record<string, unknown>): boolean;
  /** Verifies a back-channel logout token's signature, issuer, audience and age. */
  verifyLogoutToken(token: string): Promise<JWTPayload>;
}

export interface ProviderDeps {
  /** Plain fetch (authorize redirects are built, not fetched; JWKS, discovery). */
  fetch: typeof fetch;
  /** The token endpoint's fetch: the mTLS certificate binding's for X.509 bindings. */
  tokenFetch: typeof fetch;
  now: () => number;
  login: LoginSettings;
}

const TIMEOUT_MS = 10_000;
const LEEWAY_S = 60; // @sap/xssec's leeway for exp/nbf
const RSA_ALGS = ["RS256", "RS384", "RS512"];
const JWKS_COOLDOWN_MS = 2_000; // an unknown kid refetches the keys at most this often per URL
const MAX_JWKS = 64;
const USER_CLAIMS = [
  "name",
  "given_name",
  "family_name",
  "email",
  "user_name",
  "user_uuid",
  "preferred_username",
  "origin",
  "zid",
  "zone_uuid",
  "app_tid",
];

export function createProvider(config: IdentityProviderConfig, deps: ProviderDeps): IdentityProvider {
  return config.kind === "xsuaa" ? new XsuaaProvider(config, deps) : new OidcProvider(config, deps);
}

/** Keys by JWKS URL, cached per isolate; jose refetches on an unknown `kid`. */
class KeyCache {
  private readonly sets = new Map<string, JWTVerifyGetKey>();
  constructor(private readonly fetchImpl: typeof fetch) {}

  get(url: string): JWTVerifyGetKey {
    let set = this.sets.get(url);
    if (!set) {
      const fetchImpl = this.fetchImpl;
      set = createRemoteJWKSet(new URL(url), {
        [joseCustomFetch]: async (input: string, options: RequestInit) => {
          let response: Response;
          try {
            response = await fetchImpl(input, options);
          } catch (error) {
            if (error instanceof Error && error.name === "TimeoutError") throw error; // jose: JWKSTimeout
            throw new ProviderError("unavailable", "jwks", "refused", loggableUrl(input));
          }
          if (response.status >= 500 || response.status === 429)
            throw new ProviderError("unavailable", "jwks", `HTTP ${response.status}`, loggableUrl(input));
          return response;
        },
        timeoutDuration: TIMEOUT_MS,
        cooldownDuration: JWKS_COOLDOWN_MS,
      });
      if (this.sets.size >= MAX_JWKS) this.sets.delete(this.sets.keys().next().value!);
      this.sets.set(url, set);
    }
    return set;
  }
}

/** A signature/time check by jose, its failures as ProviderErrors. */
async function verifySignature(
  token: string,
  keys: JWTVerifyGetKey,
  op: string,
  jwksUrl: string,
  now: number,
): Promise<JWTPayload> {
  try {
    const header = decodeProtectedHeader(token);
    if (typeof header.kid !== "string" || header.kid === "")
      throw new ProviderError("rejected", op, "no kid");
    const { payload } = await jwtVerify(token, keys, {
      algorithms: RSA_ALGS,
      clockTolerance: LEEWAY_S,
      currentDate: new Date(now),
    });
    return payload;
  } catch (error) {
    if (error instanceof ProviderError) throw error;
    if (error instanceof joseErrors.JWKSTimeout)
      throw new ProviderError("unavailable", "jwks", "timeout", loggableUrl(jwksUrl));
    if (error instanceof joseErrors.JWTExpired) throw new ProviderError("rejected", op, "expired");
    if (error instanceof joseErrors.JWKSNoMatchingKey) throw new ProviderError("rejected", op, "unknown kid");
    if (error instanceof joseErrors.JWSSignatureVerificationFailed)
      throw new ProviderError("rejected", op, "bad signature");
    if (error instanceof joseErrors.JOSEError && /JSON Web Key Set/.test(error.message)) {
      // e.g. 400 for a zone UAA does not know
      throw new ProviderError("rejected", op, "keys refused", loggableUrl(jwksUrl));
    }
    throw new ProviderError("rejected", op, error instanceof joseErrors.JOSEError ? error.code : "malformed");
  }
}

/** POSTs a form to a token endpoint and reads the answer. */
async function postToken(
  fetchImpl: typeof fetch,
  op: string,
  url: string,
  form: Record<string, string | undefined>,
  headers: Record<string, string> = {},
): Promise<TokenSet> {
  const body = new URLSearchParams();
  for (const [k, v] of Object.entries(form)) if (v !== undefined) body.set(k, v);
  let response: Response;
  try {
    response = await fetchImpl(url, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        accept: "application/json",
        ...headers,
      },
      body: body.toString(),
      redirect: "manual",
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (error) {
    const timeout = error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError");
    throw new ProviderError("unavailable", op, timeout ? "timeout" : "refused", loggableUrl(url));
  }
  let json: Record<string, unknown> | undefined;
  try {
    const parsed: unknown = await response.json();
    if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed))
      json = parsed as Record<string, unknown>;
  } catch {
    json = undefined;
  }
  const providerError = typeof json?.error === "string" ? json.error.slice(0, 64) : undefined;
  if (response.status >= 400 && response.status < 500 && response.status !== 429) {
    throw new ProviderError("rejected", op, `HTTP ${response.status}`, loggableUrl(url), providerError);
  }
  if (response.status !== 200 || !json)
    throw new ProviderError(
      "unavailable",
      op,
      response.status === 200 ? "not JSON" : `HTTP ${response.status}`,
      loggableUrl(url),
      providerError,
    );
  const str = (k: string) =>
    typeof json![k] === "string" && json![k] !== "" ? (json![k] as string) : undefined;
  const accessToken = str("access_token");
  if (!accessToken) throw new ProviderError("unavailable", op, "no access_token", loggableUrl(url));
  const expires = Number(json.expires_in);
  const scope = typeof json.scope === "string" ? json.scope : undefined;
  const refreshToken = str("refresh_token");
  const idToken = str("id_token");
  return {
    accessToken,
    ...(refreshToken && { refreshToken }),
    ...(idToken && { idToken }),
    expiresInS: Number.isFinite(expires) && expires > 0 ? expires : 3600,
    ...(scope !== undefined && { scopes: scope.split(" ").filter(Boolean) }),
  };
}

/**
 * `Authorization: Basic` as SAP's router builds it (id and secret not form-encoded: XSUAA
 * client ids contain `!` and `|`).
 */
function basic(clientId: string, secret: string): string {
  const bytes = new TextEncoder().encode(`${clientId}:${secret}`);
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return `Basic ${btoa(binary)}`;
}

function userOf(claims: Record<string, unknown>): Record<string, string> {
  const user: Record<string, string> = {};
  for (const name of USER_CLAIMS) if (typeof claims[name] === "string") user[name] = claims[name] as string;
  return user;
}

function withQuery(base: string, params: Record<string, string | undefined>): string {
  const url = new URL(base);
  for (const [k, v] of Object.entries(params)) if (v !== undefined) url.searchParams.set(k, v);
  return url.href;
}

class XsuaaProvider implements IdentityProvider {
  readonly usesNonce = false;
  private readonly keys: KeyCache;

  constructor(
    readonly config: IdentityProviderConfig,
    private readonly deps: ProviderDeps,
  ) {
    this.keys = new KeyCache(deps.fetch);
  }

  async authorizeUrl(a: AuthorizeArgs): Promise<string> {
    const { authorize } = xsuaaEndpoints(this.config, a.tenant);
    // No nonce and no scope (XSUAA then grants the client's scopes); `idp` selects the
    // user's identity provider, XS advanced only knows `login_hint` (SAP oauth2.js).
    const hint = a.identityProvider;
    return withQuery(authorize, {
      response_type: "code",
      client_id: this.config.clientId,
      redirect_uri: a.redirectUri,
      state: a.state,
      code_challenge: a.codeChallenge,
      code_challenge_method: "S256",
      scope: this.config.scope,
      ...(hint !== undefined &&
        (this.deps.login.xsa ? { login_hint: JSON.stringify({ origin: hint }) } : { idp: hint })),
    });
  }

  exchangeCode(a: {
    tenant?: string;
    code: string;
    redirectUri: string;
    codeVerifier: string;
  }): Promise<TokenSet> {
    // client_secret_post, as SAP's router; X.509: the certificate authenticates.
    return postToken(this.deps.tokenFetch, "token", xsuaaEndpoints(this.config, a.tenant).token, {
      grant_type: "authorization_code",
      code: a.code,
      redirect_uri: a.redirectUri,
      code_verifier: a.codeVerifier,
      client_id: this.config.clientId,
      client_secret: this.config.clientSecret,
    });
  }

  async refresh(refreshToken: string, tenant?: string): Promise<TokenSet> {
    // client_secret_basic, as SAP's router refreshes; X.509: client_id in the form.
    const secret = this.config.clientSecret;
    const tokens = await postToken(
      this.deps.tokenFetch,
      "refresh",
      xsuaaEndpoints(this.config, tenant).token,
      {
        grant_type: "refresh_token",
        refresh_token: refreshToken,
        ...(secret === undefined && { client_id: this.config.clientId }),
      },
      secret === undefined ? {} : { authorization: basic(this.config.clientId, secret) },
    );
    await this.verifyAccessToken(tokens.accessToken, "refresh");
    return tokens;
  }

  /**
   * An XSUAA access token: signature by the zone's keys, kid, RS256 family, times, issuer
   * host, audience rule.
   */
  private async verifyAccessToken(token: string, op: string): Promise<JWTPayload> {
    let zid: unknown;
    try {
      zid = decodeJwt(token).zid;
    } catch {
      throw new ProviderError("rejected", op, "access token is not a JWT");
    }
    const jwksUrl = xsuaaJwksUrl(this.config, typeof zid === "string" ? zid : undefined);
    const claims = await verifySignature(token, this.keys.get(jwksUrl), op, jwksUrl, this.deps.now());
    if (!xsuaaIssuerAccepted(claims.iss, this.config.uaadomain ?? new URL(this.config.url).hostname))
      throw new ProviderError("rejected", op, "issuer mismatch");
    if (!xsuaaAudienceAccepted(claims, this.config.clientId, this.config.xsappname))
      throw new ProviderError("rejected", op, "foreign audience");
    return claims;
  }

  async verifyLogin(tokens: TokenSet, a: { nonce: string; tenant?: string }): Promise<Identity> {
    const claims = await this.verifyAccessToken(tokens.accessToken, "login");
    let sid: string | undefined;
    if (tokens.idToken) {
      // Optional with XSUAA (no `openid` requested); verified when present, without a nonce.
      let zid: unknown;
      try {
        zid = decodeJwt(tokens.idToken).zid;
      } catch {
        throw new ProviderError("rejected", "login", "id token is not a JWT");
      }
      const jwksUrl = xsuaaJwksUrl(this.config, typeof zid === "string" ? zid : undefined);
      const id = await verifySignature(
        tokens.idToken,
        this.keys.get(jwksUrl),
        "login",
        jwksUrl,
        this.deps.now(),
      );
      if (!audienceContains(id.aud, this.config.clientId))
        throw new ProviderError("rejected", "login", "id token audience");
      if (id.sub !== claims.sub) throw new ProviderError("rejected", "login", "id token subject");
      if (typeof id.sid === "string") sid = id.sid;
    }
    if (typeof claims.sub !== "string" || typeof claims.iss !== "string")
      throw new ProviderError("rejected", "login", "no sub");
    const ext = claims.ext_attr as Record<string, unknown> | undefined;
    const zdn = typeof ext?.zdn === "string" && ext.zdn !== "" ? ext.zdn.toLowerCase() : undefined;
    const tenant = zdn ?? a.tenant;
    return {
      iss: claims.iss,
      sub: claims.sub,
      ...(sid && { sid }),
      ...(tenant && { tenant }),
      user: userOf(claims),
    };
  }

  async logoutUrl(a: { tenant?: string; postLogoutRedirectUri?: string }): Promise<string | null> {
    const { logout } = xsuaaEndpoints(this.config, a.tenant);
    // SAP: `…/logout.do?redirect=<logoutPage>&client_id=…`; without logoutPage the bare URL.
    if (a.postLogoutRedirectUri === undefined) return logout;
    return withQuery(logout, { redirect: a.postLogoutRedirectUri, client_id: this.config.clientId });
  }

  async userinfoUrl(tenant?: string): Promise<string> {
    return xsuaaEndpoints(this.config, tenant).userinfo;
  }

  /** XSUAA sends no back-channel logout (SAP's router serves it for IAS only). */
  acceptsIssuer(): boolean {
    return false;
  }

  async verifyLogoutToken(): Promise<JWTPayload> {
    throw new ProviderError("rejected", "backchannel", "not an IAS provider");
  }
}

const DISCOVERY_TTL_MS = 3600_000;

class OidcProvider implements IdentityProvider {
  readonly usesNonce = true;
  private readonly keys: KeyCache;
  private discovered?: { doc: Record<string, unknown> | undefined; at: number };
  /** Real IAS bindings carry `domains`; a generic OpenID provider is bound without them. */
  private readonly isIas: boolean;

  constructor(
    readonly config: IdentityProviderConfig,
    private readonly deps: ProviderDeps,
  ) {
    this.keys = new KeyCache(deps.fetch);
    this.isIas = config.domains.length > 0;
  }

  /**
   * The discovery document (cached per isolate); undefined when the provider has none
   * (404): IAS's fixed paths then.
   */
  private async endpoints(): Promise<Endpoints & { jwks: string }> {
    const now = this.deps.now();
    if (this.discovered && now - this.discovered.at < DISCOVERY_TTL_MS)
      return iasEndpoints(this.config, this.discovered.doc);
    const url = `${this.config.url}/.well-known/openid-configuration`;
    let response: Response;
    try {
      response = await this.deps.fetch(url, {
        headers: { accept: "application/json" },
        redirect: "manual",
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
    } catch (error) {
      const timeout =
        error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError");
      throw new ProviderError("unavailable", "discovery", timeout ? "timeout" : "refused", loggableUrl(url));
    }
    let doc: Record<string, unknown> | undefined;
    if (response.status === 404) {
      await response.body?.cancel();
    } else if (response.status !== 200) {
      await response.body?.cancel();
      throw new ProviderError("unavailable", "discovery", `HTTP ${response.status}`, loggableUrl(url));
    } else {
      try {
        doc = (await response.json()) as Record<string, unknown>;
      } catch {
        throw new ProviderError("unavailable", "discovery", "not JSON", loggableUrl(url));
      }
      if (
        typeof doc !== "object" ||
        doc === null ||
        !iasIssuerAccepted({ iss: doc.issuer }, this.config.domains, this.config.url)
      ) {
        throw new ProviderError("unavailable", "discovery", "issuer mismatch", loggableUrl(url));
      }
      for (const key of [
        "authorization_endpoint",
        "token_endpoint",
        "jwks_uri",
        "end_session_endpoint",
        "userinfo_endpoint",
      ]) {
        const value = doc[key];
        if (value !== undefined && (typeof value !== "string" || !isAllowedScheme(new URL(value)))) {
          throw new ProviderError("unavailable", "discovery", `bad ${key}`, loggableUrl(url));
        }
      }
    }
    this.discovered = { doc, at: now };
    return iasEndpoints(this.config, doc);
  }

  private get appTid(): string | undefined {
    return this.isIas ? this.config.appTid : undefined;
  }

  async authorizeUrl(a: AuthorizeArgs): Promise<string> {
    const { authorize } = await this.endpoints();
    return withQuery(authorize, {
      response_type: "code",
      client_id: this.config.clientId,
      redirect_uri: a.redirectUri,
      scope: this.config.scope ?? "openid",
      state: a.state,
      nonce: a.nonce,
      code_challenge: a.codeChallenge,
      code_challenge_method: "S256",
      app_tid: this.appTid,
      ...(a.identityProvider !== undefined && { idp: a.identityProvider }),
    });
  }

  private clientAuth(form: Record<string, string | undefined>): {
    form: Record<string, string | undefined>;
    headers: Record<string, string>;
  } {
    const secret = this.config.clientSecret;
    if (secret === undefined) return { form: { ...form, client_id: this.config.clientId }, headers: {} };
    // IAS gets the secret in the body and as Basic, as SAP's router sends it; a generic
    // OpenID provider accepts one method only (RFC 6749 2.3.1): Basic.
    const headers = { authorization: basic(this.config.clientId, secret) };
    return this.isIas
      ? { form: { ...form, client_id: this.config.clientId, client_secret: secret }, headers }
      : { form, headers };
  }

  async exchangeCode(a: { code: string; redirectUri: string; codeVerifier: string }): Promise<TokenSet> {
    const { token } = await this.endpoints();
    const { form, headers } = this.clientAuth({
      grant_type: "authorization_code",
      code: a.code,
      redirect_uri: a.redirectUri,
      code_verifier: a.codeVerifier,
      app_tid: this.appTid,
    });
    return postToken(this.deps.tokenFetch, "token", token, form, headers);
  }

  async refresh(refreshToken: string): Promise<TokenSet> {
    const { token } = await this.endpoints();
    const secret = this.config.clientSecret;
    return postToken(
      this.deps.tokenFetch,
      "refresh",
      token,
      {
        grant_type: "refresh_token",
        refresh_token: refreshToken,
        app_tid: this.appTid,
        ...(secret === undefined && { client_id: this.config.clientId }),
      },
      secret === undefined ? {} : { authorization: basic(this.config.clientId, secret) },
    );
  }

  private async verifyIdToken(token: string, op: string): Promise<JWTPayload> {
    const { jwks } = await this.endpoints();
    const claims = await verifySignature(token, this.keys.get(jwks), op, jwks, this.deps.now());
    const expected =
      typeof this.discovered?.doc?.issuer === "string"
        ? (this.discovered.doc.issuer as string)
        : this.config.url;
    if (!iasIssuerAccepted(claims, this.config.domains, expected))
      throw new ProviderError("rejected", op, "issuer mismatch");
    if (!audienceContains(claims.aud, this.config.clientId))
      throw new ProviderError("rejected", op, "foreign audience");
    return claims;
  }

  async verifyLogin(tokens: TokenSet, a: { nonce: string; tenant?: string }): Promise<Identity> {
    if (!tokens.idToken) throw new ProviderError("rejected", "login", "no id token");
    const claims = await this.verifyIdToken(tokens.idToken, "login");
    if (claims.nonce !== a.nonce) throw new ProviderError("rejected", "login", "nonce mismatch");
    if (typeof claims.sub !== "string" || typeof claims.iss !== "string")
      throw new ProviderError("rejected", "login", "no sub");
    return {
      iss: claims.iss,
      sub: claims.sub,
      ...(typeof claims.sid === "string" && { sid: claims.sid }),
      ...(a.tenant && { tenant: a.tenant }),
      user: userOf(claims),
    };
  }

  async logoutUrl(a: { postLogoutRedirectUri?: string; idToken?: string }): Promise<string | null> {
    let logout: string;
    try {
      ({ logout } = await this.endpoints());
    } catch {
      return null; // provider down: the router's own logout is done anyway
    }
    if (a.postLogoutRedirectUri === undefined) return logout;
    return withQuery(logout, {
      post_logout_redirect_uri: a.postLogoutRedirectUri,
      client_id: this.config.clientId,
      app_tid: this.appTid,
      // IAS as SAP: only with LOGOUT_WITH_TOKEN_HINT. A generic OpenID provider gets it always
      // (RP-initiated logout: without it the provider asks the user to confirm).
      ...((this.deps.login.logoutWithTokenHint || !this.isIas) && a.idToken && { id_token_hint: a.idToken }),
    });
  }

  async userinfoUrl(): Promise<string> {
    return (await this.endpoints()).userinfo;
  }

  acceptsIssuer(claims: Record<string, unknown>): boolean {
    const expected =
      typeof this.discovered?.doc?.issuer === "string"
        ? (this.discovered.doc.issuer as string)
        : this.config.url;
    return iasIssuerAccepted(claims, this.config.domains, expected);
  }

  async verifyLogoutToken(token: string): Promise<JWTPayload> {
    const claims = await this.verifyIdToken(token, "backchannel");
    const iat = typeof claims.iat === "number" ? claims.iat : NaN;
    if (!(Math.abs(this.deps.now() / 1000 - iat) <= 600))
      throw new ProviderError("rejected", "backchannel", "too old");
    if (typeof claims.jti !== "string" || claims.jti === "")
      throw new ProviderError("rejected", "backchannel", "no jti");
    return claims;
  }
}
