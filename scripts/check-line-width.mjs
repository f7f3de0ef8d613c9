#!/usr/bin/env node
// Biome wraps code at 110 columns but not comments or long string literals: this fails, naming
// file and line, when a line of src/ is longer (npm run lint).
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const WIDTH = 110;
const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** @param {string} dir @returns {string[]} */
function sources(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? sources(path) : entry.name.endsWith(".ts") ? [path] : [];
  });
}

const long = sources(join(ROOT, "src")).flatMap((file) =>
  readFileSync(file, "utf8")
    .split("\n")
    .flatMap((line, i) => (line.length > WIDTH ? [`${relative(ROOT, file)}:${i + 1} (${line.length})`] : [])),
);
if (long.length > 0) {
  console.error(
    `check-line-width: ${long.length} line(s) of src/ over ${WIDTH} characters:\n  ${long.join("\n  ")}`,
  );
  process.exit(1);
}
console.log(`check-line-width: no line of src/ over ${WIDTH} characters`);
