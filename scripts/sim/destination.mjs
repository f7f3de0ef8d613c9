#!/usr/bin/env node
// A simulator of SAP BTP's destination service on loopback: the XSUAA token endpoint of its
// binding (`<url>/oauth/token`, client_credentials, client_secret_post or HTTP Basic) and the
// REST API the router uses (`<uri>/destination-configuration/v1/...`):
//   GET destinations/<name>            "find destination": { owner, destinationConfiguration,
//                                      authTokens } — the service instance level first, then
//                                      the subaccount level (as the service documents it);
//   GET subaccountDestinations[/<name>], instanceDestinations[/<name>]: the configurations only.
// authTokens follow the destination's Authentication: BasicAuthentication → Basic,
// OAuth2ClientCredentials → a bearer token minted here, OAuth2UserTokenExchange and
// OAuth2JWTBearer → a bearer token derived from the X-user-token header (an error entry
// without it), as the service does. Every request is logged in `sim.requests` for tests.
//
// As a module:  const sim = await startDestinationSim({ destinations: [...] });
//               VCAP_SERVICES = { destination: [sim.binding] }
// Standalone:   node scripts/sim/destination.mjs [--port N] [--destinations file.json]
//               prints the binding (JSON) and serves until stopped.
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { runIfMain } from "../lib/cli.mjs";
import {
  hasValidBearer,
  header,
  listen,
  outageControls,
  recordedRequests,
  tokenEndpoint,
} from "./client-credentials.mjs";
import { serviceSimCommand } from "./cli.mjs";

/** Authentication kinds whose token depends on the user (the router sends X-user-token). */
export const USER_TOKEN_KINDS = new Set([
  "OAuth2UserTokenExchange",
  "OAuth2JWTBearer",
  "OAuth2SAMLBearerAssertion",
]);

/**
 * A few destinations of each kind (tests and the CLI default); URLs point at `backendUrl`.
 * @param {string} backendUrl
 * @returns {SimDestination[]}
 */
export function sampleDestinations(backendUrl) {
  const base = { Type: "HTTP", ProxyType: "Internet" };
  return [
    { level: "subaccount", Name: "no-auth", URL: backendUrl, Authentication: "NoAuthentication", ...base },
    {
      level: "subaccount",
      Name: "basic",
      URL: `${backendUrl}/basic`,
      Authentication: "BasicAuthentication",
      User: "alice",
      Password: "alice-password",
      ...base,
    },
    {
      level: "subaccount",
      Name: "client-credentials",
      URL: backendUrl,
      Authentication: "OAuth2ClientCredentials",
      tokenServiceURL: "https://tokens.example/oauth/token",
      clientId: "backend-client",
      clientSecret: "backend-client-secret",
      ...base,
    },
    {
      level: "subaccount",
      Name: "user-exchange",
      URL: backendUrl,
      Authentication: "OAuth2UserTokenExchange",
      tokenServiceURL: "https://tokens.example/oauth/token",
      clientId: "exchange-client",
      clientSecret: "exchange-client-secret",
      ...base,
    },
    {
      level: "subaccount",
      Name: "jwt-bearer",
      URL: backendUrl,
      Authentication: "OAuth2JWTBearer",
      tokenServiceURL: "https://tokens.example/oauth/token",
      clientId: "bearer-client",
      clientSecret: "bearer-client-secret",
      ...base,
    },
    {
      level: "instance",
      Name: "instance-only",
      URL: backendUrl,
      Authentication: "NoAuthentication",
      ...base,
    },
    {
      level: "subaccount",
      Name: "on-premise",
      URL: "http://erp.internal:44300",
      Authentication: "BasicAuthentication",
      User: "u",
      Password: "p",
      Type: "HTTP",
      ProxyType: "OnPremise",
    },
  ];
}

/**
 * @typedef {{ level?: "subaccount" | "instance", Name: string, [property: string]: unknown }} SimDestination
 * @typedef {{ method: string, path: string, kind: "token" | "find" | "list" | "get" | "other", status: number,
 *   name?: string, clientAuth?: "post" | "basic", userToken?: string, at: number }} SimRequest
 * @typedef {{ destination: string, kind: string, value: string, userToken?: string, expiresIn?: number }} IssuedToken
 */

/**
 * @param {{
 *   destinations?: SimDestination[],
 *   host?: string, port?: number,
 *   clientId?: string, clientSecret?: string,
 *   tokenTtl?: number,      // seconds, the binding's client-credentials tokens (default 3600)
 *   authTokenTtl?: number,  // seconds, the authTokens' expires_in (default 3600)
 *   subaccountId?: string, instanceId?: string,
 * }} [options]
 */
export async function startDestinationSim(options = {}) {
  const host = options.host ?? "127.0.0.1";
  const clientId = options.clientId ?? "sb-destination-sim!b1|destination-xsappname!b404";
  const clientSecret = options.clientSecret ?? randomBytes(18).toString("base64url");
  const subaccountId = options.subaccountId ?? "8f5b1d3c-0c0e-4c3a-9d57-8d2f9f3f0a01";
  const instanceId = options.instanceId ?? "2b0f3c7e-51a4-4d8e-a7c2-6d1e0f2a9b10";
  /** @type {Map<string, SimDestination>} */ const subaccount = new Map();
  /** @type {Map<string, SimDestination>} */ const instance = new Map();
  /** @type {Map<string, number>} access token → expiry (ms) */ const accessTokens = new Map();
  /** @type {SimRequest[]} */ const requests = [];
  /** @type {IssuedToken[]} */ const issued = [];
  const state = {
    tokenTtl: options.tokenTtl ?? 3600,
    authTokenTtl: options.authTokenTtl ?? 3600,
    /** @type {null | "503" | "reset"} */ outage: null,
  };

  const put = (/** @type {SimDestination} */ d) => {
    const { level = "subaccount", ...config } = d;
    (level === "instance" ? instance : subaccount).set(config.Name, /** @type {SimDestination} */ (config));
  };
  for (const d of options.destinations ?? []) put(d);

  const server = createServer(
    recordedRequests({
      requests,
      state,
      kindOf,
      describe(entry, url) {
        const named = /\/(?:destinations|subaccountDestinations|instanceDestinations)\/([^/]+)$/.exec(
          url.pathname,
        )?.[1];
        if (named !== undefined) entry.name = decodeURIComponent(named);
      },
      handle(req, res, url, requestBody, entry) {
        const send = (/** @type {number} */ status, /** @type {unknown} */ body) => {
          entry.status = status;
          res.writeHead(status, {
            "content-type": "application/json;charset=utf-8",
            "cache-control": "no-store",
          });
          res.end(JSON.stringify(body));
        };
        if (state.outage === "503") return send(503, { ErrorMessage: "Service Unavailable" });
        try {
          route(url, req.method ?? "", req.headers, requestBody, entry, send);
        } catch {
          send(500, { ErrorMessage: "simulator error" });
        }
      },
    }),
  );

  /**
   * @param {URL} url @param {string} method @param {import("node:http").IncomingHttpHeaders} headers
   * @param {string} body @param {SimRequest} entry @param {(status: number, body: unknown) => void} send
   */
  function route(url, method, headers, body, entry, send) {
    // Also at the origin: clients that take only the origin of `url` (SAP's @sap/xssec) ask there.
    if (url.pathname === "/uaa/oauth/token" || url.pathname === "/oauth/token") {
      if (method !== "POST") return send(405, { error: "invalid_request" });
      return token(headers, body, entry, send);
    }
    const api =
      /^\/destination-configuration\/v1\/(destinations|subaccountDestinations|instanceDestinations)(?:\/([^/]+))?$/.exec(
        url.pathname,
      );
    if (!api) return send(404, { ErrorMessage: "not found" });
    if (method !== "GET") return send(405, { ErrorMessage: "method not allowed" });
    const [, collection, rawName] = api;
    const name = rawName === undefined ? undefined : decodeURIComponent(rawName);
    if (!hasValidBearer(headers, accessTokens)) return send(401, { ErrorMessage: "Unauthorized" });
    const userToken = header(headers, "x-user-token");
    if (userToken !== undefined) entry.userToken = userToken;
    if (collection === "destinations") {
      if (name === undefined) return send(404, { ErrorMessage: "not found" });
      return find(name, userToken, send);
    }
    const level = collection === "instanceDestinations" ? instance : subaccount;
    if (name === undefined) return send(200, [...level.values()]);
    const config = level.get(name);
    return config
      ? send(200, config)
      : send(404, { ErrorMessage: "Configuration with the specified name was not found" });
  }

  const token = tokenEndpoint({
    clientId,
    clientSecret,
    accessTokens,
    state,
    prefix: "sim-cc",
    scope: "uaa.resource",
  });

  /** @param {string} name @param {string | undefined} userToken @param {(s: number, b: unknown) => void} send */
  function find(name, userToken, send) {
    const atInstance = instance.get(name);
    const config = atInstance ?? subaccount.get(name);
    if (!config) return send(404, { ErrorMessage: "Configuration with the specified name was not found" });
    const owner = { SubaccountId: subaccountId, InstanceId: atInstance ? instanceId : null };
    const kind = String(config.Authentication ?? "NoAuthentication");
    /** @type {Record<string, unknown>} */
    const answer = { owner, destinationConfiguration: config };
    const tokens = authTokensFor(name, config, kind, userToken);
    if (tokens) answer.authTokens = tokens;
    return send(200, answer);
  }

  /** @param {string} name @param {SimDestination} config @param {string} kind @param {string | undefined} userToken */
  function authTokensFor(name, config, kind, userToken) {
    if (kind === "BasicAuthentication") {
      const value = Buffer.from(`${config.User ?? ""}:${config.Password ?? ""}`).toString("base64");
      return [{ type: "Basic", value, http_header: { key: "Authorization", value: `Basic ${value}` } }];
    }
    const userKind = USER_TOKEN_KINDS.has(kind);
    if (kind !== "OAuth2ClientCredentials" && !userKind) return undefined;
    if (userKind && userToken === undefined) {
      return [
        {
          type: "",
          value: "",
          error: `Retrieval of OAuthToken failed: the user token is missing (${kind} needs X-user-token)`,
          expires_in: "0",
        },
      ];
    }
    // Derived from the user's token (a hash of it, so tests can tell users apart) or minted for the client.
    const subject = userKind
      ? `user-${createHash("sha256")
          .update(userToken ?? "")
          .digest("hex")
          .slice(0, 16)}`
      : "client";
    const value = `sim-${kind}.${name}.${subject}.${randomBytes(12).toString("base64url")}`;
    issued.push({
      destination: name,
      kind,
      value,
      ...(userKind ? { userToken } : {}),
      expiresIn: state.authTokenTtl,
    });
    return [
      {
        type: "Bearer",
        value,
        http_header: { key: "Authorization", value: `Bearer ${value}` },
        expires_in: String(state.authTokenTtl),
        scope: "",
      },
    ];
  }

  const { base, port } = await listen(server, host, options.port ?? 0);
  const binding = {
    label: "destination",
    provider: null,
    plan: "lite",
    name: "destination",
    tags: ["destination", "conn", "connsvc"],
    instance_name: "destination",
    credentials: {
      uri: base,
      url: `${base}/uaa`,
      clientid: clientId,
      clientsecret: clientSecret,
      xsappname: "destination-xsappname!b404",
      identityzone: "sim-subaccount",
      tenantid: subaccountId,
      tenantmode: "dedicated",
      uaadomain: `${host}:${port}`,
      instanceid: instanceId,
      verificationkey: "-----BEGIN PUBLIC KEY-----\nnot-used-by-the-router\n-----END PUBLIC KEY-----",
    },
  };

  return {
    url: base,
    binding,
    clientId,
    clientSecret,
    /** Every request received, in order. */
    requests,
    /** Every authToken minted (client-credentials and user kinds). */
    issued,
    /** How many requests of a kind (token / find / list / get) were received. */
    count: (/** @type {SimRequest["kind"]} */ kind) => requests.filter((r) => r.kind === kind).length,
    /** Adds or replaces a destination (level "subaccount" by default). */
    setDestination: put,
    removeDestination(
      /** @type {string} */ name,
      /** @type {"subaccount" | "instance"} */ level = "subaccount",
    ) {
      (level === "instance" ? instance : subaccount).delete(name);
    },
    /** Lifetimes (seconds) of tokens issued from now on. */
    setLifetimes(/** @type {{ tokenTtl?: number, authTokenTtl?: number }} */ lifetimes) {
      if (lifetimes.tokenTtl !== undefined) state.tokenTtl = lifetimes.tokenTtl;
      if (lifetimes.authTokenTtl !== undefined) state.authTokenTtl = lifetimes.authTokenTtl;
    },
    ...outageControls({ server, state, accessTokens }),
    reset() {
      requests.length = 0;
      issued.length = 0;
    },
  };
}

/**
 * What a request asks for, from its path alone (so that requests dropped in an outage are counted too).
 * @param {string} path
 * @returns {SimRequest["kind"]}
 */
function kindOf(path) {
  if (path === "/uaa/oauth/token" || path === "/oauth/token") return "token";
  const api =
    /^\/destination-configuration\/v1\/(destinations|subaccountDestinations|instanceDestinations)(\/[^/]+)?$/.exec(
      path,
    );
  if (!api) return "other";
  if (api[1] === "destinations") return "find";
  return api[2] === undefined ? "list" : "get";
}

const USAGE = `Usage: node scripts/sim/destination.mjs [--port N] [--host H] [--destinations FILE] [--backend URL]
  --destinations FILE  the destinations (JSON array); default: samples pointing at --backend
  --backend URL        the samples' backend (default http://127.0.0.1:8788)`;

await runIfMain(
  import.meta.url,
  serviceSimCommand({
    name: "destination service simulator",
    usage: USAGE,
    service: "destination",
    options: { destinations: { type: "string" }, backend: { type: "string" } },
    start: (values, address) =>
      startDestinationSim({
        destinations: values.destinations
          ? JSON.parse(readFileSync(values.destinations, "utf8"))
          : sampleDestinations(values.backend ?? "http://127.0.0.1:8788"),
        ...address,
      }),
  }),
);
