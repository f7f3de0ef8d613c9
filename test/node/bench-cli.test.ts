/**
 * Every `npm run bench:*` script answers --help with its usage line and refuses bad input
 * with that line and exit status 2, before it starts anything: never a stack trace.
 */
import { describe, expect, it } from "vitest";
import { runNodeScript } from "../support/node-script.js";

const SCRIPTS = [
  "bench/run.mjs",
  "bench/compare.mjs",
  "bench/profile.mjs",
  "bench/process-profile.mjs",
  "bench/instructions.mjs",
  "bench/api-costs.mjs",
  "bench/memory.mjs",
  "bench/regions.mjs",
];

describe.each(SCRIPTS)("%s", (script) => {
  it("answers --help with its usage line", async () => {
    const { code, stdout } = await runNodeScript(script, ["--help"]).done;
    expect(code).toBe(0);
    expect(stdout).toMatch(new RegExp(`^Usage: node ${script.replace(".", "\\.")} `));
  });

  it("refuses an unknown option with the usage line, exit 2, no stack trace", async () => {
    const { code, stderr } = await runNodeScript(script, ["--no-such-option"]).done;
    expect(code).toBe(2);
    expect(stderr).toContain("--no-such-option");
    expect(stderr).toContain(`Usage: node ${script}`);
    expect(stderr).not.toMatch(/\n\s+at /);
  });
});

describe("values the scripts check", () => {
  it.each([
    ["bench/memory.mjs", ["--requests", "many"], "--requests"],
    ["bench/regions.mjs", ["--only", "typical,nope"], "no run named nope"],
    ["bench/api-costs.mjs", ["--iterations", "0"], "Usage: node bench/api-costs.mjs"],
  ])("%s %j", async (script, args, named) => {
    const { code, stderr } = await runNodeScript(script, args).done;
    expect(code).toBe(2);
    expect(stderr).toContain(named);
  });
});
