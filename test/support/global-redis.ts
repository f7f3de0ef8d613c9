import { spawn } from "node:child_process";
import { once } from "node:events";
import { resolve } from "node:path";
import { createInterface } from "node:readline";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    upstashUrl: string;
    upstashToken: string;
  }
}

/**
 * One real redis-server + REST endpoint for the tests that run inside workerd, started
 * as the documented CLI in a child process (this project's Vite pipeline resolves
 * modules for workerd, not for Node).
 */
export default async function setup(project: TestProject) {
  const script = resolve(import.meta.dirname, "../../scripts/local-redis.mjs");
  const child = spawn(process.execPath, [script], { stdio: ["ignore", "pipe", "inherit"] });
  const found: Record<string, string> = {};
  const lines = createInterface({ input: child.stdout! });
  const ready = new Promise<void>((resolveReady, reject) => {
    child.once("exit", (code) => reject(new Error(`local-redis exited early (${code})`)));
    lines.on("line", (line) => {
      const [name, ...rest] = line.split("=");
      if (name) found[name] = rest.join("=");
      if (found.UPSTASH_REDIS_REST_URL && found.UPSTASH_REDIS_REST_TOKEN) resolveReady();
    });
  });
  await ready;
  project.provide("upstashUrl", found.UPSTASH_REDIS_REST_URL!);
  project.provide("upstashToken", found.UPSTASH_REDIS_REST_TOKEN!);
  return async () => {
    child.removeAllListeners("exit");
    child.kill("SIGTERM");
    if (child.exitCode === null) await once(child, "exit");
  };
}
