/**
 * A destination-service answer ("find destination": `{ owner, destinationConfiguration,
 * authTokens }`) turned into the router's `Destination`, the way SAP's router reads it
 * (lib/utils/destination-normalization.js, lib/backend-request/headers.js):
 * - `URL`; `ProxyType` `Internet` (OnPremise and PrivateLink cannot be reached from the edge);
 * - `Authentication`: the service's `authTokens[0]` becomes the header it names (Basic from
 *   `User`/`Password` when the service sent none); `forwardAuthToken` only with
 *   `NoAuthentication` (SAP refuses the mix);
 * - `sap-client` → header `sap-client`; `URL.headers.<name>` → header unless the client sent
 *   it (SAP); `URL.queries.<name>` → query parameter unless the request has it;
 * - `HTML5.Timeout` / `timeout` (ms), `HTML5.SetXForwardedHeaders`, `HTML5.ForwardAuthToken`
 *   / `forwardAuthToken`, `HTML5.PreserveHostHeader` (a Worker cannot set Host: reported);
 * - `HTML5.DynamicDestination` (allowsDynamicUse: may a dynamic route reach it).
 * Pure: no I/O, no clock. Refusals carry a stable code and a reason safe to log (property
 * names, never values).
 */
import * as v from "valibot";
import type { Destination, HeaderEntry } from "../config/types.js";
import { HOP_BY_HOP_HEADERS } from "../http/hop-by-hop.js";

/** Authentication kinds whose token the service derives from the user's (sent as X-user-token). */
export const USER_TOKEN_KINDS: ReadonlySet<string> = new Set(["OAuth2UserTokenExchange", "OAuth2JWTBearer"]);
const SUPPORTED_KINDS: ReadonlySet<string> = new Set([
  "NoAuthentication",
  "BasicAuthentication",
  "OAuth2ClientCredentials",
  ...USER_TOKEN_KINDS,
]);

export type RefusalCode =
  | "DESTINATION_ON_PREMISE_NOT_SUPPORTED"
  | "DESTINATION_NOT_SUPPORTED"
  | "DESTINATION_INVALID"
  | "DESTINATION_AUTH_FAILED"
  | "DESTINATION_NEEDS_USER";

export type Resolution =
  | {
      ok: true;
      destination: Destination;
      /** The headers carry a token derived from this user's token: cache per user. */
      userDependent: boolean;
      /** Lifetime of the auth token (authTokens[0].expires_in), ms; undefined when none. */
      expiresInMs?: number;
      /** HTML5.PreserveHostHeader was asked for (a Worker cannot honour it). */
      preserveHostHeader: boolean;
    }
  | { ok: false; code: RefusalCode; reason: string; userDependent?: boolean };

const text = v.union([v.string(), v.number(), v.boolean()]);

const answerSchema = v.object({
  destinationConfiguration: v.record(v.string(), v.unknown()),
  authTokens: v.optional(
    v.array(
      v.looseObject({
        type: v.optional(v.string()),
        value: v.optional(v.string()),
        error: v.optional(v.string()),
        expires_in: v.optional(text),
        http_header: v.optional(v.looseObject({ key: v.string(), value: v.string() })),
      }),
    ),
  ),
});

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** What fetch accepts as a header value: one line of Latin-1 text (anything else would make it throw). */
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const FORBIDDEN_HEADERS = new Set([...HOP_BY_HOP_HEADERS, "host", "content-length"]);

/**
 * `answer`: the parsed JSON of "find destination". `hasUserToken`: whether the request
 * carried the user's token (the user-dependent kinds need one).
 */
export function resolveAnswer(name: string, answer: unknown, hasUserToken: boolean): Resolution {
  const parsed = v.safeParse(answerSchema, answer);
  if (!parsed.success)
    return refuse(
      "DESTINATION_INVALID",
      "the service's answer is not a destination (destinationConfiguration/authTokens)",
    );
  const config = parsed.output.destinationConfiguration;
  const prop = (...keys: string[]): string | undefined => {
    for (const key of keys) {
      const value = config[key];
      if (typeof value === "string" || typeof value === "number" || typeof value === "boolean")
        return String(value).trim();
    }
    return undefined;
  };

  const proxyType = prop("ProxyType") ?? "Internet";
  if (proxyType === "OnPremise") {
    return refuse(
      "DESTINATION_ON_PREMISE_NOT_SUPPORTED",
      "ProxyType OnPremise needs the Cloud Connector, reached only through the connectivity service's " +
        "proxy inside SAP BTP; a Worker at the edge cannot use it (expose the system to the Internet " +
        "or keep such routes on SAP's router)",
    );
  }
  if (proxyType !== "Internet")
    return refuse(
      "DESTINATION_NOT_SUPPORTED",
      `ProxyType ${safe(proxyType)} is not supported at the edge (only Internet)`,
    );
  const type = prop("Type") ?? "HTTP";
  if (type !== "HTTP")
    return refuse("DESTINATION_NOT_SUPPORTED", `Type ${safe(type)} is not supported (only HTTP)`);
  const authentication = prop("Authentication") ?? "NoAuthentication";
  if (!SUPPORTED_KINDS.has(authentication)) {
    return refuse(
      "DESTINATION_NOT_SUPPORTED",
      `Authentication ${safe(authentication)} is not supported ` +
        `(supported: ${[...SUPPORTED_KINDS].join(", ")})`,
    );
  }
  const userDependent = USER_TOKEN_KINDS.has(authentication);

  const url = prop("URL");
  if (url === undefined || !isHttpUrl(url))
    return refuse(
      "DESTINATION_INVALID",
      "URL must be an absolute http(s) URL without user info, query or fragment (use URL.queries.*)",
    );

  const forwardAuthToken = flag(prop("HTML5.ForwardAuthToken", "forwardAuthToken"));
  if (forwardAuthToken === null)
    return refuse("DESTINATION_INVALID", "forwardAuthToken must be true or false");
  if (forwardAuthToken && authentication !== "NoAuthentication") {
    return refuse(
      "DESTINATION_INVALID",
      "forwardAuthToken is only allowed with Authentication NoAuthentication (as in SAP's router)",
    );
  }
  const setXForwardedHeaders = flag(prop("HTML5.SetXForwardedHeaders", "setXForwardedHeaders"), true);
  if (setXForwardedHeaders === null)
    return refuse("DESTINATION_INVALID", "HTML5.SetXForwardedHeaders must be true or false");
  const preserveHostHeader = flag(prop("HTML5.PreserveHostHeader", "preserveHostHeader"));
  if (preserveHostHeader === null)
    return refuse("DESTINATION_INVALID", "HTML5.PreserveHostHeader must be true or false");
  const timeoutText = prop("HTML5.Timeout", "timeout", "Timeout");
  const timeoutMs =
    timeoutText === undefined ? 30_000 : /^[0-9]+$/.test(timeoutText) ? Number(timeoutText) : NaN;
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1)
    return refuse("DESTINATION_INVALID", "HTML5.Timeout must be a positive integer (ms)");

  const headers: HeaderEntry[] = [];
  const defaultHeaders: HeaderEntry[] = [];
  const queries: HeaderEntry[] = [];
  for (const [key, raw] of Object.entries(config)) {
    const header = /^URL\.headers\.(.+)$/i.exec(key)?.[1];
    const query = /^URL\.queries\.(.+)$/i.exec(key)?.[1];
    if (header === undefined && query === undefined) continue;
    if (typeof raw !== "string" && typeof raw !== "number" && typeof raw !== "boolean")
      return refuse("DESTINATION_INVALID", `${safe(key)} must be a string`);
    const value = String(raw);
    if (header !== undefined) {
      if (!TOKEN.test(header) || FORBIDDEN_HEADERS.has(header.toLowerCase()))
        return refuse("DESTINATION_INVALID", `${safe(key)}: not a header a destination may set`);
      if (!HEADER_VALUE.test(value))
        return refuse("DESTINATION_INVALID", `${safe(key)}: the value must be one line of Latin-1 text`);
      defaultHeaders.push({ name: header, value });
    } else {
      queries.push({ name: query!, value });
    }
  }
  const sapClient = prop("sap-client");
  if (sapClient !== undefined && !HEADER_VALUE.test(sapClient))
    return refuse("DESTINATION_INVALID", "sap-client must be one line of Latin-1 text");
  if (sapClient !== undefined && sapClient !== "") headers.push({ name: "sap-client", value: sapClient });

  let expiresInMs: number | undefined;
  if (authentication !== "NoAuthentication") {
    if (userDependent && !hasUserToken) {
      return refuse(
        "DESTINATION_NEEDS_USER",
        `Authentication ${authentication} needs a logged-in user (a route with authentication)`,
        true,
      );
    }
    const token = parsed.output.authTokens?.[0];
    if (token?.error !== undefined) {
      return refuse(
        "DESTINATION_AUTH_FAILED",
        "the destination service could not get a token for it " +
          "(authTokens[0].error; see Check Connection in the cockpit)",
        userDependent,
      );
    }
    let auth: HeaderEntry | undefined;
    if (token?.http_header && token.http_header.value !== "")
      auth = { name: token.http_header.key, value: token.http_header.value };
    else if (token?.value)
      auth = { name: "Authorization", value: `${token.type || "Bearer"} ${token.value}` };
    else if (authentication === "BasicAuthentication") {
      const user = prop("User");
      const password = prop("Password");
      if (user === undefined || password === undefined)
        return refuse("DESTINATION_INVALID", "BasicAuthentication needs User and Password");
      auth = { name: "Authorization", value: `Basic ${base64(`${user}:${password}`)}` };
    }
    if (auth === undefined)
      return refuse("DESTINATION_AUTH_FAILED", "the service sent no authTokens for it", userDependent);
    if (
      !TOKEN.test(auth.name) ||
      FORBIDDEN_HEADERS.has(auth.name.toLowerCase()) ||
      !HEADER_VALUE.test(auth.value)
    ) {
      return refuse("DESTINATION_INVALID", "authTokens[0].http_header is not a header the router can send");
    }
    headers.push(auth);
    const expires = token?.expires_in === undefined ? NaN : Number(token.expires_in);
    if (Number.isFinite(expires) && expires > 0) expiresInMs = expires * 1000;
  }

  const destination: Destination = {
    name,
    url: url.replace(/\/+$/, ""),
    forwardAuthToken,
    timeoutMs,
    setXForwardedHeaders,
    ...(headers.length > 0 && { headers }),
    ...(defaultHeaders.length > 0 && { defaultHeaders }),
    ...(queries.length > 0 && { queries }),
  };
  return {
    ok: true,
    destination,
    userDependent,
    preserveHostHeader,
    ...(expiresInMs !== undefined && { expiresInMs }),
  };
}

/**
 * SAP: `HTML5.DynamicDestination` (or `dynamicDestination`) `true`, or `"true"` in any case,
 * lets dynamic routes (`"$1"`, `"*"`) reach the destination; anything else does not, without error.
 */
export function allowsDynamicUse(answer: unknown): boolean {
  const config = (answer as { destinationConfiguration?: unknown } | null)?.destinationConfiguration;
  if (typeof config !== "object" || config === null) return false;
  const record = config as Record<string, unknown>;
  const value = record["HTML5.DynamicDestination"] ?? record.dynamicDestination;
  return value === true || (typeof value === "string" && value.trim().toLowerCase() === "true");
}

function refuse(code: RefusalCode, reason: string, userDependent?: boolean): Resolution {
  return { ok: false, code, reason, ...(userDependent !== undefined && { userDependent }) };
}

/** "true"/"false" (any case); absent → `fallback`; anything else → null. */
function flag(value: string | undefined, fallback = false): boolean | null {
  if (value === undefined || value === "") return fallback;
  const lower = value.toLowerCase();
  return lower === "true" ? true : lower === "false" ? false : null;
}

/** A property value quoted for a log line: short, one line. */
function safe(value: string): string {
  return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
}

function isHttpUrl(input: string): boolean {
  try {
    const url = new URL(input);
    return (
      (url.protocol === "https:" || url.protocol === "http:") &&
      url.username === "" &&
      url.password === "" &&
      !input.includes("?") &&
      !input.includes("#")
    );
  } catch {
    return false;
  }
}

function base64(value: string): string {
  let binary = "";
  for (const byte of new TextEncoder().encode(value)) binary += String.fromCharCode(byte);
  return btoa(binary);
}
