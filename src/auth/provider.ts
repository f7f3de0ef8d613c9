import { createRemoteJWKSet, customFetch as joseCustomFetch, type JWTVerifyGetKey } from "jose";
import * as oauth from "oauth4webapi";
import type { IdentityProviderConfig } from "../config/types.js";

/**
 * One identity provider as this isolate knows it: its discovery document and JWKS,
 * fetched once and cached per isolate, and the options every oauth4webapi call needs.
 * Plain `http:` issuers are accepted on loopback only (local development and tests).
 */
export class IdentityProviderUnavailable extends Error {
  readonly code = "ERR_IDP_UNAVAILABLE";
}

const DISCOVERY_TTL_MS = 3600_000;

export class IdentityProvider {
  private metadata?: { as: oauth.AuthorizationServer; at: number };
  private jwks?: JWTVerifyGetKey;

  constructor(
    readonly config: IdentityProviderConfig,
    private readonly fetch: typeof globalThis.fetch,
    private readonly now: () => number,
  ) {}

  get client(): oauth.Client {
    return { client_id: this.config.clientId };
  }

  get clientAuth(): oauth.ClientAuth {
    return oauth.ClientSecretBasic(this.config.clientSecret);
  }

  /** Options for oauth4webapi requests. */
  get requestOptions(): { [oauth.customFetch]: typeof fetch; [oauth.allowInsecureRequests]: boolean; signal: AbortSignal } {
    return {
      [oauth.customFetch]: this.fetch,
      [oauth.allowInsecureRequests]: isLoopbackHttp(this.config.issuer),
      signal: AbortSignal.timeout(10_000),
    };
  }

  async authorizationServer(): Promise<oauth.AuthorizationServer> {
    if (this.metadata && this.now() - this.metadata.at < DISCOVERY_TTL_MS) return this.metadata.as;
    const issuer = new URL(this.config.issuer);
    try {
      const response = await oauth.discoveryRequest(issuer, { ...this.requestOptions, algorithm: "oidc" });
      const as = await oauth.processDiscoveryResponse(issuer, response);
      this.metadata = { as, at: this.now() };
      return as;
    } catch {
      throw new IdentityProviderUnavailable("discovery failed");
    }
  }

  /** The provider's signing keys (jose caches and refreshes them on unknown `kid`). */
  async keys(): Promise<JWTVerifyGetKey> {
    if (!this.jwks) {
      const as = await this.authorizationServer();
      if (!as.jwks_uri) throw new IdentityProviderUnavailable("no jwks_uri");
      const fetchImpl = this.fetch;
      this.jwks = createRemoteJWKSet(new URL(as.jwks_uri), {
        [joseCustomFetch]: (url, options) => fetchImpl(url, options as RequestInit),
        timeoutDuration: 10_000,
      });
    }
    return this.jwks;
  }
}

function isLoopbackHttp(url: string): boolean {
  const { protocol, hostname } = new URL(url);
  return protocol === "http:" && (hostname === "localhost" || hostname === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(hostname));
}
