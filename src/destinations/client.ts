/**
 * The destination service's REST API as the router uses it: a client-credentials token from
 * the binding's XSUAA (client-credentials.ts); then "find destination" by
 * name (`GET <uri>/destination-configuration/v1/destinations/<name>`: the service instance
 * level first, then the subaccount level), with the user's token as `X-user-token` for the
 * kinds that exchange it. Expected failures are values; nothing here logs or throws a secret.
 */
import type { DestinationServiceBinding } from "../config/types.js";
import { ClientCredentialsToken } from "./client-credentials.js";

export type FindResult =
  | { kind: "found"; answer: unknown }
  | { kind: "missing" }
  /** `reason` is a fixed word (never a message from the service); `status` when it answered. */
  | {
      kind: "unavailable";
      reason: "token" | "unreachable" | "timeout" | "unauthorized" | "status" | "invalid-json";
      status?: number;
    };

export interface ClientDeps {
  fetch: typeof fetch;
  now: () => number;
  /** Per call to the service or its XSUAA. Default 10 s. */
  timeoutMs?: number;
}

/** A destination answer is a few KiB; anything far larger is not one. */
const MAX_ANSWER_BYTES = 1 << 20;

export class DestinationServiceClient {
  private readonly token: ClientCredentialsToken;
  private readonly timeoutMs: number;
  private finds = 0;

  constructor(
    private readonly binding: DestinationServiceBinding,
    private readonly deps: ClientDeps,
  ) {
    this.timeoutMs = deps.timeoutMs ?? 10_000;
    this.token = new ClientCredentialsToken(binding, { ...deps, timeoutMs: this.timeoutMs });
  }

  /** Calls made, for the status endpoint and tests. */
  get calls(): { token: number; find: number } {
    return { token: this.token.requests, find: this.finds };
  }

  /** Finds a destination by name; `userToken` is sent as `X-user-token`. */
  async find(name: string, userToken?: string): Promise<FindResult> {
    for (let attempt = 0; attempt < 2; attempt++) {
      const token = await this.token.get();
      if (token === null) return { kind: "unavailable", reason: "token" };
      const headers: Record<string, string> = {
        authorization: `Bearer ${token}`,
        accept: "application/json",
      };
      if (userToken !== undefined) headers["x-user-token"] = userToken;
      let response: Response;
      try {
        this.finds++;
        const fetchImpl = this.deps.fetch;
        response = await fetchImpl(
          `${this.binding.uri}/destination-configuration/v1/destinations/${encodeURIComponent(name)}`,
          {
            headers,
            signal: AbortSignal.timeout(this.timeoutMs),
          },
        );
      } catch (error) {
        return { kind: "unavailable", reason: isTimeout(error) ? "timeout" : "unreachable" };
      }
      if (response.status === 401 && attempt === 0) {
        // Revoked or expired early: one new token, one more try.
        await response.body?.cancel();
        this.token.reject(token);
        continue;
      }
      if (response.status === 404) {
        await response.body?.cancel();
        return { kind: "missing" };
      }
      if (response.status !== 200) {
        await response.body?.cancel();
        return {
          kind: "unavailable",
          reason: response.status === 401 ? "unauthorized" : "status",
          status: response.status,
        };
      }
      try {
        const text = await response.text();
        if (text.length > MAX_ANSWER_BYTES)
          return { kind: "unavailable", reason: "invalid-json", status: 200 };
        return { kind: "found", answer: JSON.parse(text) as unknown };
      } catch (error) {
        return { kind: "unavailable", reason: isTimeout(error) ? "timeout" : "invalid-json", status: 200 };
      }
    }
    return { kind: "unavailable", reason: "unauthorized", status: 401 };
  }
}

function isTimeout(error: unknown): boolean {
  return error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError");
}
