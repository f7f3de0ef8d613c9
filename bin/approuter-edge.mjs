#!/usr/bin/env node
// approuter-edge init <approuter folder> [--out DIR]   move an SAP approuter project to the edge
// approuter-edge dev [--port N]                       run your router locally (wrangler dev)
const USAGE = `Usage: approuter-edge <command>

  init <approuter folder> [--out DIR]   write an edge project beside an SAP approuter project
                                        (default <folder>-edge); the original is never changed
  dev [--port N]                        run this project's router under wrangler dev, with
                                        default-env.json and .dev.vars

approuter-edge <command> --help for more.`;

const [command, ...rest] = process.argv.slice(2);
let code;
if (command === "init") code = await (await import("../scripts/init.mjs")).main(rest);
else if (command === "dev") code = await (await import("../scripts/local-dev.mjs")).main(rest);
else {
  const help = command === undefined || command === "help" || command === "--help" || command === "-h";
  (help ? console.log : console.error)(
    help ? USAGE : `approuter-edge: unknown command ${JSON.stringify(command)}\n\n${USAGE}`,
  );
  code = help ? 0 : 2;
}
process.exitCode = code;
