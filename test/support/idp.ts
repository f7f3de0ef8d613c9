// Test-side handle on a real OpenID Provider (test/support/idp/server.mjs, oidc-provider 9
// under Node 22) running on loopback. Node 20 side: spawns the Node 22 child, owns its
// signing key (so tests can sign logout tokens and forge ID tokens), reads its counters.
import { randomBytes, randomUUID } from "node:crypto";
import { SignJWT, type JWK } from "jose";
import { generateSigningKey, spawnIdpServer } from "./idp/launch.mjs";

export const BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout";

export interface IdpUser {
  id: string;
  login: string;
  password: string;
  claims: {
    email?: string;
    name?: string;
    given_name?: string;
    family_name?: string;
    [claim: string]: unknown;
  };
}

/** Client metadata as oidc-provider takes it (snake_case, as registered at the IdP). */
export interface IdpClient {
  client_id: string;
  client_secret: string;
  redirect_uris: string[];
  post_logout_redirect_uris?: string[];
  backchannel_logout_uri?: string;
  /** Default true when backchannel_logout_uri is set. */
  backchannel_logout_session_required?: boolean;
  /** Default "client_secret_basic". */
  token_endpoint_auth_method?: "client_secret_basic" | "client_secret_post";
  /** Default ["authorization_code", "refresh_token"]. */
  grant_types?: string[];
}

export interface StartIdpOptions {
  /** 127.0.0.2 (default: the redirect back to a router on 127.0.0.1 is cross-site) or 127.0.0.1. */
  host?: "127.0.0.2" | "127.0.0.1";
  /** 0 (default) = a free port. */
  port?: number;
  /** Mount the provider under a path, e.g. "/oidc" -> issuer http://127.0.0.2:PORT/oidc. Default "". */
  issuerPath?: string;
  /** The router's client. Default "approuter". */
  clientId?: string;
  /** Default: random. */
  clientSecret?: string;
  redirectUris: string[];
  postLogoutRedirectUris?: string[];
  backchannelLogoutUri?: string;
  backchannelLogoutSessionRequired?: boolean;
  tokenEndpointAuthMethod?: "client_secret_basic" | "client_secret_post";
  /** More clients beside the router's. */
  extraClients?: IdpClient[];
  /** Default DEFAULT_USERS (alice, bob). */
  users?: IdpUser[];
  /** Access (and ID) token lifetime in seconds. Default 300. */
  accessTokenTtl?: number;
  /** Refresh token (and grant) lifetime in seconds. Default 86400. */
  refreshTokenTtl?: number;
  /** Copy the IdP's stderr (oidc-provider warnings) to this process's stderr. Default: env IDP_DEBUG. */
  debug?: boolean;
}

export interface IdpCounters {
  /** Every POST to the token endpoint, including the ones answered 503 by down-503 mode. */
  tokenRequests: number;
  authorizationCodeGrants: number;
  refreshGrants: number;
  failedAuthorizationCodeGrants: number;
  failedRefreshGrants: number;
  logins: number;
  failedLogins: number;
  endSessions: number;
  backchannelLogouts: number;
  failedBackchannelLogouts: number;
}

export type IdpMode = "up" | "down-503" | "slow";

export interface LogoutTokenOptions {
  sid?: string;
  sub?: string;
  /** Default: the router's client id. */
  aud?: string | string[];
  /** Default: the issuer. */
  iss?: string;
  /** Leave out the back-channel logout `events` claim (invalid token). */
  omitEvents?: boolean;
  /** Add a `nonce` claim (forbidden in logout tokens). */
  nonce?: string;
  /** Default: random. */
  jti?: string;
  /** Seconds since epoch. Default: now. */
  iat?: number;
  /** Seconds since epoch. Default: iat + 120 (as oidc-provider). `null` leaves it out. */
  exp?: number | null;
  /** JOSE `typ` header. Default "logout+jwt". */
  typ?: string;
  /** "idp" (default) signs with the IdP's key; "foreign" with a key the IdP does not publish (same kid). */
  key?: "idp" | "foreign";
  extraClaims?: Record<string, unknown>;
}

export interface SignIdTokenOptions {
  /** "idp" (default) signs with the IdP's key; "foreign" with a key the IdP does not publish (same kid). */
  key?: "idp" | "foreign";
  /** Override the header's kid. */
  kid?: string;
  typ?: string;
}

export interface Idp {
  issuer: string;
  /** The origin of the issuer (the /__test/ routes live there). */
  origin: string;
  clientId: string;
  clientSecret: string;
  users: IdpUser[];
  /** The IdP's signing keys, private (what the IdP was given). */
  jwks: { keys: JWK[] };
  /** The same keys, public (what the IdP publishes at jwks_uri). */
  publicJwks: { keys: JWK[] };
  counters(): Promise<IdpCounters>;
  /** Recent IdP events (grants, errors, logins, logouts) for debugging a failed test. */
  events(): Promise<Array<Record<string, unknown>>>;
  /** Token endpoint behaviour: "up", "down-503" (every token request answers 503), "slow" (delay ms, default 2000). */
  setMode(mode: IdpMode, ms?: number): Promise<void>;
  /** Counters to zero, mode "up", events cleared (sessions and tokens stay). */
  reset(): Promise<void>;
  /** Make the IdP itself POST a logout token to the client's registered backchannel_logout_uri. */
  sendBackchannelLogout(args: {
    sub: string;
    sid?: string;
    clientId?: string;
  }): Promise<{ ok: boolean; error?: string }>;
  signLogoutToken(options?: LogoutTokenOptions): Promise<string>;
  /** An ID token with exactly these claims (add iss/aud/exp yourself), RS256, kid of the IdP key. */
  signIdToken(claims: Record<string, unknown>, options?: SignIdTokenOptions): Promise<string>;
  /** Last lines the IdP wrote to stderr. */
  stderr(): string;
  stop(): Promise<void>;
}

export const DEFAULT_USERS: IdpUser[] = [
  {
    id: "user-alice",
    login: "alice",
    password: "alice-password",
    claims: {
      email: "alice@example.test",
      name: "Alice Example",
      given_name: "Alice",
      family_name: "Example",
    },
  },
  {
    id: "user-bob",
    login: "bob",
    password: "bob-password",
    claims: { email: "bob@example.test", name: "Bob Example", given_name: "Bob", family_name: "Example" },
  },
];

export { IDP_SERVER_PATH, node22Path, spawnIdpServer } from "./idp/launch.mjs";

async function rsaKey(kid: string) {
  const k = await generateSigningKey(kid);
  return { privateKey: k.privateKey, priv: k.privateJwk, pub: k.publicJwk };
}

export async function startIdp(options: StartIdpOptions): Promise<Idp> {
  const kid = `idp-${randomUUID().slice(0, 8)}`;
  const signing = await rsaKey(kid);
  let foreign: Awaited<ReturnType<typeof rsaKey>> | undefined;
  const clientId = options.clientId ?? "approuter";
  const clientSecret = options.clientSecret ?? randomBytes(32).toString("base64url");
  const users = options.users ?? DEFAULT_USERS;
  const routerClient: IdpClient = {
    client_id: clientId,
    client_secret: clientSecret,
    redirect_uris: options.redirectUris,
    post_logout_redirect_uris: options.postLogoutRedirectUris ?? [],
    ...(options.backchannelLogoutUri
      ? {
          backchannel_logout_uri: options.backchannelLogoutUri,
          backchannel_logout_session_required: options.backchannelLogoutSessionRequired ?? true,
        }
      : {}),
    ...(options.tokenEndpointAuthMethod
      ? { token_endpoint_auth_method: options.tokenEndpointAuthMethod }
      : {}),
  };
  const proc = await spawnIdpServer(
    {
      host: options.host ?? "127.0.0.2",
      port: options.port ?? 0,
      issuerPath: options.issuerPath ?? "",
      clients: [routerClient, ...(options.extraClients ?? [])],
      jwks: { keys: [signing.priv] },
      accessTokenTtl: options.accessTokenTtl ?? 300,
      ...(options.refreshTokenTtl ? { refreshTokenTtl: options.refreshTokenTtl } : {}),
      users,
    },
    { debug: options.debug },
  );
  const issuer = proc.issuer;
  const origin = new URL(issuer).origin;

  const control = async (method: "GET" | "POST", path: string, body?: unknown) => {
    const res = await fetch(`${origin}/__test/${path}`, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok && path !== "backchannel-logout")
      throw new Error(`IdP /__test/${path}: ${res.status} ${text}`);
    return JSON.parse(text) as unknown;
  };
  const keyFor = async (which: "idp" | "foreign" | undefined) => {
    if (which === "foreign") return (foreign ??= await rsaKey(kid)).privateKey;
    return signing.privateKey;
  };

  return {
    issuer,
    origin,
    clientId,
    clientSecret,
    users,
    jwks: { keys: [signing.priv] },
    publicJwks: { keys: [signing.pub] },
    counters: async () => (await control("GET", "counters")) as IdpCounters,
    events: async () => (await control("GET", "events")) as Array<Record<string, unknown>>,
    async setMode(mode, ms) {
      await control("POST", "mode", ms === undefined ? { mode } : { mode, ms });
    },
    async reset() {
      await control("POST", "reset", {});
    },
    sendBackchannelLogout: async ({ sub, sid, clientId: cid }) =>
      (await control("POST", "backchannel-logout", { client_id: cid ?? clientId, sub, sid })) as {
        ok: boolean;
        error?: string;
      },
    async signLogoutToken(o = {}) {
      const iat = o.iat ?? Math.floor(Date.now() / 1000);
      const payload: Record<string, unknown> = {
        iss: o.iss ?? issuer,
        aud: o.aud ?? clientId,
        iat,
        jti: o.jti ?? randomUUID(),
        ...(o.exp === null ? {} : { exp: o.exp ?? iat + 120 }),
        ...(o.sub === undefined ? {} : { sub: o.sub }),
        ...(o.sid === undefined ? {} : { sid: o.sid }),
        ...(o.omitEvents ? {} : { events: { [BACKCHANNEL_LOGOUT_EVENT]: {} } }),
        ...(o.nonce === undefined ? {} : { nonce: o.nonce }),
        ...o.extraClaims,
      };
      return new SignJWT(payload)
        .setProtectedHeader({ alg: "RS256", kid, typ: o.typ ?? "logout+jwt" })
        .sign(await keyFor(o.key));
    },
    async signIdToken(claims, o = {}) {
      return new SignJWT(claims)
        .setProtectedHeader({ alg: "RS256", kid: o.kid ?? kid, ...(o.typ ? { typ: o.typ } : {}) })
        .sign(await keyFor(o.key));
    },
    stderr: proc.stderr,
    stop: proc.stop,
  };
}

export interface VcapOptions {
  label: "xsuaa" | "identity";
  /** Instance name. Default "uaa" (xsuaa) or "ias" (identity). */
  name?: string;
  xsappname?: string;
}

/** A VCAP_SERVICES JSON string binding the router to this IdP: credentials { url: issuer, clientid, clientsecret, xsappname? }. */
export function vcapServicesFor(
  idp: Pick<Idp, "issuer" | "clientId" | "clientSecret">,
  options: VcapOptions,
): string {
  const name = options.name ?? (options.label === "xsuaa" ? "uaa" : "ias");
  return JSON.stringify({
    [options.label]: [
      {
        label: options.label,
        name,
        instance_name: name,
        plan: "application",
        tags: options.label === "xsuaa" ? ["xsuaa"] : ["ias"],
        credentials: {
          url: idp.issuer,
          clientid: idp.clientId,
          clientsecret: idp.clientSecret,
          ...(options.xsappname === undefined ? {} : { xsappname: options.xsappname }),
        },
      },
    ],
  });
}

/** The provider bound as SAP binds IAS (label `identity`; a generic OpenID provider is bound so). */
export function identityBinding(
  idp: Pick<Idp, "issuer" | "clientId" | "clientSecret">,
  name = "oidc",
  credentials: Record<string, unknown> = {},
): { name: string; label: "identity"; credentials: Record<string, unknown> } {
  return {
    name,
    label: "identity",
    credentials: { url: idp.issuer, clientid: idp.clientId, clientsecret: idp.clientSecret, ...credentials },
  };
}
