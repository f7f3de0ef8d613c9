#!/usr/bin/env node
// `npm run dev` (and `approuter-edge dev` in a generated project): `wrangler dev` on one's
// own configuration, with the same quiet offline settings as `npm start` and no demo.
// Variables come from SAP's default-env.json (and default-services.json) when present, then
// from .dev.vars (or .env), which wins; APPROUTER_DEV=true makes configuration problems show
// on the error page. Stops wrangler and its workerd processes on Ctrl-C / SIGTERM.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { CliError, command, parseCommandLine, portOf, runIfMain } from "./lib/cli.mjs";
import { dotenvLine } from "./lib/dotenv.mjs";
import { freePort } from "./lib/free-port.mjs";
import { readSapEnv } from "./lib/sap-env.mjs";
import { announceWhenReady, findWrangler, wranglerStopStack } from "./lib/wrangler-dev.mjs";

export { OFFLINE_ENV } from "./lib/wrangler-dev.mjs";

const HOST = "127.0.0.1";

const USAGE = `Usage: approuter-edge dev [--port N] [--dir DIR]      (npm run dev)

Runs your router under \`wrangler dev\` on http://${HOST}:PORT (default 8787) with your own
configuration: wrangler.toml, xs-app.json, SAP's default-env.json (and default-services.json)
when present, then .dev.vars (or .env), whose values win. Offline: no metrics, no error
reports, no Cloudflare API. Configuration problems are listed on the router's error page.`;

/** @param {string[]} argv */
async function run(argv) {
  const parsed = parseCommandLine(argv, {
    usage: USAGE,
    options: { port: { type: "string" }, dir: { type: "string" } },
  });
  if (!parsed) return 0;
  const { values } = parsed;
  const port = portOf(values.port, "--port") ?? portOf(process.env.PORT, "PORT") ?? 8787;
  const dir = resolve(values.dir ?? process.cwd());
  if (!existsSync(join(dir, "wrangler.toml")))
    throw new CliError(
      `no wrangler.toml in ${dir}; run this in your edge project (or create one with \`approuter-edge init <approuter folder>\`)`,
    );
  const bin = findWrangler([join(dir, "package.json"), fileURLToPath(import.meta.url)]);
  const sap = readSapEnv(dir);

  const { stack, startWrangler } = wranglerStopStack("dev");
  const envFile = writeEnvFile(sap.vars, stack);
  const local = [".dev.vars", ".env"].find((f) => existsSync(join(dir, f)));
  const envFiles = [envFile, ...(local ? [join(dir, local)] : [])]; // later files win
  const sources = [...sap.files, ...(local ? [local] : [])];

  const wrangler = startWrangler({
    bin,
    cwd: dir,
    host: HOST,
    port,
    inspectorPort: await freePort(HOST),
    envFiles,
    env: { ...process.env, CLOUDFLARE_INCLUDE_PROCESS_ENV: "false" },
  });
  await announceWhenReady(
    wrangler,
    HOST,
    port,
    `approuter-edge: http://${HOST}:${port} (your configuration${sources.length ? ` from ${sources.join(", ")}` : ""}; Ctrl-C stops it)`,
  );
  const code = await wrangler.exited;
  await stack.stop();
  return code;
}

/**
 * The variables of default-env.json as an env file for one run of wrangler dev (removed when it stops).
 * @param {Record<string, unknown>} vars @param {import("./lib/cli.mjs").StopStack} stack
 */
function writeEnvFile(vars, stack) {
  const lines = [
    "# written by approuter-edge dev for one run of wrangler dev; removed when it stops",
    "APPROUTER_DEV='true'",
  ];
  for (const [name, value] of Object.entries(vars)) {
    const line = dotenvLine(name, value);
    if (line === null)
      console.error(
        `dev: default-env.json: ${name} is left out (not valid JSON, or text with $, ' or a line break); set it in .dev.vars`,
      );
    else lines.push(line);
  }
  const tempDir = mkdtempSync(join(tmpdir(), "approuter-edge-dev-"));
  const removeTemp = () => rmSync(tempDir, { recursive: true, force: true });
  stack.push(removeTemp);
  process.on("exit", removeTemp);
  const envFile = join(tempDir, "vars.env");
  writeFileSync(envFile, `${lines.join("\n")}\n`, { mode: 0o600 });
  return envFile;
}

/** `approuter-edge dev`: the exit code once wrangler has stopped. */
export const main = command({ name: "dev", usage: USAGE, main: run });

await runIfMain(import.meta.url, main);
