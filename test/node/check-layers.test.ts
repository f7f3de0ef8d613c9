import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";

// scripts/check-layers.mjs, run as `npm run lint` runs it, on src/ and on small trees
// laid out like src/ (the real layer order applies to them).
const SCRIPT = join(import.meta.dirname, "../../scripts/check-layers.mjs");

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "check-layers-"));
  dirs.push(dir);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

function check(dir?: string) {
  const result = spawnSync(process.execPath, [SCRIPT, ...(dir ? [dir] : [])], { encoding: "utf8" });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

const LAYERED = {
  "http/pages.ts": "export const page = 1;\n",
  "session/store.ts": 'import { page } from "../http/pages.js";\nexport const store = page;\n',
  "handlers/route.ts":
    'import type { store } from "../session/store.js";\nexport type Route = typeof store;\n',
};

describe("scripts/check-layers.mjs", () => {
  it("passes on the repository's src/", () => {
    const { status, output } = check();
    expect(output).toContain("no import cycle and no upward import");
    expect(status).toBe(0);
  });

  it("passes on a layered tree, imports in comments not counted", () => {
    const dir = tree({
      ...LAYERED,
      "http/mutable.ts":
        '/**\n * Not an import: import { x } from "../handlers/route.js";\n */\nexport const m = 1;\n',
    });
    expect(check(dir).status).toBe(0);
  });

  it("fails on an import cycle, naming its files", () => {
    const dir = tree({
      ...LAYERED,
      "session/a.ts": 'import { b } from "./b.js";\nexport const a = () => b;\n',
      // A type import closes the cycle too: a reader still has to follow it.
      "session/b.ts": 'import type { a } from "./a.js";\nexport const b = 1 as unknown as typeof a;\n',
    });
    const { status, output } = check(dir);
    expect(status).toBe(1);
    expect(output).toContain("import cycle: session/a.ts → session/b.ts → session/a.ts");
  });

  it("fails on a lower layer importing a higher one (a multi-line import), naming both files", () => {
    const dir = tree({
      ...LAYERED,
      "session/uses-handler.ts":
        'import {\n  type Route,\n} from "../handlers/route.js";\nexport type R = Route;\n',
    });
    const { status, output } = check(dir);
    expect(status).toBe(1);
    expect(output).toContain(
      'session/uses-handler.ts (layer "session") imports handlers/route.ts (layer "handlers")',
    );
    expect(output).not.toContain("import cycle");
  });

  it("fails on a re-export from a higher layer and on a file in no layer", () => {
    const dir = tree({
      ...LAYERED,
      "http/reexport.ts": 'export type * from "../app.js";\n',
      "app.ts": "export type App = 1;\n",
      "misc/new.ts": "export const n = 1;\n",
    });
    const { status, output } = check(dir);
    expect(status).toBe(1);
    expect(output).toContain('http/reexport.ts (layer "foundation") imports app.ts (layer "app")');
    expect(output).toContain("misc/new.ts is in no layer");
  });
});
