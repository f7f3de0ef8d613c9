/**
 * Schemas shared by xs-app.json and the environment for HTTP-level settings: configured
 * response headers (`responseHeaders`, `httpHeaders`), allowed origins (`cors[].allowedOrigin`,
 * `WS_ALLOWED_ORIGINS`) and CORS rules (`cors`, `CORS`). Messages state the requirement,
 * never the value.
 */
import * as v from "valibot";
import { UNCONFIGURABLE_HEADERS } from "../http/response-headers.js";
import type { CorsRule, HeaderEntry, OriginRule } from "./types.js";
import {
  boolean,
  httpMethod,
  integer,
  jsonObject,
  nonEmptyString,
  nonNegativeInteger,
  regExpSource,
  string,
  strictObject,
} from "./schemas.js";

/** RFC 9110 field-name (token). */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export const headerName = v.pipe(
  nonEmptyString,
  v.regex(TOKEN, "must be a valid header name (an RFC 9110 token)"),
);

/** A header name that configuration may set on responses. */
export const configurableHeaderName = v.pipe(
  headerName,
  v.check(
    (name) => !UNCONFIGURABLE_HEADERS.has(name.toLowerCase()),
    "cannot be configured (cookies, Host, Content-Length and hop-by-hop headers are managed by the router)",
  ),
);

/**
 * Visible Latin-1 characters, spaces and tabs: what a Headers value may hold (SAP: 32–255
 * except 127, or tab).
 */
export const headerValue = v.pipe(
  nonEmptyString,
  v.regex(
    /^[\t\x20-\x7e\x80-\xff]*$/,
    "must contain only visible characters, spaces and tabs (no line breaks)",
  ),
);

/** xs-app.json `responseHeaders[]`: `{ name, value }`. */
export const responseHeaderEntry = strictObject({ name: configurableHeaderName, value: headerValue });

/** `httpHeaders[]` (environment): an object with exactly one property, `{ "Name": "value" }` (SAP). */
export const singleHeaderObject = v.pipe(
  jsonObject,
  v.check((o) => Object.keys(o).length === 1, 'must have exactly one property: { "Header-Name": "value" }'),
  v.record(configurableHeaderName, headerValue),
  v.transform((o): HeaderEntry => {
    const [name, value] = Object.entries(o)[0]!;
    return { name, value };
  }),
);

const LABEL = "[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?";
const HOST_PATTERN = new RegExp(`^(?:\\*|(?:\\*\\.)?${LABEL}(?:\\.${LABEL})*|\\[[0-9A-Fa-f:.]+\\])$`);

/**
 * One allowed origin, SAP's allow-list item (`cors[].allowedOrigin`, `WS_ALLOWED_ORIGINS`):
 * `host` required (`*`, `*.example.com`, a host name or IP); `protocol` and `port` optional,
 * meaning any when absent. `port` may be a number or a numeric string (SAP).
 */
export const originRule = v.pipe(
  strictObject({
    host: v.pipe(
      nonEmptyString,
      v.regex(HOST_PATTERN, 'must be a host name, an IP address, "*" or "*." followed by a host name'),
    ),
    protocol: v.optional(
      v.pipe(
        nonEmptyString,
        v.regex(/^[A-Za-z][A-Za-z0-9+.-]*$/, 'must be a URL scheme without ":" (e.g. "https")'),
      ),
    ),
    port: v.optional(
      v.pipe(
        v.union(
          [v.number(), v.pipe(string, v.regex(/^[0-9]+$/, "must be a port number (1–65535)"))],
          "must be a port number (1–65535)",
        ),
        v.transform(Number),
        integer("must be a port number (1–65535)", 1, 65535),
      ),
    ),
  }),
  v.transform(
    (o): OriginRule => ({
      host: o.host.toLowerCase(),
      ...(o.protocol !== undefined && { protocol: o.protocol.toLowerCase() }),
      ...(o.port !== undefined && { port: o.port }),
    }),
  ),
);

export const originRules = v.pipe(
  v.array(originRule, "must be an array of { host, protocol, port }"),
  // SAP treats an empty list as "any origin"; say `[{ "host": "*" }]` if that is meant.
  v.minLength(1, 'must not be empty (use [{ "host": "*" }] to allow any origin)'),
);

/** SAP defaults (lib/middleware/cors-middleware.js). */
export const CORS_DEFAULT_METHODS = ["GET", "POST", "HEAD", "OPTIONS"];
export const CORS_DEFAULT_HEADERS = [
  "Origin",
  "Accept",
  "X-Requested-With",
  "Content-Type",
  "Access-Control-Request-Method",
  "Access-Control-Request-Headers",
];
export const CORS_DEFAULT_MAX_AGE = 1800;

const nonEmptyList = <T extends v.GenericSchema>(item: T, message: string) =>
  v.pipe(v.array(item, message), v.minLength(1, "must not be empty"));

const corsRule = v.pipe(
  strictObject({
    uriPattern: regExpSource,
    hostPattern: v.optional(regExpSource),
    allowedOrigin: originRules,
    allowedMethods: v.optional(nonEmptyList(httpMethod, "must be an array of HTTP methods")),
    allowedHeaders: v.optional(nonEmptyList(headerName, "must be an array of header names")),
    exposeHeaders: v.optional(nonEmptyList(headerName, "must be an array of header names")),
    allowedCredentials: v.optional(boolean, true),
    // SAP: seconds; 0 sends no Access-Control-Max-Age.
    maxAge: v.optional(nonNegativeInteger, CORS_DEFAULT_MAX_AGE),
  }),
  v.transform(
    (r): CorsRule => ({
      uriPattern: r.uriPattern,
      ...(r.hostPattern !== undefined && { hostPattern: r.hostPattern }),
      allowedOrigin: r.allowedOrigin,
      allowedMethods: r.allowedMethods ?? CORS_DEFAULT_METHODS,
      allowedHeaders: r.allowedHeaders ?? CORS_DEFAULT_HEADERS,
      exposeHeaders: r.exposeHeaders ?? [],
      allowedCredentials: r.allowedCredentials,
      maxAge: r.maxAge,
    }),
  ),
);

/** `cors` (xs-app.json) and `CORS` (environment): a non-empty array of rules, first match wins. */
export const corsRules = nonEmptyList(corsRule, "must be an array of CORS rules");
