import { type ChildProcess, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, expect, inject, it } from "vitest";
import { runNodeScript } from "../support/node-script.js";

/**
 * `node bench/api-costs.mjs` end to end, briefly: workerd under callgrind, one dump per
 * operation and round, each cost measured against the empty loop. Never a cost's value (it
 * moves with workerd's version), only what any correct measurement satisfies.
 */
let child: ChildProcess | undefined;
afterEach(() => {
  // It stops workerd on SIGINT.
  if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGINT");
  child = undefined;
});

it("prices calls into workerd against the empty loop", { timeout: 180_000 }, async () => {
  const json = join(mkdtempSync(join(inject("runTempDir"), "api-costs-")), "out.json");
  const script = runNodeScript("bench/api-costs.mjs", [
    "--only",
    "headers.has (absent),new Headers(Headers) of 8",
    "--iterations",
    "100",
    "--rounds",
    "1",
    "--json",
    json,
  ]);
  child = script.child;
  const { code, stdout, stderr } = await script.done;
  expect(code, stderr.slice(-3000)).toBe(0);
  expect(stdout).toContain("| operation | instructions per call | rounds (per iteration, loop included) |");

  const result = JSON.parse(readFileSync(json, "utf8"));
  const cost = Object.fromEntries(
    result.rows.map((r: { operation: string; perCall: number }) => [r.operation, r.perCall]),
  );
  expect(Object.keys(cost)).toEqual(["headers.has (absent)", "new Headers(Headers) of 8"]);
  // A call into the runtime is hundreds of instructions at least; copying eight headers is
  // dearer than looking one up. A dump mixed up with another operation's would break either.
  expect(cost["headers.has (absent)"]).toBeGreaterThan(200);
  expect(cost["new Headers(Headers) of 8"]).toBeGreaterThan(cost["headers.has (absent)"]);
  expect(result.floor).toBeGreaterThan(0);
});

it("refuses an operation it does not know, naming it, and leaves no workerd behind", {
  timeout: 120_000,
}, async () => {
  const script = runNodeScript("bench/api-costs.mjs", ["--only", "headers.frobnicate"]);
  child = script.child;
  const { code, stderr } = await script.done;
  expect(code).toBe(2);
  expect(stderr).toContain("no operation named headers.frobnicate");
  expect(stderr).toContain("Usage: node bench/api-costs.mjs");
  // workerd had started (the operations are listed by it): it was stopped before the exit.
  expect(stderr).toContain("there are: none;");
  expect(workerdsOf(script.child.pid)).toEqual([]);
});

/** workerd processes started under the script `pid` (by the config in its temporary directory). */
function workerdsOf(pid: number | undefined): string[] {
  try {
    return execFileSync("pgrep", ["-f", "approuter-edge-api-costs-.*config.capnp"], { encoding: "utf8" })
      .split("\n")
      .filter((line) => line !== "" && line !== String(pid));
  } catch {
    return []; // pgrep: none found
  }
}
