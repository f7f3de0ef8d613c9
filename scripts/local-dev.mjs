#!/usr/bin/env node
// `npm run dev` (and `approuter-edge dev` in a generated project): `wrangler dev` on one's
// own configuration, with the same quiet offline settings as `npm start` and no demo.
// Variables come from SAP's default-env.json (and default-services.json) when present, then
// from .dev.vars (or .env), which wins; APPROUTER_DEV=true makes configuration problems show
// on the error page. Stops wrangler and its workerd processes on Ctrl-C / SIGTERM.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { constants, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { dotenvLine } from "./lib/dotenv.mjs";
import { accepts } from "./lib/free-port.mjs";
import { readSapEnv } from "./lib/sap-env.mjs";

const HOST = "127.0.0.1";
const STOP_GRACE_MS = 8000;
/** Keeps wrangler offline: no metrics, no error reports, no Cloudflare API lookups. */
export const OFFLINE_ENV = {
  WRANGLER_SEND_METRICS: "false",
  WRANGLER_SEND_ERROR_REPORTS: "false",
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
  WRANGLER_HIDE_BANNER: "true",
};

const USAGE = `Usage: approuter-edge dev [--port N] [--dir DIR]      (npm run dev)

Runs your router under \`wrangler dev\` on http://${HOST}:PORT (default 8787) with your own
configuration: wrangler.toml, xs-app.json, SAP's default-env.json (and default-services.json)
when present, then .dev.vars (or .env), whose values win. Offline: no metrics, no error
reports, no Cloudflare API. Configuration problems are listed on the router's error page.`;

/** @param {string[]} argv */
export async function main(argv) {
  /** @type {{ port?: string, dir?: string, help?: boolean }} */
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { port: { type: "string" }, dir: { type: "string" }, help: { type: "boolean", short: "h" } },
    }));
  } catch (err) {
    console.error(`dev: ${err instanceof Error ? err.message : err}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const port = Number(values.port ?? process.env.PORT ?? 8787);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    console.error(`dev: --port must be a port number (1-65535)\n\n${USAGE}`);
    return 2;
  }
  const dir = resolve(values.dir ?? process.cwd());
  if (!existsSync(join(dir, "wrangler.toml"))) {
    console.error(
      `dev: no wrangler.toml in ${dir}; run this in your edge project (or create one with \`approuter-edge init <approuter folder>\`)`,
    );
    return 2;
  }

  let wranglerBin;
  for (const base of [join(dir, "package.json"), fileURLToPath(import.meta.url)]) {
    try {
      wranglerBin = createRequire(base).resolve("wrangler/bin/wrangler.js");
      break;
    } catch {
      // next
    }
  }
  if (!wranglerBin) {
    console.error("dev: wrangler is not installed; run `npm install` first.");
    return 1;
  }

  let sap;
  try {
    sap = readSapEnv(dir);
  } catch (err) {
    console.error(`dev: ${err instanceof Error ? err.message : err}`);
    return 1;
  }
  const lines = [
    "# written by approuter-edge dev for one run of wrangler dev; removed when it stops",
    "APPROUTER_DEV='true'",
  ];
  for (const [name, value] of Object.entries(sap.vars)) {
    const line = dotenvLine(name, value);
    if (line === null)
      console.error(
        `dev: default-env.json: ${name} is left out (not valid JSON, or text with $, ' or a line break); set it in .dev.vars`,
      );
    else lines.push(line);
  }
  const tempDir = mkdtempSync(join(tmpdir(), "approuter-edge-dev-"));
  const removeTemp = () => rmSync(tempDir, { recursive: true, force: true });
  process.on("exit", removeTemp);
  const envFile = join(tempDir, "vars.env");
  writeFileSync(envFile, `${lines.join("\n")}\n`, { mode: 0o600 });
  const envFiles = [envFile];
  const local = [".dev.vars", ".env"].find((f) => existsSync(join(dir, f)));
  if (local) envFiles.push(join(dir, local)); // later files win
  const sources = [...sap.files, ...(local ? [local] : [])];

  const args = [
    wranglerBin,
    "dev",
    "--ip",
    HOST,
    "--port",
    String(port),
    "--log-level",
    "warn",
    "--show-interactive-dev-session=false",
  ];
  for (const file of envFiles) args.push("--env-file", file);
  const child = spawn(process.execPath, args, {
    cwd: dir,
    env: { ...process.env, ...OFFLINE_ENV, CLOUDFLARE_INCLUDE_PROCESS_ENV: "false" },
    stdio: ["ignore", "inherit", "inherit"],
    detached: process.platform !== "win32", // its own group: workerd goes with it
  });
  const killGroup = (/** @type {NodeJS.Signals} */ signal) => {
    try {
      if (process.platform === "win32") child.kill(signal);
      else process.kill(-(/** @type {number} */ (child.pid)), signal);
    } catch {
      // gone
    }
  };
  let stopping = false;
  const onSignal = () => {
    if (stopping) return killGroup("SIGKILL");
    stopping = true;
    child.kill("SIGTERM");
    setTimeout(() => killGroup("SIGKILL"), STOP_GRACE_MS).unref();
  };
  for (const signal of /** @type {NodeJS.Signals[]} */ (["SIGINT", "SIGTERM", "SIGHUP"]))
    process.on(signal, onSignal);

  const exited = new Promise((resolveExit) =>
    child.once("exit", (code, signal) => {
      killGroup("SIGKILL"); // anything of wrangler's still around
      resolveExit(code ?? 128 + ((signal && constants.signals[signal]) || 1));
    }),
  );
  let done = false;
  void exited.then(() => (done = true));
  while (!done) {
    if (await accepts(port, HOST)) {
      console.log(
        `approuter-edge: http://${HOST}:${port} (your configuration${sources.length ? ` from ${sources.join(", ")}` : ""}; Ctrl-C stops it)`,
      );
      break;
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  return /** @type {Promise<number>} */ (exited);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
