/**
 * Shared by compat/record.mjs (against SAP's @sap/approuter) and
 * test/node/compat.test.ts (against ours): the recording backend, the replay of a case's
 * requests (with a cookie jar and token templating) and the normalisation of what the
 * backend and the client observed into comparable, placeholder-only values.
 *
 * Both sides run exactly this code, so a difference in the recorded observations is a
 * difference of the routers, not of the harness.
 */
import { createServer } from "node:http";
import { startDestinationSim } from "../scripts/sim/destination.mjs";

/** Every client request carries this header; the backend files what it saw under its value. */
export const MARKER_HEADER = "x-compat-id";
/** Selects the backend's answer (forwarded by both routers like any other header). */
export const BEHAVIOUR_HEADER = "x-compat-backend";

/** Response headers compared on every request (plus the case's `observe.response`). */
export const RESPONSE_HEADERS = [
  "location",
  "x-csrf-token",
  "x-frame-options",
  "cache-control",
  "allow",
  "access-control-allow-origin",
  "access-control-allow-credentials",
  "access-control-allow-methods",
  "access-control-allow-headers",
  "access-control-expose-headers",
  "access-control-max-age",
  "clear-site-data",
];

/** Request headers, as the backend saw them, compared on every request (plus the case's `observe.backend`). */
export const BACKEND_HEADERS = [
  "x-forwarded-host",
  "x-forwarded-proto",
  "x-forwarded-for",
  "x-forwarded-path",
  "cookie",
  "authorization",
  "content-type",
  "x-csrf-token",
];

// ---------------------------------------------------------------------------------------
// The recording backend
// ---------------------------------------------------------------------------------------

/**
 * A loopback HTTP backend. It files every request under its marker header and answers
 * by the behaviour header (see BEHAVIOURS); the default answer is 200 JSON with the
 * marker, so the client can tell a backend answer from a router answer.
 */
export async function startRecordingBackend() {
  /** @type {Map<string, {method: string, url: string, headers: Record<string, string | string[] | undefined>, body: string}[]>} */
  const seen = new Map();
  const unmarked = [];
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const entry = {
        method: req.method ?? "",
        url: req.url ?? "",
        headers: { ...req.headers },
        body: Buffer.concat(chunks).toString(),
      };
      const id = typeof req.headers[MARKER_HEADER] === "string" ? req.headers[MARKER_HEADER] : undefined;
      if (id === undefined) unmarked.push(entry);
      else seen.set(id, [...(seen.get(id) ?? []), entry]);
      const behaviour = String(req.headers[BEHAVIOUR_HEADER] ?? "default");
      answer(behaviour, req, res, id ?? "", origin);
    });
  });
  server.keepAliveTimeout = 1000;
  await new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(undefined)));
  const { port } = /** @type {import("node:net").AddressInfo} */ (server.address());
  const origin = `http://127.0.0.1:${port}`;
  return {
    origin,
    host: `127.0.0.1:${port}`,
    /** What arrived with this marker (usually one request, or none). */
    take: (/** @type {string} */ id) => {
      const list = seen.get(id) ?? [];
      seen.delete(id);
      return list;
    },
    unmarked,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve(undefined));
      }),
  };
}

/** An origin on which nothing listens (a port just released). */
export async function unusedOrigin() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(undefined)));
  const { port } = /** @type {import("node:net").AddressInfo} */ (server.address());
  await new Promise((resolve) => server.close(() => resolve(undefined)));
  return `http://127.0.0.1:${port}`;
}

/**
 * The backend's answers, chosen by the `x-compat-backend` request header:
 * - `default`: 200 JSON echo.
 * - `status-201`, `status-204`, `status-404`, `status-500`: that status (204 without body).
 * - `set-cookies`: a session cookie (no expiry) and a persistent one.
 * - `clear-session-cookie`: deletes the session cookie (Max-Age=0).
 * - `set-jsessionid`: a session cookie named like the router's (`JSESSIONID`).
 * - `redirect-abs`: 302 to an absolute URL on the backend itself (`<backend>/landing?x=1`).
 * - `redirect-abs-base`: 302 to `<backend>/base/landing` (inside a destination's base path).
 * - `redirect-rel`: 302 to `/relative/landing`.
 * - `redirect-ext`: 302 to `https://elsewhere.example/landing`.
 * - `xfo-deny`: its own `X-Frame-Options: DENY`.
 * - `custom-headers`: `X-Custom: backend`, `Cache-Control: private, max-age=60`,
 *   `Content-Security-Policy: default-src 'none'`.
 * - `hop-by-hop`: hop-by-hop response headers (`Proxy-Authenticate`, `Public`,
 *   `Keep-Alive`, and `X-Hop-Resp` nominated in `Connection`).
 * - `expose`: `X-Exposed: 1`.
 */
function answer(behaviour, req, res, id, origin) {
  const json = () => {
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ marker: id, method: req.method, url: req.url }));
  };
  switch (behaviour) {
    case "status-201":
    case "status-404":
    case "status-500":
      res.statusCode = Number(behaviour.slice(7));
      return json();
    case "status-204":
      res.statusCode = 204;
      return res.end();
    case "set-cookies":
      res.setHeader("set-cookie", ["BACKEND_SID=b1; Path=/; HttpOnly", "prefs=dark; Max-Age=3600; Path=/"]);
      return json();
    case "clear-session-cookie":
      res.setHeader("set-cookie", ["BACKEND_SID=; Max-Age=0; Path=/"]);
      return json();
    case "set-jsessionid":
      res.setHeader("set-cookie", ["JSESSIONID=from-backend; Path=/; HttpOnly"]);
      return json();
    case "redirect-abs":
      res.writeHead(302, { location: `${origin}/landing?x=1` });
      return res.end();
    case "redirect-abs-base":
      res.writeHead(302, { location: `${origin}/base/landing` });
      return res.end();
    case "redirect-rel":
      res.writeHead(302, { location: "/relative/landing" });
      return res.end();
    case "redirect-ext":
      res.writeHead(302, { location: "https://elsewhere.example/landing" });
      return res.end();
    case "xfo-deny":
      res.setHeader("x-frame-options", "DENY");
      return json();
    case "custom-headers":
      res.setHeader("x-custom", "backend");
      res.setHeader("cache-control", "private, max-age=60");
      res.setHeader("content-security-policy", "default-src 'none'");
      return json();
    case "hop-by-hop":
      res.setHeader("proxy-authenticate", "Basic realm=x");
      res.setHeader("public", "GET");
      res.setHeader("keep-alive", "timeout=5");
      res.setHeader("x-hop-resp", "1");
      res.setHeader("connection", "x-hop-resp");
      return json();
    case "expose":
      res.setHeader("x-exposed", "1");
      return json();
    default:
      return json();
  }
}

/**
 * A case's `destinationService`: the destination-service simulator with those destinations
 * (placeholders resolved), bound as VCAP_SERVICES `destination`; undefined without.
 */
export async function startCaseDestinationService(caseDef, origins) {
  if (!caseDef.destinationService) return undefined;
  const destinations = caseDef.destinationService.map((d) => ({
    ...d,
    URL: d.URL.replace("{backend}", origins.backend).replace("{unreachable}", origins.unreachable),
  }));
  const sim = await startDestinationSim({ destinations });
  return { sim, env: { VCAP_SERVICES: JSON.stringify({ destination: [sim.binding] }) } };
}

// ---------------------------------------------------------------------------------------
// Replaying a case
// ---------------------------------------------------------------------------------------

/**
 * @typedef {{ method: string, path: string, headers?: Record<string, string>, body?: string, jar?: boolean, note?: string }} CaseRequest
 * @typedef {{ status: number, headers: [string, string][], body: string }} RawResponse
 * @typedef {(request: { method: string, path: string, headers: Record<string, string>, body?: string }) => Promise<RawResponse>} Send
 * @typedef {{ router: string, routerHost: string, routerProto: string, backend: string, backendHost: string, unreachable: string }} Origins
 */

/**
 * Sends a case's requests in order through `send` and returns one observation per request.
 * The jar keeps the cookies the router sets (name → value; deletions honoured) and sends
 * them unless the request says `jar: false`. Request header values may use `{token}` (the
 * last x-csrf-token the router returned in this case) and `{session}` (the router session
 * cookie pair currently in the jar).
 */
export async function replayCase(caseDef, /** @type {Send} */ send, backend, /** @type {Origins} */ origins) {
  const sessionCookieName = caseDef.sessionCookieName ?? "JSESSIONID";
  const jar = new Map();
  const tokens = [];
  const observations = [];
  for (let i = 0; i < caseDef.requests.length; i++) {
    /** @type {CaseRequest} */
    const request = caseDef.requests[i];
    const id = `${caseDef.id}#${i}`;
    const headers = {};
    for (const [name, value] of Object.entries(request.headers ?? {})) {
      headers[name.toLowerCase()] = value
        .replaceAll("{token}", tokens.at(-1) ?? "no-token-yet")
        .replaceAll("{session}", `${sessionCookieName}=${jar.get(sessionCookieName) ?? ""}`);
    }
    const jarPairs = request.jar === false ? [] : [...jar].map(([n, v]) => `${n}=${v}`);
    const cookie = [...jarPairs, ...(headers.cookie ? [headers.cookie] : [])].join("; ");
    if (cookie) headers.cookie = cookie;
    else delete headers.cookie;
    headers[MARKER_HEADER] = id;
    const raw = await send({
      method: request.method,
      path: request.path,
      headers,
      ...(request.body !== undefined ? { body: request.body } : {}),
    });
    // Logout calls and other late backend traffic: give the backend a moment for this request's own entry.
    let seen = backend.take(id);
    if (seen.length === 0) {
      await new Promise((r) => setTimeout(r, 20));
      seen = backend.take(id);
    }
    const jarBefore = new Map(jar);
    const response = normaliseResponse(raw, {
      id,
      origins,
      sessionCookieName,
      jarBefore,
      tokens,
      extra: caseDef.observe?.response ?? [],
      body: caseDef.observe?.body === true,
    });
    applySetCookies(jar, raw);
    const token = headerValue(raw, "x-csrf-token");
    if (token !== undefined && token !== "Required" && token.toLowerCase() !== "fetch") tokens.push(token);
    observations.push({
      backend: normaliseBackend(seen, {
        origins,
        sessionCookieName,
        tokens,
        jar: jarBefore,
        extra: caseDef.observe?.backend ?? [],
      }),
      response,
    });
  }
  return observations;
}

function headerValue(raw, name) {
  const values = raw.headers.filter(([n]) => n.toLowerCase() === name).map(([, v]) => v);
  return values.length === 0 ? undefined : values.join(", ");
}

function applySetCookies(jar, raw) {
  for (const [name, value] of raw.headers) {
    if (name.toLowerCase() !== "set-cookie") continue;
    const parsed = parseSetCookie(value);
    if (parsed === null) continue;
    if (parsed.deleted) jar.delete(parsed.name);
    else jar.set(parsed.name, parsed.value);
  }
}

function parseSetCookie(header) {
  const [pair = "", ...rest] = header.split(";");
  const eq = pair.indexOf("=");
  if (eq === -1) return null;
  const name = pair.slice(0, eq).trim();
  const value = pair.slice(eq + 1).trim();
  const attributes = rest.map((a) => a.trim()).filter((a) => a !== "");
  let deleted = value === "";
  for (const attribute of attributes) {
    const [k = "", v = ""] = attribute.split("=", 2).map((s) => s.trim());
    if (k.toLowerCase() === "max-age" && Number(v) <= 0) deleted = true;
    if (k.toLowerCase() === "expires" && Date.parse(v) <= Date.now()) deleted = true;
  }
  return { name, value, attributes, deleted };
}

// ---------------------------------------------------------------------------------------
// Normalisation
// ---------------------------------------------------------------------------------------

/** Origins and hosts replaced by placeholders, longest first. */
function placeholders(text, origins) {
  return text
    .replaceAll(encodeURIComponent(origins.backend), "{backend}")
    .replaceAll(encodeURIComponent(origins.router), "{router}")
    .replaceAll(origins.unreachable, "{unreachable}")
    .replaceAll(origins.backend, "{backend}")
    .replaceAll(origins.router, "{router}")
    .replaceAll(origins.backendHost, "{backendHost}")
    .replaceAll(origins.routerHost, "{routerHost}");
}

/** What the client observed: status, the headers that matter, cookies with values redacted. */
export function normaliseResponse(
  /** @type {RawResponse} */ raw,
  { id, origins, sessionCookieName, jarBefore, tokens, extra, body = false },
) {
  const headers = {};
  for (const name of [...RESPONSE_HEADERS, ...extra]) {
    const value = headerValue(raw, name);
    if (value === undefined) continue;
    if (name === "x-csrf-token") {
      headers[name] = value === "Required" || value.toLowerCase() === "fetch" ? value : "<token>";
    } else {
      headers[name] = placeholders(value, origins);
    }
  }
  const fromBackend = raw.body.includes(`"marker":"${id}"`);
  const token = headerValue(raw, "x-csrf-token");
  let csrfToken;
  if (token !== undefined && token !== "Required" && token.toLowerCase() !== "fetch") {
    csrfToken = tokens.length === 0 ? "first" : tokens.includes(token) ? "same-as-before" : "new";
  }
  const setCookies = raw.headers
    .filter(([n]) => n.toLowerCase() === "set-cookie")
    .map(([, v]) => parseSetCookie(v))
    .filter((c) => c !== null)
    .map((c) => ({
      name: c.name,
      value:
        c.value === ""
          ? ""
          : c.name === sessionCookieName && jarBefore.get(c.name) === c.value
            ? "<same-as-jar>"
            : "<value>",
      attributes: c.attributes.map(normaliseAttribute).sort(),
    }))
    .sort((a, b) =>
      a.name === b.name ? JSON.stringify(a).localeCompare(JSON.stringify(b)) : a.name.localeCompare(b.name),
    );
  return {
    status: raw.status,
    headers,
    setCookies,
    ...(csrfToken ? { csrfToken } : {}),
    fromBackend,
    // `observe.body`: the router's own answers (static files, its endpoints), compared whole.
    ...(body && !fromBackend ? { body: placeholders(raw.body, origins) } : {}),
  };
}

function normaliseAttribute(attribute) {
  const eq = attribute.indexOf("=");
  const key = (eq === -1 ? attribute : attribute.slice(0, eq)).trim().toLowerCase();
  const value = eq === -1 ? undefined : attribute.slice(eq + 1).trim();
  if (value === undefined) return key;
  if (key === "expires") return `expires=${Date.parse(value) <= Date.now() ? "<past>" : "<future>"}`;
  if (key === "samesite") return `samesite=${value.toLowerCase()}`;
  return `${key}=${value}`;
}

const CLIENT_ADDRESSES = /^(?:127\.0\.0\.1|::ffff:127\.0\.0\.1|::1)$/;

/** What the backend observed for one client request (normally one request, or nothing). */
export function normaliseBackend(seen, { origins, sessionCookieName, tokens, jar, extra }) {
  if (seen.length === 0) return { arrived: false };
  const all = seen.map((entry) => {
    const q = entry.url.indexOf("?");
    const headers = {};
    for (const name of [...BACKEND_HEADERS, ...extra]) {
      const raw = entry.headers[name];
      if (raw === undefined) continue;
      let value = Array.isArray(raw) ? raw.join(", ") : raw;
      if (name === "cookie") value = normaliseCookieHeader(value, sessionCookieName, jar);
      else if (name === "x-csrf-token") value = tokens.includes(value) ? "<token>" : value;
      else if (name === "x-forwarded-for")
        value = value
          .split(",")
          .map((s) => (CLIENT_ADDRESSES.test(s.trim()) ? "{client}" : s.trim()))
          .join(", ");
      else if (name === "x-forwarded-proto") value = value === origins.routerProto ? "{routerProto}" : value;
      else value = placeholders(value, origins);
      headers[name] = value;
    }
    return {
      arrived: true,
      method: entry.method,
      path: q === -1 ? entry.url : entry.url.slice(0, q),
      query: q === -1 ? null : entry.url.slice(q + 1),
      headers,
      ...(entry.body !== "" ? { body: entry.body } : {}),
    };
  });
  return all.length === 1 ? all[0] : { arrived: true, count: all.length, requests: all };
}

/** Pairs sorted; the router's session cookie (if it leaks through) redacted. */
function normaliseCookieHeader(value, sessionCookieName, jar) {
  return value
    .split(";")
    .map((p) => p.trim())
    .filter((p) => p !== "")
    .map((pair) => {
      const eq = pair.indexOf("=");
      const name = eq === -1 ? pair : pair.slice(0, eq);
      if (name === sessionCookieName && jar.get(name) === pair.slice(eq + 1))
        return `${name}=<router-session>`;
      return pair;
    })
    .sort()
    .join("; ");
}
