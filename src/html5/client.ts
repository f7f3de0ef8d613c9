/**
 * The HTML5 application repository's runtime API as SAP's router calls it
 * (lib/utils/dynamic-routing-utils.js, path-rewriter.js, backend-request/headers.js):
 * - an app's routing: `GET <uri>/<appName>[-<version>]/xs-app.json` with
 *   `Accept: application/json;charset=utf-8`; 200 is the descriptor, 503 means there is no
 *   such app (SAP then routes with the central xs-app.json), 404 an app without xs-app.json,
 *   400/403 a refused request;
 * - an app's files: `GET <uri>/<appName>[-<version>]/<path>`;
 * both with the binding's client-credentials token as `Authorization: Bearer`, and for a
 * business service's apps its `x-app-host-id`. A 401 drops
 * the token and the call is made once more with a new one (SAP drops it for the next request).
 * Files are streamed; only GET and HEAD reach the repository, with the request headers a
 * static file server needs (conditional requests, ranges, encodings), never the browser's
 * cookies or Authorization. Expected failures are values; nothing here logs a secret.
 */
import type { Html5RepoBinding } from "../config/types.js";
import { ClientCredentialsToken } from "../destinations/client-credentials.js";
import { HOP_BY_HOP_HEADERS } from "../http/hop-by-hop.js";

export type Failure = {
  kind: "unavailable";
  reason: "token" | "unreachable" | "timeout" | "unauthorized" | "status";
  status?: number;
};

export type XsAppResult =
  | { kind: "found"; text: string }
  | { kind: "not-found" }
  | { kind: "no-xs-app" }
  | { kind: "refused"; status: number }
  | Failure;

export type FileResult = { kind: "response"; response: Response } | Failure;

export interface Html5ClientDeps {
  fetch: typeof fetch;
  now: () => number;
  /** Until the response head arrives, per call. Default 30 s (SAP's service timeout). */
  timeoutMs?: number;
}

/** Names the business service whose apps are meant (SAP: `html5-apps-repo.app_host_id` of its binding). */
const APP_HOST_ID_HEADER = "x-app-host-id";
/** An xs-app.json is a few KiB; anything far larger is not one. */
const MAX_XS_APP_BYTES = 1 << 20;
const PASSED_HEADERS = [
  "accept",
  "accept-encoding",
  "accept-language",
  "if-match",
  "if-none-match",
  "if-modified-since",
  "if-unmodified-since",
  "if-range",
  "range",
];
const DROPPED_RESPONSE_HEADERS = new Set([...HOP_BY_HOP_HEADERS, "set-cookie"]);
const NULL_BODY_STATUSES = new Set([204, 205, 304]);

export class Html5RepoClient {
  private readonly token: ClientCredentialsToken;
  private readonly timeoutMs: number;
  private counts = { xsApp: 0, file: 0 };

  constructor(
    private readonly binding: Html5RepoBinding,
    private readonly deps: Html5ClientDeps,
  ) {
    this.timeoutMs = deps.timeoutMs ?? 30_000;
    this.token = new ClientCredentialsToken(binding, { fetch: deps.fetch, now: deps.now });
  }

  /** Calls made, for tests and logs. */
  get calls(): { token: number; xsApp: number; file: number } {
    return { token: this.token.requests, ...this.counts };
  }

  /** The app's xs-app.json (text, not parsed). */
  async xsApp(appKeyWithoutPrefix: string, appHostId?: string): Promise<XsAppResult> {
    this.counts.xsApp++;
    const headers = new Headers({ accept: "application/json;charset=utf-8" });
    if (appHostId !== undefined) headers.set(APP_HOST_ID_HEADER, appHostId);
    const answer = await this.call("GET", `${this.binding.uri}/${appKeyWithoutPrefix}/xs-app.json`, headers);
    if (answer.kind !== "response") return answer;
    const { response } = answer;
    if (response.status !== 200) {
      await response.body?.cancel();
      if (response.status === 503) return { kind: "not-found" };
      if (response.status === 404) return { kind: "no-xs-app" };
      if (response.status === 400 || response.status === 403)
        return { kind: "refused", status: response.status };
      return { kind: "unavailable", reason: "status", status: response.status };
    }
    try {
      const text = await response.text();
      return text.length > MAX_XS_APP_BYTES ? { kind: "refused", status: 200 } : { kind: "found", text };
    } catch {
      return { kind: "unavailable", reason: "unreachable", status: 200 };
    }
  }

  /** A file: `path` (with query) starts with `/` and is appended to the runtime API base. */
  async file(path: string, incoming: Request, appHostId?: string): Promise<FileResult> {
    this.counts.file++;
    const headers = new Headers();
    if (appHostId !== undefined) headers.set(APP_HOST_ID_HEADER, appHostId);
    for (const name of PASSED_HEADERS) {
      const value = incoming.headers.get(name);
      if (value !== null) headers.set(name, value);
    }
    const answer = await this.call(
      incoming.method.toUpperCase() === "HEAD" ? "HEAD" : "GET",
      `${this.binding.uri}${path}`,
      headers,
    );
    if (answer.kind !== "response") return answer;
    const upstream = answer.response;
    const responseHeaders = new Headers();
    for (const [name, value] of upstream.headers)
      if (!DROPPED_RESPONSE_HEADERS.has(name)) responseHeaders.append(name, value);
    const body = NULL_BODY_STATUSES.has(upstream.status) ? null : upstream.body;
    return {
      kind: "response",
      response: new Response(body, { status: upstream.status, headers: responseHeaders }),
    };
  }

  /** One call with the token; on 401 one more with a new token. The timeout covers the response head only. */
  private async call(
    method: "GET" | "HEAD",
    url: string,
    headers: Headers,
  ): Promise<{ kind: "response"; response: Response } | Failure> {
    for (let attempt = 0; attempt < 2; attempt++) {
      const token = await this.token.get();
      if (token === null) return { kind: "unavailable", reason: "token" };
      headers.set("authorization", `Bearer ${token}`);
      const controller = new AbortController();
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        controller.abort();
      }, this.timeoutMs);
      let response: Response;
      try {
        const fetchImpl = this.deps.fetch; // called unbound: workerd's fetch rejects a foreign `this`
        response = await fetchImpl(url, { method, headers, redirect: "manual", signal: controller.signal });
      } catch {
        return { kind: "unavailable", reason: timedOut ? "timeout" : "unreachable" };
      } finally {
        clearTimeout(timer);
      }
      if (response.status !== 401) return { kind: "response", response };
      await response.body?.cancel();
      this.token.reject(token);
    }
    return { kind: "unavailable", reason: "unauthorized", status: 401 };
  }
}
