/**
 * What a logged-in session holds (`record.data.auth`). Tokens live only here, inside
 * the sealed session; they are never logged.
 */
export interface AuthData {
  /** The binding label of the provider that logged the user in. */
  idp: "xsuaa" | "identity";
  iss: string;
  sub: string;
  /** The provider's session id (ID token `sid`), for back-channel logout. */
  sid?: string;
  /** The tenant subdomain the session belongs to (XSUAA `ext_attr.zdn`, else the login host's tenant). */
  tenant?: string;
  /** Absent when the provider sent none (XSUAA without `openid`). */
  idToken?: string;
  accessToken: string;
  refreshToken?: string;
  /** Access token expiry, ms since the epoch. */
  expiresAt: number;
  /** The access token's lifetime as issued (`expires_in`), ms. */
  lifetimeMs: number;
  /** Granted scopes (token response `scope`). */
  scopes: string[];
  user: Record<string, string>;
}

export function authOf(data: Record<string, unknown> | undefined): AuthData | undefined {
  const auth = data?.auth as AuthData | undefined;
  return auth && typeof auth.accessToken === "string" && typeof auth.sub === "string" ? auth : undefined;
}

/** Index entries a logged-in session is filed under, for back-channel logout. */
export function indexesOf(data: Record<string, unknown> | undefined): string[] {
  const auth = authOf(data);
  if (!auth) return [];
  return [`sub\0${auth.iss}\0${auth.sub}`, ...(auth.sid ? [`sid\0${auth.iss}\0${auth.sid}`] : [])];
}
