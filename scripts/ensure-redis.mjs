#!/usr/bin/env node
// Run before the tests: make sure `redis-server` is available (the node tests start their own).
// Installs it with apt-get when we are root on Debian/Ubuntu; otherwise explains how to.
import { spawnSync } from "node:child_process";

/** @param {string} command @param {string[]} args */
function succeeds(command, args) {
  const result = spawnSync(command, args, { stdio: "ignore" });
  return !result.error && result.status === 0;
}

if (succeeds("redis-server", ["--version"])) process.exit(0);

const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
if (process.platform === "linux" && isRoot && succeeds("apt-get", ["--version"])) {
  console.error("redis-server not found; installing it with apt-get …");
  // Captured, and shown only on failure, to keep test output quiet.
  const install = spawnSync("sh", ["-c", "apt-get update -qq && apt-get install -y -qq redis-server"], {
    encoding: "utf8",
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    maxBuffer: 64 * 1024 * 1024,
  });
  if (install.status === 0 && succeeds("redis-server", ["--version"])) process.exit(0);
  console.error(
    `${install.stdout ?? ""}${install.stderr ?? ""}${install.error ? String(install.error) : ""}`,
  );
  console.error("Installing redis-server with apt-get failed (output above).");
  process.exit(1);
}

const command = process.platform === "darwin" ? "brew install redis" : "sudo apt-get install -y redis-server";
console.error(`redis-server is required for the tests. Install it with: ${command}`);
process.exit(1);
