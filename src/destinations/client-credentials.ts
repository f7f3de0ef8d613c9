/**
 * A client-credentials token from a binding's XSUAA (client_secret_post, as SAP's xssec
 * sends it), shared by the SAP services the router calls (destination service, HTML5
 * application repository): cached until shortly before it expires, fetched once for
 * concurrent callers, dropped when the service rejects it. A failure is null, never a
 * thrown error or a logged secret.
 */
import * as oauth from "oauth4webapi";
import { isSecureOrLoopback } from "./service-binding.js";

export interface ClientCredentials {
  /** `<url>/oauth/token` of the binding's XSUAA. */
  tokenUrl: string;
  clientId: string;
  /** Never logged. */
  clientSecret: string;
}

export interface TokenDeps {
  fetch: typeof fetch;
  now: () => number;
  /** Per token request. Default 10 s. */
  timeoutMs?: number;
}

/**
 * A token is renewed this long before it expires at most (SAP: 5 minutes), or at half its
 * lifetime if shorter.
 */
const TOKEN_RENEW_MARGIN_MS = 300_000;
/** XSUAA always sends expires_in; without one the token is trusted this long. */
const DEFAULT_TOKEN_LIFETIME_S = 300;

export class ClientCredentialsToken {
  private token?: { value: string; renewAt: number };
  private pending?: Promise<string | null>;
  private readonly as: oauth.AuthorizationServer;
  /** Token requests made, for tests and the status endpoint. */
  requests = 0;

  constructor(
    private readonly credentials: ClientCredentials,
    private readonly deps: TokenDeps,
  ) {
    this.as = { issuer: credentials.tokenUrl, token_endpoint: credentials.tokenUrl };
  }

  /** The cached token, or a new one (one request for concurrent callers); null when XSUAA fails. */
  get(): Promise<string | null> {
    if (this.token && this.deps.now() < this.token.renewAt) return Promise.resolve(this.token.value);
    this.pending ??= this.fetchToken().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  /** The service rejected `value` (revoked, expired early): the next `get` fetches a new one. */
  reject(value: string): void {
    if (this.token?.value === value) this.token = undefined;
  }

  private async fetchToken(): Promise<string | null> {
    const { tokenUrl, clientId, clientSecret } = this.credentials;
    const client: oauth.Client = { client_id: clientId };
    const options = {
      [oauth.customFetch]: this.deps.fetch,
      [oauth.allowInsecureRequests]: tokenUrl.startsWith("http:") && isSecureOrLoopback(tokenUrl),
      signal: AbortSignal.timeout(this.deps.timeoutMs ?? 10_000),
    };
    try {
      this.requests++;
      const started = this.deps.now();
      const response = await oauth.clientCredentialsGrantRequest(
        this.as,
        client,
        oauth.ClientSecretPost(clientSecret),
        {},
        options,
      );
      const result = await oauth.processClientCredentialsResponse(this.as, client, response);
      const lifetimeMs = (result.expires_in ?? DEFAULT_TOKEN_LIFETIME_S) * 1000;
      this.token = {
        value: result.access_token,
        renewAt: started + lifetimeMs - Math.min(TOKEN_RENEW_MARGIN_MS, lifetimeMs / 2),
      };
      return result.access_token;
    } catch {
      return null;
    }
  }
}
