/**
 * The destination service's REST API as the router uses it: a client-credentials token from
 * the binding's XSUAA (client_secret_post, as SAP's xssec sends it), cached until shortly
 * before it expires and fetched once for concurrent callers; then "find destination" by
 * name (`GET <uri>/destination-configuration/v1/destinations/<name>`: the service instance
 * level first, then the subaccount level), with the user's token as `X-user-token` for the
 * kinds that exchange it. Expected failures are values; nothing here logs or throws a secret.
 */
import * as oauth from "oauth4webapi";
import type { DestinationServiceBinding } from "../config/types.js";
import { isSecureOrLoopback } from "./service-binding.js";

export type FindResult =
  | { kind: "found"; answer: unknown }
  | { kind: "missing" }
  /** `reason` is a fixed word (never a message from the service); `status` when it answered. */
  | { kind: "unavailable"; reason: "token" | "unreachable" | "timeout" | "unauthorized" | "status" | "invalid-json"; status?: number };

export interface ClientDeps {
  fetch: typeof fetch;
  now: () => number;
  /** Per call to the service or its XSUAA. Default 10 s. */
  timeoutMs?: number;
}

/** A token is renewed this long before it expires at most (SAP: 5 minutes), or at half its lifetime if shorter. */
const TOKEN_RENEW_MARGIN_MS = 300_000;
/** XSUAA always sends expires_in; without one the token is trusted this long. */
const DEFAULT_TOKEN_LIFETIME_S = 300;
/** A destination answer is a few KiB; anything far larger is not one. */
const MAX_ANSWER_BYTES = 1 << 20;

export class DestinationServiceClient {
  private token?: { value: string; renewAt: number };
  private pendingToken?: Promise<string | null>;
  private readonly as: oauth.AuthorizationServer;
  private readonly timeoutMs: number;
  /** Calls made, for the status endpoint and tests. */
  readonly calls = { token: 0, find: 0 };

  constructor(
    private readonly binding: DestinationServiceBinding,
    private readonly deps: ClientDeps,
  ) {
    this.as = { issuer: binding.tokenUrl, token_endpoint: binding.tokenUrl };
    this.timeoutMs = deps.timeoutMs ?? 10_000;
  }

  /** Finds a destination by name; `userToken` is sent as `X-user-token`. */
  async find(name: string, userToken?: string): Promise<FindResult> {
    for (let attempt = 0; attempt < 2; attempt++) {
      const token = await this.accessToken();
      if (token === null) return { kind: "unavailable", reason: "token" };
      const headers: Record<string, string> = { authorization: `Bearer ${token}`, accept: "application/json" };
      if (userToken !== undefined) headers["x-user-token"] = userToken;
      let response: Response;
      try {
        this.calls.find++;
        const fetchImpl = this.deps.fetch;
        response = await fetchImpl(`${this.binding.uri}/destination-configuration/v1/destinations/${encodeURIComponent(name)}`, {
          headers,
          signal: AbortSignal.timeout(this.timeoutMs),
        });
      } catch (error) {
        return { kind: "unavailable", reason: isTimeout(error) ? "timeout" : "unreachable" };
      }
      if (response.status === 401 && attempt === 0) {
        // Revoked or expired early: one new token, one more try.
        await response.body?.cancel();
        if (this.token?.value === token) this.token = undefined;
        continue;
      }
      if (response.status === 404) {
        await response.body?.cancel();
        return { kind: "missing" };
      }
      if (response.status !== 200) {
        await response.body?.cancel();
        return { kind: "unavailable", reason: response.status === 401 ? "unauthorized" : "status", status: response.status };
      }
      try {
        const text = await response.text();
        if (text.length > MAX_ANSWER_BYTES) return { kind: "unavailable", reason: "invalid-json", status: 200 };
        return { kind: "found", answer: JSON.parse(text) as unknown };
      } catch (error) {
        return { kind: "unavailable", reason: isTimeout(error) ? "timeout" : "invalid-json", status: 200 };
      }
    }
    return { kind: "unavailable", reason: "unauthorized", status: 401 };
  }

  /** The cached client-credentials token, or a new one (one request for concurrent callers); null when XSUAA fails. */
  private accessToken(): Promise<string | null> {
    if (this.token && this.deps.now() < this.token.renewAt) return Promise.resolve(this.token.value);
    this.pendingToken ??= this.fetchToken().finally(() => {
      this.pendingToken = undefined;
    });
    return this.pendingToken;
  }

  private async fetchToken(): Promise<string | null> {
    const client: oauth.Client = { client_id: this.binding.clientId };
    const options = {
      [oauth.customFetch]: this.deps.fetch,
      [oauth.allowInsecureRequests]: this.binding.tokenUrl.startsWith("http:") && isSecureOrLoopback(this.binding.tokenUrl),
      signal: AbortSignal.timeout(this.timeoutMs),
    };
    try {
      this.calls.token++;
      const started = this.deps.now();
      const response = await oauth.clientCredentialsGrantRequest(this.as, client, oauth.ClientSecretPost(this.binding.clientSecret), {}, options);
      const result = await oauth.processClientCredentialsResponse(this.as, client, response);
      const lifetimeMs = (result.expires_in ?? DEFAULT_TOKEN_LIFETIME_S) * 1000;
      this.token = { value: result.access_token, renewAt: started + lifetimeMs - Math.min(TOKEN_RENEW_MARGIN_MS, lifetimeMs / 2) };
      return result.access_token;
    } catch {
      return null;
    }
  }
}

function isTimeout(error: unknown): boolean {
  return error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError");
}
