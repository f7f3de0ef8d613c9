import type { ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, expect, inject, it } from "vitest";
import { runNodeScript } from "../support/node-script.js";

/**
 * `node bench/instructions.mjs` end to end, briefly: workerd under callgrind counts, the
 * dumps are read per Worker, the counts are plausible. Never a count's value (it moves with
 * workerd's version), only what any correct count satisfies.
 */
let child: ChildProcess | undefined;
afterEach(() => {
  // It stops workerd, redis-server and the backend on SIGINT.
  if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGINT");
  child = undefined;
});

function run(args: string[]) {
  const script = runNodeScript("bench/instructions.mjs", args);
  child = script.child;
  return script.done;
}

it("counts workerd's instructions per request for each Worker", { timeout: 240_000 }, async () => {
  const json = join(mkdtempSync(join(inject("runTempDir"), "instructions-")), "out.json");
  const { code, stdout, stderr } = await run([
    "--scenario",
    "logged-in",
    "-n",
    "40",
    "--warmup",
    "60",
    "--rounds",
    "2",
    "--steps",
    "--json",
    json,
  ]);
  expect(code, stderr.slice(-3000)).toBe(0);
  expect(stdout).toContain(
    "| Worker | instructions/request | rounds | ratio to pass-through | above pass-through | above reference |",
  );
  expect(stdout).toContain(
    "| spent in | pass-through | reference proxy | forward as is | + request headers copied | + response copied | + both copied | + bounded wait only | reference proxy + token | router logged-in |",
  );
  expect(stdout).toMatch(/router logged-in − reference proxy \+ token: [+-]\d/);

  const result = JSON.parse(readFileSync(json, "utf8"));
  expect(result.requests).toBe(40);
  const byId = Object.fromEntries(
    result.columns.map((c: { id: string; perRequest: number; rounds: number[] }) => [c.id, c]),
  );
  expect(Object.keys(byId)).toEqual([
    "floor",
    "reference",
    "step-as-is",
    "step-request",
    "step-response",
    "step-both",
    "step-wait",
    "reference-token",
    "logged-in",
  ]);
  expect(stdout).toContain("| forward as is |");
  for (const column of result.columns) {
    expect(column.rounds).toHaveLength(2);
    // A request through workerd is tens of thousands of instructions at least, and far fewer
    // than the billions a dump mixed up with start-up or warm-up would hold.
    for (const count of column.rounds) {
      expect(count, column.id).toBeGreaterThan(20_000);
      expect(count, column.id).toBeLessThan(20_000_000);
    }
  }
  // Each Worker does at least what the one before it does (the pass-through's fetch, then a
  // proxy's header copies, then a 2 KB token besides, then the router's session and login
  // checks): a dump attributed to the wrong Worker would break the order.
  expect(byId.reference.perRequest).toBeGreaterThan(byId.floor.perRequest);
  expect(byId["reference-token"].perRequest).toBeGreaterThan(byId.reference.perRequest);
  expect(byId["logged-in"].perRequest).toBeGreaterThan(byId["reference-token"].perRequest);
  // --steps: copying both ways costs far more than forwarding as is (some 85k instructions
  // with a browser's headers; a round moves by less), and the reference does both and more.
  expect(byId["step-both"].perRequest).toBeGreaterThan(byId["step-as-is"].perRequest);
  expect(byId.reference.perRequest).toBeGreaterThan(byId["step-as-is"].perRequest);
});
