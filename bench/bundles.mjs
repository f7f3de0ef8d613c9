// Bundles the benchmark needs, written to a temporary directory: the router Worker as it is
// deployed (`wrangler deploy --dry-run --outdir`: wrangler.toml's minify and alias), the
// bench codec and router-CPU Workers, and a Node ESM bundle of the project's codec, key
// ring and first tier (esbuild).
import { execFile, execFileSync } from "node:child_process";
import { build } from "esbuild";
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";

export const ROOT = resolve(import.meta.dirname, "..");

const workerOptions = {
  bundle: true,
  format: /** @type {const} */ ("esm"),
  platform: /** @type {const} */ ("neutral"),
  target: "es2022",
  conditions: ["workerd", "worker", "browser"],
  mainFields: ["module", "main"],
  external: ["cloudflare:*"],
  logLevel: /** @type {const} */ ("error"),
};

/**
 * Miniflare options of a Worker on its own loopback socket (`mf.unsafeGetDirectURL(name)`).
 * @param {string} name @param {string} scriptPath @param {Record<string, string>} bindings
 */
export function directSocketWorker(name, scriptPath, bindings) {
  return {
    name,
    modules: true,
    scriptPath,
    modulesRoot: dirname(scriptPath),
    compatibilityDate: "2026-04-26",
    bindings,
    unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }],
  };
}

/** Only the router Worker (as test/support/worker-bundle.ts builds it). @returns {Promise<{ router: string, cleanup(): void }>} */
export async function buildRouterBundle() {
  const dir = mkdtempSync(join(tmpdir(), "approuter-edge-bench-"));
  const router = join(dir, "router.mjs");
  await build({
    ...workerOptions,
    entryPoints: [join(ROOT, "src/index.ts")],
    outfile: router,
    alias: { "approuter-custom-store": join(ROOT, "src/stores/no-custom-store.ts") },
  });
  return { router, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * The router Worker exactly as `wrangler deploy` would upload it, moved to `outfile`.
 * @param {string} outdir @param {string} outfile
 */
function deployedBundle(outdir, outfile) {
  return new Promise((resolvePromise, reject) => {
    execFile(
      join(ROOT, "node_modules/.bin/wrangler"),
      ["deploy", "--dry-run", "--outdir", outdir],
      { cwd: ROOT, env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "1" }, timeout: 120_000 },
      (error, _stdout, stderr) => {
        if (error) reject(new Error(`wrangler deploy --dry-run failed: ${error.message}\n${stderr}`));
        else {
          renameSync(join(outdir, "index.js"), outfile);
          resolvePromise(undefined);
        }
      },
    );
  });
}

/** @returns {Promise<{ dir: string, router: string, codecWorker: string, routerCpuWorker: string, nodeLib: string, cleanup(): void }>} */
export async function buildBundles() {
  const dir = mkdtempSync(join(tmpdir(), "approuter-edge-bench-"));
  const router = join(dir, "router.mjs");
  const codecWorker = join(dir, "codec-worker.mjs");
  const routerCpuWorker = join(dir, "router-cpu-worker.mjs");
  const nodeLib = join(dir, "node-lib.mjs");
  try {
    await Promise.all([
      deployedBundle(join(dir, "deploy"), router),
      build({ ...workerOptions, entryPoints: [join(ROOT, "bench/codec-worker.ts")], outfile: codecWorker }),
      build({
        ...workerOptions,
        entryPoints: [join(ROOT, "bench/router-cpu-worker.ts")],
        outfile: routerCpuWorker,
        alias: { "approuter-custom-store": join(ROOT, "src/stores/no-custom-store.ts") },
      }),
      buildNodeLib(nodeLib),
    ]);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    dir,
    router,
    codecWorker,
    routerCpuWorker,
    nodeLib,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * A git revision's sources (`src`, `xs-app.json`) extracted into `dir` (made if need be),
 * which should lie under node_modules/.cache: they resolve their dependencies from the
 * working tree's node_modules. Returns the revision's short hash.
 * @param {string} ref @param {string} dir
 */
export function extractRevision(ref, dir) {
  const commit = execFileSync("git", ["rev-parse", "--short", ref], { cwd: ROOT, encoding: "utf8" }).trim();
  mkdirSync(dir, { recursive: true });
  execFileSync("sh", ["-c", `git archive ${commit} src xs-app.json | tar -x -C "${dir}"`], { cwd: ROOT });
  return commit;
}

/**
 * The router Worker built from the sources under `root` (the working tree, or an extracted
 * git revision), minified as wrangler.toml deploys it.
 * @param {string} root @param {string} outfile
 */
export function buildRouterFrom(root, outfile) {
  return build({
    ...workerOptions,
    minify: true,
    entryPoints: [join(root, "src/index.ts")],
    outfile,
    alias: { "approuter-custom-store": join(root, "src/stores/no-custom-store.ts") },
  });
}

/**
 * bench/router-cpu-worker.ts built against the sources under `root`.
 * @param {string} root @param {string} outfile
 */
export function buildRouterCpuFrom(root, outfile) {
  return build({
    ...workerOptions,
    stdin: {
      contents: readFileSync(join(ROOT, "bench/router-cpu-worker.ts"), "utf8"),
      resolveDir: join(root, "bench"),
      loader: "ts",
      sourcefile: "router-cpu-worker.ts",
    },
    outfile,
    alias: { "approuter-custom-store": join(root, "src/stores/no-custom-store.ts") },
  });
}

/** A Node ESM bundle of the project's codec, key ring and first tier. @param {string} outfile */
export function buildNodeLib(outfile) {
  return build({
    stdin: {
      contents: [
        'export { seal, open, fingerprint } from "./src/session/codec.ts";',
        'export { KeyRing } from "./src/session/keyring.ts";',
        'export { MemoryTier, entryBytes } from "./src/session/memory-tier.ts";',
      ].join("\n"),
      resolveDir: ROOT,
      loader: "ts",
      sourcefile: "bench-node-lib.ts",
    },
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    outfile,
    logLevel: "error",
  });
}
