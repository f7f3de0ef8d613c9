// scripts/lib/cli.mjs, the command-line helper every script uses, in real child processes: a
// bad argument gets the usage text and an error naming it (exit 2), an expected failure its
// message without a stack trace (exit 1), and on SIGTERM the stop stack stops what was started
// last first, reports a step that fails and still runs the others, and exits with the code asked for.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const CLI_URL = new URL("../../scripts/lib/cli.mjs", import.meta.url).href;

type Run = { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string };

/** Runs `node args…` in the repository, optionally sending `signal` once stdout says "ready". */
function run(args: string[], signal?: NodeJS.Signals): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8");
      if (signal && stdout.includes("ready\n") && !stdout.includes("sent\n")) {
        stdout += "sent\n";
        child.kill(signal);
      }
    });
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
    child.once("error", reject);
    child.once("exit", (code, sig) => {
      clearTimeout(timer);
      resolve({ code, signal: sig, stdout, stderr });
    });
  });
}

/** A module that starts four "services", each printing when it is stopped. */
const STACK_SCRIPT = `
import { stopOnSignals } from ${JSON.stringify(CLI_URL)};
const stack = stopOnSignals("demo", { exitCode: (signal) => (signal === "SIGTERM" ? 7 : 9) });
const stopped = (name) => () => console.log("stopped " + name);
stack.push(stopped("first"));
stack.push(async () => {
  await new Promise((r) => setTimeout(r, 50));
  console.log("stopped second (after a wait)");
});
stack.push(() => {
  throw new Error("third refuses");
});
stack.push(stopped("fourth"));
console.log("ready");
setInterval(() => {}, 1000);
`;

describe("scripts/lib/cli.mjs", () => {
  it("a bad flag: the error names it, then the usage text; exit 2", async () => {
    const unknown = await run(["scripts/local-redis.mjs", "--bogus"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("local-redis: Unknown option '--bogus'");
    expect(unknown.stderr).toContain("Usage: node scripts/local-redis.mjs");
    expect(unknown.stdout).toBe("");

    const badValue = await run(["scripts/demo-backend.mjs", "--port", "70000"]);
    expect(badValue.code).toBe(2);
    expect(badValue.stderr).toContain("demo-backend: --port must be a port number (0-65535)");
    expect(badValue.stderr).toContain("Usage: node scripts/demo-backend.mjs");

    const missing = await run(["scripts/sim/ias.mjs"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("IAS simulator: --redirect-uri is required");
  });

  it("--help prints the usage text on stdout and exits 0", async () => {
    const help = await run(["scripts/local-redis.mjs", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Usage: node scripts/local-redis.mjs");
    expect(help.stderr).toBe("");
  });

  it("an expected failure: its message, no stack trace; exit 1", async () => {
    const failed = await run(["scripts/init.mjs", "/nonexistent/approuter-project"]);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain("init: /nonexistent/approuter-project");
    expect(failed.stderr).not.toMatch(/\n\s+at /);
  });

  it("on SIGTERM the stop stack stops everything last first, a failing step reported, and exits with the asked code", async () => {
    const result = await run(["--input-type=module", "-e", STACK_SCRIPT], "SIGTERM");
    expect(result.signal).toBeNull();
    expect(result.code).toBe(7);
    const stops = result.stdout.split("\n").filter((line) => line.startsWith("stopped"));
    expect(stops).toEqual(["stopped fourth", "stopped second (after a wait)", "stopped first"]);
    expect(result.stderr).toContain("demo: while stopping: third refuses");
  });

  it("on SIGINT likewise, with the code for that signal", async () => {
    const result = await run(["--input-type=module", "-e", STACK_SCRIPT], "SIGINT");
    expect(result.code).toBe(9);
    expect(result.stdout).toContain("stopped first");
  });
});
