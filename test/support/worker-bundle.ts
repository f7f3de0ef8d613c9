import { build } from "esbuild";
import { mkdtempSync } from "node:fs";
import { join, resolve } from "node:path";
import { inject } from "vitest";

const root = resolve(import.meta.dirname, "../..");

/** The Worker with a test-set idle timeout in milliseconds (binding `TEST_IDLE_TIMEOUT_MS`). */
export const SHORT_IDLE_ENTRY = "test/support/worker-entries/short-idle.ts";

/**
 * Bundles the worker as wrangler would (ESM, workerd conditions), with the custom store
 * alias pointed at `customStore` (a path relative to the project root) when given;
 * `entry` (relative to the project root) is the Worker's main module.
 */
export async function bundleWorker(
  customStore = "./src/stores/no-custom-store.ts",
  entry = "src/index.ts",
): Promise<string> {
  // Under the run's directory (global-temp-dir.ts), removed when the run ends.
  const outdir = mkdtempSync(join(inject("runTempDir"), "bundle-"));
  const outfile = join(outdir, "worker.mjs");
  await build({
    entryPoints: [join(root, entry)],
    outfile,
    bundle: true,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    conditions: ["workerd", "worker", "browser"],
    mainFields: ["module", "main"],
    external: ["cloudflare:*"],
    alias: { "approuter-custom-store": join(root, customStore) },
    logLevel: "error",
  });
  return outfile;
}
