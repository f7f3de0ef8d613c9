#!/usr/bin/env node
// A simulator of SAP BTP's HTML5 application repository runtime (service html5-apps-repo,
// plan app-runtime) on loopback, as SAP's application router calls it
// (@sap/approuter lib/utils/dynamic-routing-utils.js, path-rewriter.js):
//   POST <url>/oauth/token                    the binding's XSUAA: client_credentials
//                                             (client_secret_post or HTTP Basic)
//   GET  <uri>/<appName>[-<x.y.z>]/<path>     a file of an app; `uri` ends in
//                                             /applications/content as on BTP. Without a
//                                             version, the app's default (highest) version.
// Answers: 401 without a valid bearer token, 503 for an app the repository does not have
// (SAP's router reads that as "no such app"), 404 for a missing file, ETag and 304 on
// If-None-Match. Every request is logged in `sim.requests` for tests.
//
// As a module:  const sim = await startHtml5RepoSim({ apps: [{ name, version, files }] });
//               VCAP_SERVICES = { "html5-apps-repo": [sim.binding] }
// Standalone:   node scripts/sim/html5-repo.mjs [--port N] [--apps file.json]
//               prints VCAP_SERVICES (JSON) and serves until stopped.
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

const CONTENT = "/applications/content";

/**
 * @typedef {{ name: string, version?: string, files: Record<string, string | SimFile> }} SimApp
 * @typedef {{ body: string, type?: string, cacheControl?: string, rest?: Promise<string> }} SimFile `rest`: sent when it
 *   resolves, after `body` (a file still streaming)
 * @typedef {{ method: string, path: string, kind: "token" | "xs-app" | "file" | "other", status: number,
 *   app?: string, file?: string, clientAuth?: "post" | "basic", at: number }} SimRequest
 */

/** A sample app for the CLI and tests: index.html, a script and its xs-app.json. */
export function sampleApps() {
  const xsApp = {
    welcomeFile: "/index.html",
    authenticationMethod: "none",
    routes: [{ source: "^(.*)$", target: "$1", service: "html5-apps-repo-rt" }],
  };
  return [
    {
      name: "sample",
      version: "1.0.0",
      files: {
        "xs-app.json": JSON.stringify(xsApp),
        "index.html": "<!doctype html><title>sample</title><h1>sample 1.0.0</h1>",
        "app.js": "console.log('sample');",
      },
    },
  ];
}

/**
 * @param {{ apps?: SimApp[], host?: string, port?: number, clientId?: string, clientSecret?: string, tokenTtl?: number }} [options]
 */
export async function startHtml5RepoSim(options = {}) {
  const host = options.host ?? "127.0.0.1";
  const clientId = options.clientId ?? "sb-html5-apps-repo-rt-sim!b1|html5-apps-repo-uaa!b2";
  const clientSecret = options.clientSecret ?? randomBytes(18).toString("base64url");
  /** @type {Map<string, Map<string, SimApp>>} name → version → app */ const apps = new Map();
  /** @type {Map<string, number>} access token → expiry (ms) */ const accessTokens = new Map();
  /** @type {SimRequest[]} */ const requests = [];
  const state = { tokenTtl: options.tokenTtl ?? 3600, /** @type {null | "503" | "reset"} */ outage: null };

  const put = (/** @type {SimApp} */ app) => {
    const versions = apps.get(app.name) ?? new Map();
    versions.set(app.version ?? "1.0.0", app);
    apps.set(app.name, versions);
  };
  for (const app of options.apps ?? []) put(app);

  const server = createServer(
    recordedRequests({
      requests,
      state,
      kindOf,
      handle(req, res, url, requestBody, entry) {
        /** @param {number} status @param {Record<string, string>} headers @param {string} [body] @param {Promise<string>} [rest] */
        const send = (status, headers, body, rest) => {
          entry.status = status;
          res.writeHead(status, headers);
          if (rest === undefined || req.method === "HEAD")
            return void res.end(req.method === "HEAD" ? undefined : body);
          res.write(body ?? "");
          rest.then(
            (tail) => res.end(tail),
            () => res.destroy(),
          );
        };
        const json = (/** @type {number} */ status, /** @type {unknown} */ body) =>
          send(status, { "content-type": "application/json;charset=utf-8" }, JSON.stringify(body));
        if (state.outage === "503") return json(503, { error: "Service Unavailable" });
        try {
          if (url.pathname === "/uaa/oauth/token") {
            if (req.method !== "POST") return json(405, { error: "invalid_request" });
            return token(req.headers, requestBody, entry, json);
          }
          if (!url.pathname.startsWith(`${CONTENT}/`)) return json(404, { error: "Not Found" });
          if (req.method !== "GET" && req.method !== "HEAD")
            return json(405, { error: "Method Not Allowed" });
          if (!hasValidBearer(req.headers, accessTokens)) return json(401, { error: "Unauthorized" });
          return content(url.pathname.slice(CONTENT.length + 1), req.headers, entry, send, json);
        } catch {
          return json(500, { error: "simulator error" });
        }
      },
    }),
  );

  const token = tokenEndpoint({
    clientId,
    clientSecret,
    accessTokens,
    state,
    prefix: "sim-html5",
    scope: "html5-apps-repo-uaa!b2.app-runtime",
  });

  /**
   * @param {string} rest `<appKey>/<path>` @param {import("node:http").IncomingHttpHeaders} headers @param {SimRequest} entry
   * @param {(status: number, headers: Record<string, string>, body?: string, rest?: Promise<string>) => void} send @param {(s: number, b: unknown) => void} json
   */
  function content(rest, headers, entry, send, json) {
    const slash = rest.indexOf("/");
    const appKey = decodeURIComponent(slash === -1 ? rest : rest.slice(0, slash));
    const file = decodeURIComponent(slash === -1 ? "" : rest.slice(slash + 1));
    entry.app = appKey;
    entry.file = file;
    const version = /-(\d+\.\d+\.\d+)$/.exec(appKey);
    const name = version ? appKey.slice(0, version.index) : appKey;
    const versions = apps.get(name);
    const app =
      versions &&
      (version
        ? versions.get(version[1])
        : [...versions.entries()].sort(([a], [b]) => compareVersions(b, a))[0]?.[1]);
    // The repository answers 503 for an app it does not have (SAP's router relies on it).
    if (!app) return json(503, { error: `Application ${appKey} not found` });
    const found = app.files[file === "" ? "index.html" : file];
    if (found === undefined) return json(404, { error: "File not found" });
    const {
      body,
      type,
      cacheControl,
      rest: later,
    } = typeof found === "string"
      ? { body: found, type: undefined, cacheControl: undefined, rest: undefined }
      : found;
    const etag = `"${createHash("sha256").update(body).digest("base64url").slice(0, 20)}"`;
    /** @type {Record<string, string>} */
    const answer = {
      "content-type": type ?? typeFor(file),
      etag,
      ...(cacheControl ? { "cache-control": cacheControl } : {}),
    };
    if (header(headers, "if-none-match") === etag) return send(304, answer);
    return send(200, answer, body, later);
  }

  const { base, port } = await listen(server, host, options.port ?? 0);
  const binding = {
    label: "html5-apps-repo",
    provider: null,
    plan: "app-runtime",
    name: "html5-runtime",
    instance_name: "html5-runtime",
    tags: ["html5appsrepo", "html5-apps-repo-rt", "html5-apps-rt", "html5-apps-repo-dt", "html5-apps-dt"],
    credentials: {
      "sap.cloud.service": "html5-apps-repo-rt",
      grant_type: "client_credentials",
      uri: `${base}${CONTENT}`,
      vendor: "SAP",
      saasregistryenabled: true,
      uaa: {
        url: `${base}/uaa`,
        clientid: clientId,
        clientsecret: clientSecret,
        xsappname: "html5-apps-repo-uaa!b2",
        identityzone: "sim-subaccount",
        tenantmode: "dedicated",
        uaadomain: `${host}:${port}`,
        verificationkey: "-----BEGIN PUBLIC KEY-----\nnot-used-by-the-router\n-----END PUBLIC KEY-----",
      },
    },
  };

  return {
    url: base,
    binding,
    clientId,
    clientSecret,
    /** Every request received, in order. */
    requests,
    /** How many requests of a kind (token / xs-app / file) were received. */
    count: (/** @type {SimRequest["kind"]} */ kind) => requests.filter((r) => r.kind === kind).length,
    /** Adds or replaces an app version. */
    setApp: put,
    removeApp(/** @type {string} */ name) {
      apps.delete(name);
    },
    ...outageControls({ server, state, accessTokens }),
    reset() {
      requests.length = 0;
    },
  };
}

/** @param {string} path @returns {SimRequest["kind"]} */
function kindOf(path) {
  if (path === "/uaa/oauth/token") return "token";
  if (!path.startsWith(`${CONTENT}/`)) return "other";
  return /^[^/]+\/xs-app\.json$/.test(path.slice(CONTENT.length + 1)) ? "xs-app" : "file";
}

/** @param {string} a @param {string} b */
function compareVersions(a, b) {
  const x = a.split(".").map(Number);
  const y = b.split(".").map(Number);
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return (x[i] ?? 0) - (y[i] ?? 0);
  return 0;
}

/** @param {string} file */
function typeFor(file) {
  const ext = file.slice(file.lastIndexOf(".") + 1).toLowerCase();
  return (
    {
      html: "text/html; charset=utf-8",
      js: "application/javascript; charset=utf-8",
      json: "application/json; charset=utf-8",
      css: "text/css; charset=utf-8",
    }[ext] ?? "application/octet-stream"
  );
}

const USAGE = `Usage: node scripts/sim/html5-repo.mjs [--port N] [--host H] [--apps FILE]
  --apps FILE  the applications (JSON array); default: a sample app`;

await runIfMain(
  import.meta.url,
  serviceSimCommand({
    name: "HTML5 application repository simulator",
    usage: USAGE,
    service: "html5-apps-repo",
    options: { apps: { type: "string" } },
    start: (values, address) =>
      startHtml5RepoSim({
        apps: values.apps ? JSON.parse(readFileSync(values.apps, "utf8")) : sampleApps(),
        ...address,
      }),
  }),
);
