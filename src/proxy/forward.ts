import type { Destination, OriginRule } from "../config/types.js";
import { originAllowed } from "../http/cors.js";
import { HOP_BY_HOP_HEADERS } from "../http/hop-by-hop.js";
import { ownResponse } from "../http/mutable.js";
import { errorPage } from "../http/pages.js";
import { applyDestinationHeaders, withDestinationQueries } from "../destinations/request.js";
import { syncCookieName } from "../session/sync-token.js";

/**
 * Forwarding one request to a destination and its response back, with the header
 * hygiene of a reverse proxy. No Hono, `fetch` passed in.
 */
export interface UpstreamRequestOptions {
  destination: Destination;
  /** Path and query from `matchRoute` (`/x?y=1`): starts with `/`. */
  target: string;
  /** The client's address; appended to `X-Forwarded-For`. */
  clientIp?: string;
  /** The router's own session cookie, never forwarded. */
  sessionCookieName: string;
  /**
   * The Cookie header to send instead of the incoming one, already without the router's
   * own cookie (the browser's other cookies plus the destination's jar, which may hold a
   * backend cookie named like the router's: it must reach the backend); null sends none.
   * Absent: the incoming Cookie header minus every cookie named `sessionCookieName`.
   */
  cookieHeader?: string | null;
  /** X-Forwarded-Path when the route was matched on another path than the request's (the welcome file). */
  forwardedPath?: string;
  /** `Bearer …` when the destination gets the user's token; replaces any incoming Authorization. */
  authorization?: string;
  /**
   * The route requires authentication: the client's own Authorization never reaches the
   * backend, which expects the router's token there or none (SAP removes it too).
   */
  dropClientAuthorization?: boolean;
  /** A request header (lower case) that is the router's own here (`x-csrf-token` on a protected route). */
  dropHeader?: string;
  /** `incoming.url`, when the caller has parsed it already. */
  incomingUrl?: URL;
  /** Aborts the upstream request (set by `forward` for the timeout). */
  signal?: AbortSignal;
  /**
   * Keep `Upgrade: websocket` on a GET (set by `forward` once the WebSocket policy allowed
   * it); otherwise Upgrade is dropped like every hop-by-hop header.
   */
  upgradeWebSocket?: boolean;
}

export interface ForwardOptions extends Omit<UpstreamRequestOptions, "signal" | "upgradeWebSocket"> {
  fetch: typeof fetch;
  /**
   * `false`: the incoming request's signal is not watched, because the runtime never aborts
   * it (request-signal.ts). Default: a client that goes away cancels the upstream call.
   */
  clientAbort?: boolean;
  /** For `Upgrade: websocket` requests; absent = WebSockets disabled (403), as in SAP by default. */
  websockets?: WebSocketPolicy;
}

/**
 * WebSocket pass-through (SAP README "Web Sockets", lib/websockets/WsProxy.js): only with
 * xs-app.json `websockets.enabled`; the upgrade request's `Origin` must be the router's
 * own origin or one of WS_ALLOWED_ORIGINS (cross-site WebSocket hijacking otherwise);
 * refusals are 403 as in SAP. The upgrade is forwarded with `fetch` (workerd answers 101
 * with the `webSocket` to hand back), with the same header hygiene as any request: the
 * router's cookie removed, X-Forwarded-* set.
 */
export interface WebSocketPolicy {
  /** xs-app.json `websockets.enabled`. */
  enabled: boolean;
  /** WS_ALLOWED_ORIGINS: origins allowed besides the router's own, which always is. */
  allowedOrigins?: readonly OriginRule[];
}

/** An HTTP/1.1 WebSocket opening handshake (`Upgrade: websocket`, RFC 6455 §4.1). */
export function isWebSocketUpgrade(request: Request): boolean {
  const upgrade = request.headers.get("upgrade");
  return upgrade?.split(",").some((token) => token.trim().toLowerCase() === "websocket") ?? false;
}

/** 403 for an upgrade the policy refuses (disabled, missing or foreign Origin); null to go on. */
export function checkWebSocketUpgrade(
  request: Request,
  policy: WebSocketPolicy | undefined,
): Response | null {
  if (policy === undefined || !policy.enabled) return errorPage(403, "WEBSOCKETS_DISABLED");
  const origin = request.headers.get("origin");
  if (origin === null) return errorPage(403, "WEBSOCKET_ORIGIN_REQUIRED");
  const own = new URL(request.url).origin;
  // WS_ALLOWED_ORIGINS adds origins to the router's own (SAP's replaces it, which breaks
  // the app's own pages).
  const allowed =
    origin.toLowerCase() === own.toLowerCase() ||
    (policy.allowedOrigins !== undefined && originAllowed(policy.allowedOrigins, origin));
  return allowed ? null : errorPage(403, "WEBSOCKET_ORIGIN_NOT_ALLOWED");
}

const HOP_BY_HOP = new Set(HOP_BY_HOP_HEADERS);

/**
 * Besides every `X-Forwarded-*`: headers by which proxies tell a backend the client's
 * address or the URL it asked for. Backends trust them (Spring's ForwardedHeaderFilter,
 * Express `trust proxy`, IIS/Symfony `X-Original-URL`/`X-Rewrite-URL` even route on them),
 * so a client's values are never forwarded.
 */
const CLIENT_CONTROLLED = new Set([
  "forwarded",
  "x-original-url",
  "x-rewrite-url",
  "x-real-ip",
  "true-client-ip",
  "x-client-ip",
  "x-cluster-client-ip",
]);

/** @param lower a header name in lower case (as iterating Headers gives them) */
function isSpoofable(lower: string): boolean {
  return lower.startsWith("x-forwarded-") || CLIENT_CONTROLLED.has(lower);
}

/**
 * Drops the hop-by-hop headers, and those Connection nominates. A lookup per listed name:
 * iterating Headers makes workerd copy and sort every header, values too, and each step
 * of the iteration is a call (dearer in all than the lookups: measured). `present`: the
 * ones the caller already knows are there (found while iterating for another reason).
 */
function stripHopByHop(headers: Headers, present?: readonly string[]): void {
  const nominated =
    present === undefined || present.includes("connection") ? headers.get("connection") : null;
  // Names deleted already: not looked up again (each lookup is a call into the runtime).
  const gone: string[] = [];
  if (nominated !== null) {
    for (const name of nominated.split(",")) {
      const trimmed = name.trim();
      // An invalid token would make Headers.delete throw; such a name cannot be present anyway.
      if (/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(trimmed)) {
        headers.delete(trimmed);
        gone.push(trimmed.toLowerCase());
      }
    }
    headers.delete("connection");
    gone.push("connection");
  }
  if (present) {
    for (const name of present) if (!gone.includes(name)) headers.delete(name);
  } else {
    for (const name of HOP_BY_HOP_HEADERS)
      if (!gone.includes(name) && headers.has(name)) headers.delete(name);
  }
}

/** The Cookie header without the router's own cookies (the session cookie and its sync-token companion). */
export function removeRouterCookies(cookieHeader: string, sessionCookieName: string): string | null {
  // The companion's name starts with the session cookie's: a header without that name has neither.
  if (!cookieHeader.includes(sessionCookieName)) return nonBlank(cookieHeader.trimStart());
  return removeCookie(removeCookie(cookieHeader, sessionCookieName) ?? "", syncCookieName(sessionCookieName));
}

/**
 * Removes every cookie named `name` from a `Cookie` header value and keeps the others
 * byte-for-byte, in order. Returns null when nothing remains.
 */
export function removeCookie(cookieHeader: string, name: string): string | null {
  const kept = cookieHeader.split(";").filter((pair) => {
    const eq = pair.indexOf("=");
    const cookieName = (eq === -1 ? pair : pair.slice(0, eq)).trim();
    return cookieName !== name;
  });
  return nonBlank(kept.join(";").trimStart());
}

function nonBlank(value: string): string | null {
  return value.trim() === "" ? null : value;
}

/**
 * The upstream URL: the destination URL (which keeps its own base path) followed by the
 * target. Throws for a target that is not a path or that would leave the destination's
 * base path once the URL is parsed; `matchRoute` never produces one, so that is a bug.
 */
function upstreamUrl(destination: Destination, target: string): string {
  if (!target.startsWith("/") || /[\u0000-\u001f\u007f]/.test(target)) {
    throw new TypeError("forward: target must be a path starting with / without control characters");
  }
  // A dot segment is the only way a path appended to the base could leave it (matchRoute
  // refuses them, encoded ones included); parsing the URL on every request is not needed.
  const path = target.split("?", 1)[0]!;
  if (/(^|\/)(\.|%2e){1,2}(\/|$)/i.test(path) || path.includes("\\")) {
    throw new TypeError("forward: target leaves the destination's base path");
  }
  return destination.url + target;
}

export function buildUpstreamRequest(incoming: Request, opts: UpstreamRequestOptions): Request {
  const copy = copyHeaders(incoming);
  const upgradeWebSocket = opts.upgradeWebSocket === true && isUpgrade(copy, incoming);
  const { url, init } = upstreamRequestParts(incoming, opts, copy, opts.signal, upgradeWebSocket);
  return new Request(url, init);
}

/**
 * The incoming headers, copied, and what one pass over their names found: a lookup costs
 * workerd more than the pass (which copies and sorts the names once), so the steps below
 * look up or drop only what is there.
 */
interface HeaderCopy {
  headers: Headers;
  hopByHop: string[];
  /** Those by which the client would speak for the router (dropped). */
  spoofable: string[];
  cookie: boolean;
  authorization: boolean;
}

function copyHeaders(incoming: Request): HeaderCopy {
  const copy: HeaderCopy = {
    headers: new Headers(incoming.headers),
    hopByHop: [],
    spoofable: [],
    cookie: false,
    authorization: false,
  };
  // Iterating Headers gives the names in lower case (Fetch standard): compared as they are.
  for (const name of copy.headers.keys()) {
    if (HOP_BY_HOP.has(name)) copy.hopByHop.push(name);
    else if (isSpoofable(name)) copy.spoofable.push(name);
    else if (name === "cookie") copy.cookie = true;
    else if (name === "authorization") copy.authorization = true;
  }
  return copy;
}

/** A WebSocket opening handshake (the Upgrade header looked up only when there is one). */
function isUpgrade(copy: HeaderCopy, incoming: Request): boolean {
  return copy.hopByHop.includes("upgrade") && isWebSocketUpgrade(incoming);
}

/** The upstream URL and request init (forward() hands them to fetch without a Request in between). */
function upstreamRequestParts(
  incoming: Request,
  opts: UpstreamRequestOptions,
  copy: HeaderCopy,
  // Apart from opts: forward() passes its own, without copying opts.
  signal: AbortSignal | undefined,
  /** Keep `Upgrade: websocket` (a handshake the policy allowed). */
  upgradeWebSocket: boolean,
): { url: string; init: RequestInit & { duplex?: "half" } } {
  const url = withDestinationQueries(upstreamUrl(opts.destination, opts.target), opts.destination);
  const incomingUrl = opts.incomingUrl ?? new URL(incoming.url);
  const { headers } = copy;
  const incomingHost = headers.get("host") ?? incomingUrl.host;
  if (copy.hopByHop.length > 0) stripHopByHop(headers, copy.hopByHop);
  headers.delete("host");
  // The one hop-by-hop header a WebSocket handshake needs: workerd's fetch opens the socket on it.
  if (upgradeWebSocket && incoming.method.toUpperCase() === "GET") headers.set("upgrade", "websocket");

  // The router's cookie never goes upstream; a prepared header (jar replay) is already without it.
  const sent = copy.cookie ? headers.get("cookie") : null;
  const cookie =
    opts.cookieHeader !== undefined
      ? opts.cookieHeader
      : removeRouterCookies(sent ?? "", opts.sessionCookieName);
  if (cookie === null) {
    if (sent !== null) headers.delete("cookie");
  } else if (cookie !== sent) headers.set("cookie", cookie);

  if (opts.authorization !== undefined) headers.set("authorization", opts.authorization);
  else if (opts.dropClientAuthorization === true && copy.authorization) headers.delete("authorization");
  if (opts.dropHeader !== undefined) headers.delete(opts.dropHeader);
  // Only a destination with headers needs the incoming ones (reading them is a call into the runtime).
  if (opts.destination.defaultHeaders !== undefined || opts.destination.headers !== undefined)
    applyDestinationHeaders(headers, incoming.headers, opts.destination, opts.dropHeader);

  // A client must not speak for the router: whatever it sent about proxies, its address or
  // the URL it used goes, always (SAP passes most of them through); so does a destination's
  // header of those names.
  for (const name of copy.spoofable) headers.delete(name);
  for (const { name } of opts.destination.defaultHeaders ?? [])
    if (isSpoofable(name.toLowerCase())) headers.delete(name);
  for (const { name } of opts.destination.headers ?? [])
    if (isSpoofable(name.toLowerCase())) headers.delete(name);
  if (opts.destination.setXForwardedHeaders) {
    // What this router saw; the client's address as the platform says it (CF-Connecting-IP),
    // never a chain the client made up. The path without the query, as SAP sends it.
    headers.set("x-forwarded-host", incomingHost);
    headers.set("x-forwarded-proto", incomingUrl.protocol.slice(0, -1));
    headers.set("x-forwarded-path", opts.forwardedPath ?? incomingUrl.pathname);
    if (opts.clientIp !== undefined && opts.clientIp !== "") headers.set("x-forwarded-for", opts.clientIp);
  }

  const method = incoming.method;
  const hasBody = method !== "GET" && method !== "HEAD";
  const init: RequestInit & { duplex?: "half" } = {
    method,
    headers,
    body: hasBody ? incoming.body : null,
    redirect: "manual",
  };
  if (hasBody && incoming.body !== null) init.duplex = "half"; // streaming body (required by undici)
  if (signal !== undefined) init.signal = signal;
  return { url, init };
}

/** Longest delay setTimeout accepts before it overflows and fires at once. */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * The wait for one upstream response head, settled by the first of: the head, the timeout,
 * the client going away. One object per request: it is the client signal's listener
 * (`handleEvent`) and the timer's argument, so no closure is allocated for either.
 * Not `AbortSignal.timeout` (half the cost of a timer and a controller, measured): it
 * cannot be stopped once the head arrives, so it would cut a long body.
 */
class HeadWait {
  timedOut = false;
  timer: ReturnType<typeof setTimeout> | undefined;
  reject: ((reason: unknown) => void) | undefined;

  constructor(
    readonly controller: AbortController,
    readonly clientSignal: AbortSignal | undefined,
  ) {}

  /** Aborts the upstream call and settles the wait: covers a fetch that ignores its signal. */
  abort(reason: unknown): void {
    this.controller.abort(reason);
    this.reject?.(reason);
  }

  /** The client went away before the response head arrived. */
  handleEvent(): void {
    this.abort(this.clientSignal?.reason);
  }

  stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.clientSignal?.removeEventListener("abort", this);
  }
}

function onHeadTimeout(wait: HeadWait): void {
  wait.timedOut = true;
  wait.abort(new DOMException("upstream timeout", "TimeoutError"));
}

/**
 * Sends the request upstream and returns the upstream response (minus hop-by-hop headers,
 * body streamed). Expected failures are values: 504 `BACKEND_TIMEOUT` when no response
 * headers arrive within `destination.timeoutMs`, 502 `BACKEND_UNREACHABLE` when the destination
 * cannot be reached. The timeout covers the wait for the response head only; once headers
 * arrive a long body is streamed without a deadline (SAP: "maximum wait time for a response").
 */
export async function forward(incoming: Request, opts: ForwardOptions): Promise<Response> {
  const copy = copyHeaders(incoming);
  const upgradeWebSocket = isUpgrade(copy, incoming);
  if (upgradeWebSocket) {
    const refused = checkWebSocketUpgrade(incoming, opts.websockets);
    if (refused !== null) return refused;
  }
  const controller = new AbortController();
  // Throws only for a target matchRoute never produces (a bug); nothing to clean up yet.
  const { url, init } = upstreamRequestParts(incoming, opts, copy, controller.signal, upgradeWebSocket);
  const clientSignal = opts.clientAbort === false ? undefined : (incoming.signal as AbortSignal | undefined);
  if (clientSignal?.aborted) return errorPage(502, "BACKEND_UNREACHABLE"); // gone: do not call upstream
  const wait = new HeadWait(controller, clientSignal);
  let upstream: Response;
  try {
    const fetchImpl = opts.fetch; // called unbound: workerd's fetch rejects a foreign `this`
    const head = fetchImpl(url, init);
    upstream = await new Promise<Response>((resolve, reject) => {
      wait.reject = reject;
      const timeoutMs = opts.destination.timeoutMs;
      if (Number.isFinite(timeoutMs) && timeoutMs > 0)
        wait.timer = setTimeout(onHeadTimeout, Math.min(timeoutMs, MAX_TIMER_MS), wait);
      // No `once`: an abort fires once and stop() removes the listener; the option alone
      // costs workerd about 5,000 instructions (callgrind).
      clientSignal?.addEventListener("abort", wait);
      head.then(resolve, reject);
    });
  } catch {
    return wait.timedOut ? errorPage(504, "BACKEND_TIMEOUT") : errorPage(502, "BACKEND_UNREACHABLE");
  } finally {
    wait.stop();
  }

  // Location passes unchanged, as in SAP's router: backends build absolute URLs from the
  // X-Forwarded-* headers they get (a rewrite could not know the route's path prefix).
  const { status } = upstream;
  // The Response constructor only takes 200–599: a 101 (an accepted WebSocket upgrade,
  // carrying `webSocket`) goes back as it is. No body with a null-body status.
  if (status < 200 || status > 599) return upstream;
  const body = NULL_BODY_STATUSES.has(status) ? null : upstream.body;
  // The constructor copies the headers, and its copy can be changed (fetch's cannot): the
  // hop-by-hop ones are dropped from it, with no second copy.
  const response = new Response(body, { status, statusText: upstream.statusText, headers: upstream.headers });
  stripHopByHop(response.headers);
  return ownResponse(response);
}

const NULL_BODY_STATUSES = new Set([204, 205, 304]);
