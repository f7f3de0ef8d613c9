// The README's troubleshooting table has one row for every error code the router can show,
// and no row for a code that does not exist.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ERROR_CODES, renderErrorPage } from "../../src/http/pages.js";

const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
const section = readme.slice(
  readme.indexOf("## Troubleshooting"),
  readme.indexOf("\n## ", readme.indexOf("## Troubleshooting") + 1),
);
// The table may be padded to align its columns.
const rows = [...section.matchAll(/^\| `([A-Z0-9_]+)` +\| ([^|]+) \| ([^|]+) \| ([^|]+) \| ([^|]+) \|$/gm)];

describe("README troubleshooting table", () => {
  it("lists every error code once, with status, what the user sees, what it means and what to check", () => {
    expect(rows.map((r) => r[1]).sort()).toEqual([...ERROR_CODES].sort());
    for (const row of rows) {
      for (const cell of row.slice(2)) expect(cell!.trim().length, row[0]).toBeGreaterThan(2);
      // "the user sees": the page's heading
      expect(row[3]!.trim(), row[1]).toBe(
        /<h1>([^<]+)<\/h1>/.exec(renderErrorPage(500, row[1] as (typeof ERROR_CODES)[number]))![1],
      );
    }
  });
});
