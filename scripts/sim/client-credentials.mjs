// What the simulated SAP services share with their XSUAA: the client-credentials grant of a
// service binding (client_secret_post or HTTP Basic, RFC 6749 §2.3.1) and the bearer tokens
// it issues, checked in constant time.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

/** @param {import("node:http").IncomingHttpHeaders} headers @param {string} name */
export function header(headers, name) {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** @param {string} a @param {string} b */
export function sameSecret(a, b) {
  return timingSafeEqual(createHash("sha256").update(a).digest(), createHash("sha256").update(b).digest());
}

/**
 * A binding's client-credentials grant: checks the client, issues a token (prefix + random)
 * that `accessTokens` keeps until `ttl` seconds from now, and says how the client authenticated.
 * @param {{ headers: import("node:http").IncomingHttpHeaders, body: string, clientId: string, clientSecret: string,
 *   accessTokens: Map<string, number>, ttl: number, prefix: string, scope: string }} o
 * @returns {{ status: number, body: Record<string, unknown>, clientAuth: "post" | "basic" }}
 */
export function clientCredentialsGrant(o) {
  const form = new URLSearchParams(o.body);
  let id = form.get("client_id") ?? undefined;
  let secret = form.get("client_secret") ?? undefined;
  /** @type {"post" | "basic"} */ let clientAuth = "post";
  const basic = /^Basic (.+)$/i.exec(header(o.headers, "authorization") ?? "")?.[1];
  if (basic !== undefined) {
    const decoded = Buffer.from(basic, "base64").toString();
    const colon = decoded.indexOf(":");
    if (colon < 0) return { status: 401, body: { error: "invalid_client" }, clientAuth: "basic" };
    id = decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, " "));
    secret = decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, " "));
    clientAuth = "basic";
  }
  if (id !== o.clientId || secret === undefined || !sameSecret(secret, o.clientSecret)) {
    return {
      status: 401,
      body: { error: "invalid_client", error_description: "Bad credentials" },
      clientAuth,
    };
  }
  if (form.get("grant_type") !== "client_credentials")
    return { status: 400, body: { error: "unsupported_grant_type" }, clientAuth };
  const accessToken = `${o.prefix}.${randomBytes(24).toString("base64url")}`;
  o.accessTokens.set(accessToken, Date.now() + o.ttl * 1000);
  return {
    status: 200,
    body: {
      access_token: accessToken,
      token_type: "bearer",
      expires_in: o.ttl,
      scope: o.scope,
      jti: randomBytes(8).toString("hex"),
    },
    clientAuth,
  };
}

/** Whether the request carries one of the issued, unexpired bearer tokens. @param {import("node:http").IncomingHttpHeaders} headers @param {Map<string, number>} accessTokens */
export function hasValidBearer(headers, accessTokens) {
  const bearer = /^Bearer (.+)$/i.exec(header(headers, "authorization") ?? "")?.[1];
  const expiry = bearer === undefined ? undefined : accessTokens.get(bearer);
  return expiry !== undefined && expiry > Date.now();
}

/**
 * The test controls both REST simulators (destination service, HTML5 repository) share: an
 * outage switch, forgetting every issued token, and stopping the server.
 * @param {{ server: import("node:http").Server, state: { outage: null | "503" | "reset" }, accessTokens: Map<string, number> }} o
 */
export function outageControls({ server, state, accessTokens }) {
  return {
    /** null: healthy; "503": every request answered 503; "reset": connections dropped. */
    setOutage(/** @type {null | "503" | "reset"} */ outage) {
      state.outage = outage;
    },
    /** Forgets every issued access token (the next call with an old one gets 401). */
    revokeTokens() {
      accessTokens.clear();
    },
    stop() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve(undefined)));
    },
  };
}

/**
 * The start of every request to a service simulator: the body read, the request recorded in
 * `requests` (bounded on long runs), a "reset" outage answered by dropping the connection;
 * then `handle`.
 * @template {{ method: string, path: string, kind: string, status: number, at: number }} E
 * @param {{ requests: E[], state: { outage: null | "503" | "reset" }, kindOf: (path: string) => E["kind"],
 *   describe?: (entry: E, url: URL) => void,
 *   handle: (req: import("node:http").IncomingMessage, res: import("node:http").ServerResponse, url: URL, body: string, entry: E) => void }} o
 * @returns {import("node:http").RequestListener}
 */
export function recordedRequests(o) {
  return (req, res) => {
    const chunks = /** @type {Buffer[]} */ ([]);
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://sim");
      const path = url.pathname;
      const entry = /** @type {E} */ ({
        method: req.method ?? "",
        path,
        kind: o.kindOf(path),
        status: 0,
        at: Date.now(),
      });
      o.describe?.(entry, url);
      if (o.requests.length >= 10_000) o.requests.splice(0, 1_000);
      o.requests.push(entry);
      if (o.state.outage === "reset") {
        entry.status = -1;
        req.socket.destroy();
        return;
      }
      o.handle(req, res, url, Buffer.concat(chunks).toString(), entry);
    });
  };
}

/**
 * The binding's token endpoint (`<url>/oauth/token`): the client-credentials grant, with how
 * the client authenticated recorded on the request's entry.
 * @param {{ clientId: string, clientSecret: string, accessTokens: Map<string, number>,
 *   state: { tokenTtl: number }, prefix: string, scope: string }} o
 * @returns {(headers: import("node:http").IncomingHttpHeaders, body: string, entry: { clientAuth?: "post" | "basic" }, send: (status: number, body: unknown) => void) => void}
 */
export function tokenEndpoint({ state, ...o }) {
  return (headers, body, entry, send) => {
    const grant = clientCredentialsGrant({ headers, body, ttl: state.tokenTtl, ...o });
    entry.clientAuth = grant.clientAuth;
    return send(grant.status, grant.body);
  };
}

/**
 * Listens on host:port (0: a free one); resolves to the server's base URL and port.
 * @param {import("node:http").Server} server @param {string} host @param {number} port
 */
export async function listen(server, host, port) {
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve(undefined));
  });
  const address = server.address();
  const bound = typeof address === "object" && address ? address.port : 0;
  return { base: `http://${host}:${bound}`, port: bound };
}
