import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    runTempDir: string;
  }
}

/**
 * One temporary directory for the files the Node tests write (Worker bundles, assets
 * folders), removed when the run ends: a directory per bundle, left behind, piled up by
 * the thousand.
 */
export default function setup(project: TestProject) {
  const dir = mkdtempSync(join(tmpdir(), "approuter-edge-tests-"));
  project.provide("runTempDir", dir);
  return () => rmSync(dir, { recursive: true, force: true });
}
