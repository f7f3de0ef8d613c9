#!/usr/bin/env node
// Keeps src/ layered: fails, naming the files, when an import cycle appears or a lower
// layer imports a higher one. `npm run lint` runs it.
//
//   node scripts/check-layers.mjs [dir]     (default: the repository's src/)
//
// Every relative import counts, `import type` included: a type import is still a
// dependency a reader has to follow. Specifiers are read with a regular expression (no
// parser dependency); the code base writes imports one way, which Biome keeps.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/**
 * The layers of src/, lowest first. A file may import files of its own layer or lower
 * ones, never higher. Entries are folders (ending in `/`) or files, relative to src/; a
 * file belongs to its most specific entry. The README's "Source map" says what each holds.
 */
export const LAYERS = [
  // Building blocks that know nothing of routes, sessions or logins; the configuration's
  // shapes (types only) so that they can take validated settings.
  { name: "foundation", paths: ["http/", "security/", "log.ts", "env.ts", "config/types.ts"] },
  // Validation of every variable and of xs-app.json.
  { name: "config", paths: ["config/"] },
  { name: "stores", paths: ["stores/"] },
  { name: "session", paths: ["session/"] },
  // Pure decisions on paths and files that the services below build on.
  { name: "routing", paths: ["routing/", "static/"] },
  // What a request uses: login and tokens, destinations, the HTML5 repository, the proxy.
  { name: "services", paths: ["auth/", "destinations/", "html5/", "proxy/"] },
  // Assembles the parsers of config/ with the bindings of destinations/ and html5/.
  { name: "config loader", paths: ["config/index.ts"] },
  // What answers a request, mounted by app.ts.
  { name: "handlers", paths: ["handlers/"] },
  // The composition root: the Hono app and what builds it once per isolate.
  { name: "app", paths: ["app.ts", "isolate.ts"] },
  // What the Worker runtime and users import.
  { name: "entries", paths: ["router.ts", "worker.ts", "index.ts"] },
];

const SOURCE = /\.(ts|mts|js|mjs)$/;

/** Relative paths (with `/`) of the source files under `dir`. */
function sourceFiles(dir, under = "") {
  const files = [];
  for (const name of readdirSync(join(dir, under)).sort()) {
    const path = under ? `${under}/${name}` : name;
    if (statSync(join(dir, path)).isDirectory()) files.push(...sourceFiles(dir, path));
    else if (SOURCE.test(name) && !name.endsWith(".d.ts")) files.push(path);
  }
  return files;
}

/** Comments out of the way, so that an import in a doc comment does not count. */
function withoutComments(text) {
  return text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|\s)\/\/.*$/gm, "$1");
}

const STATIC_IMPORT =
  /^\s*(?:import|export)\s+(?:type\s+)?(?:[\w$]+\s*,\s*)?(?:\{[^}]*\}|\*(?:\s+as\s+[\w$]+)?|[\w$]+)\s+from\s*["']([^"']+)["']/gm;
const SIDE_EFFECT_IMPORT = /^\s*import\s*["']([^"']+)["']/gm;
const DYNAMIC_IMPORT = /\bimport\s*\(\s*["']([^"']+)["']\s*\)/g;

/** The module specifiers `text` imports or re-exports. */
export function importSpecifiers(text) {
  const code = withoutComments(text);
  const found = [];
  for (const pattern of [STATIC_IMPORT, SIDE_EFFECT_IMPORT, DYNAMIC_IMPORT])
    for (const match of code.matchAll(pattern)) found.push(match[1]);
  return found;
}

/** The file of `files` a relative specifier of `from` names (`./x.js` is `x.ts`), or undefined. */
function resolveSpecifier(from, specifier, files) {
  if (!specifier.startsWith(".")) return undefined;
  const path = join(dirname(from), specifier).split(sep).join("/");
  const base = path.replace(/\.(js|mjs|ts|mts)$/, "");
  return [path, `${base}.ts`, `${base}.mts`, `${base}.js`, `${base}.mjs`, `${path}/index.ts`].find((p) =>
    files.has(p),
  );
}

/** The layer index of `file`: its most specific entry in LAYERS, or -1. */
function layerOf(file) {
  let best = -1;
  let bestLength = -1;
  LAYERS.forEach((layer, index) => {
    for (const path of layer.paths) {
      const covers = path.endsWith("/") ? file.startsWith(path) : file === path;
      if (covers && path.length > bestLength) [best, bestLength] = [index, path.length];
    }
  });
  return best;
}

/** Cycles of the import graph (strongly connected components of two or more files, or a self-import). */
function cycles(graph) {
  // Tarjan's algorithm, iterative, in file order so that the report is stable.
  const index = new Map();
  const low = new Map();
  const onStack = new Set();
  const stack = [];
  const found = [];
  let counter = 0;
  for (const start of graph.keys()) {
    if (index.has(start)) continue;
    const work = [[start, 0]];
    index.set(start, counter);
    low.set(start, counter++);
    stack.push(start);
    onStack.add(start);
    while (work.length > 0) {
      const frame = work[work.length - 1];
      const [node, next] = frame;
      const targets = graph.get(node);
      if (next < targets.length) {
        frame[1]++;
        const target = targets[next];
        if (!index.has(target)) {
          index.set(target, counter);
          low.set(target, counter++);
          stack.push(target);
          onStack.add(target);
          work.push([target, 0]);
        } else if (onStack.has(target)) low.set(node, Math.min(low.get(node), index.get(target)));
        continue;
      }
      work.pop();
      if (work.length > 0) {
        const parent = work[work.length - 1][0];
        low.set(parent, Math.min(low.get(parent), low.get(node)));
      }
      if (low.get(node) !== index.get(node)) continue;
      const component = [];
      let member;
      do {
        member = stack.pop();
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1 || targets.includes(node)) found.push(component.sort());
    }
  }
  return found;
}

/** One path through a cycle's files, first file repeated at the end: `a.ts → b.ts → a.ts`. */
function cyclePath(component, graph) {
  const members = new Set(component);
  const start = component[0];
  // Breadth-first from start back to start, inside the component.
  const previous = new Map();
  const queue = [start];
  while (queue.length > 0) {
    const node = queue.shift();
    for (const target of graph.get(node)) {
      if (!members.has(target)) continue;
      if (target === start) {
        const path = [start];
        for (let at = node; at !== start; at = previous.get(at)) path.unshift(at);
        path.unshift(start);
        return path;
      }
      if (!previous.has(target)) {
        previous.set(target, node);
        queue.push(target);
      }
    }
  }
  return [...component, start];
}

/**
 * The problems of the source tree under `dir`, each one line naming the files: cycles,
 * upward imports, files in no layer. Empty when the tree is layered.
 */
export function checkLayers(dir) {
  const files = sourceFiles(dir);
  const known = new Set(files);
  const graph = new Map();
  for (const file of files) {
    const targets = importSpecifiers(readFileSync(join(dir, file), "utf8"))
      .map((specifier) => resolveSpecifier(file, specifier, known))
      .filter((target) => target !== undefined);
    graph.set(file, [...new Set(targets)]);
  }

  const problems = [];
  for (const component of cycles(graph))
    problems.push(`import cycle: ${cyclePath(component, graph).join(" → ")}`);
  for (const file of files) {
    const layer = layerOf(file);
    if (layer === -1) {
      problems.push(`${file} is in no layer: add its folder to LAYERS in scripts/check-layers.mjs`);
      continue;
    }
    for (const target of graph.get(file)) {
      const targetLayer = layerOf(target);
      if (targetLayer > layer)
        problems.push(
          `${file} (layer "${LAYERS[layer].name}") imports ${target} (layer "${LAYERS[targetLayer].name}"): ` +
            "a lower layer may not import a higher one",
        );
    }
  }
  return problems;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const root = join(dirname(fileURLToPath(import.meta.url)), "..");
  const dir = resolve(process.argv[2] ?? join(root, "src"));
  const problems = checkLayers(dir);
  const shown = relative(process.cwd(), dir) || ".";
  if (problems.length > 0) {
    console.error(`check-layers: ${problems.length} problem(s) in ${shown}/ (layers, lowest first:`);
    console.error(`  ${LAYERS.map((l) => l.name).join(" → ")})`);
    for (const problem of problems) console.error(`  ${problem}`);
    process.exit(1);
  }
  console.log(`check-layers: ${shown}/ has no import cycle and no upward import`);
}
