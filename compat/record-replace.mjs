#!/usr/bin/env node
/**
 * Records how SAP's router renders `replace` templates: SAP renders every matching file
 * with mustache.js (the version @sap/approuter depends on) and a view of env variables and
 * service credentials. This renders a fixed, pseudo-random set of templates built from the
 * tags real files use with SAP's own mustache and writes test/compat/replace-expectations.json;
 * test/unit/replace.test.ts renders the same templates with src/static/replace.ts, whole
 * and streamed in small chunks, and compares.
 *
 *   node compat/record-replace.mjs [path to node_modules holding mustache]
 *
 * Default: compat/sap/node_modules (after `cd compat/sap && npm ci`), else /work/sap-ref/node_modules.
 */
import { createRequire } from "node:module";
import { existsSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const candidates = [process.argv[2], join(here, "sap/node_modules"), "/work/sap-ref/node_modules"].filter(
  Boolean,
);
const modules = candidates.find((dir) => existsSync(join(dir, "mustache/package.json")));
if (!modules) throw new Error("mustache (SAP's dependency) not found: run `cd compat/sap && npm ci` first");
const require = createRequire(join(modules, "x.js"));
const mustache = require("mustache");
const version = require("mustache/package.json").version;

const view = {
  A: 'x<"y">/=`\'&',
  B: "",
  N: null,
  T: "tt",
  S: { url: "http://u/x?a=1&b=2", list: ["p", "q"], o: { d: 1 }, e: [], z: 0 },
  L: [{ n: 1 }, { n: 2 }],
};
const pieces = [
  "{{A}}",
  "{{{A}}}",
  "{{& A}}",
  "{{ S.url }}",
  "{{#S}}",
  "{{/S}}",
  "{{#L}}",
  "{{/L}}",
  "{{n}}",
  "{{^B}}",
  "{{/B}}",
  "{{#B}}",
  "{{#T}}",
  "{{/T}}",
  "{{.}}",
  "{{! c }}",
  "{{> p}}",
  "\n",
  "  ",
  "\t",
  "txt",
  "{{S.list}}",
  "{{#S.list}}",
  "{{/S.list}}",
  "{{S.o.d}}",
  "{{T.length}}",
  "{{S.z}}",
  "{{#S.e}}",
  "{{/S.e}}",
  "{{^S.e}}",
  "{",
  "}",
  "{{N}}",
  "\r\n",
  "{{missing}}",
  "é€😀",
];
let seed = 7;
const rnd = (n) => {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed % n;
};
const cases = [];
let errors = 0;
while (cases.length < 600) {
  let template = "";
  const length = 1 + rnd(12);
  for (let j = 0; j < length; j++) template += pieces[rnd(pieces.length)];
  try {
    cases.push({ template, output: mustache.render(template, view) });
  } catch {
    if (errors++ < 60) cases.push({ template, error: true });
  }
}
const out = resolve(here, "../test/compat/replace-expectations.json");
writeFileSync(
  out,
  `${JSON.stringify({ description: "SAP's replace rendering (mustache.js) of generated templates; see compat/record-replace.mjs", mustache: version, view, cases }, null, 1)}\n`,
);
console.log(`wrote ${out}: ${cases.length} templates, mustache ${version}`);
