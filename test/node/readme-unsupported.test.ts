import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { UNSUPPORTED_VARIABLES } from "../../src/config/unsupported-env.js";

/** The README's "SAP variables not supported" table, as [name, reason] rows. */
function readmeTable(): [string, string][] {
  const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
  const start = readme.indexOf("### SAP variables not supported");
  expect(start, "README section").toBeGreaterThan(0);
  const rows: [string, string][] = [];
  for (const line of readme.slice(start).split("\n").slice(1)) {
    if (line.startsWith("## ")) break;
    // The table may be padded to align its columns.
    const cells = /^\| `([^`]+)` +\| (.*?) +\|$/.exec(line);
    if (cells) rows.push([cells[1]!, cells[2]!]);
  }
  return rows;
}

describe("README", () => {
  it("lists every unsupported SAP variable the start-up warning can name, with the same reason", () => {
    expect(readmeTable()).toEqual(UNSUPPORTED_VARIABLES.map((v) => [v.name, v.reason]));
  });
});
