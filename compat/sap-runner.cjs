"use strict";
/**
 * Child process of compat/record.mjs: starts SAP's application router (compat/sap) on a
 * loopback port chosen by the system, with the working directory (xs-app.json) named by
 * COMPAT_WORKDIR and the rest of its configuration in the environment (destinations,
 * httpHeaders, SEND_XFRAMEOPTIONS, CORS, ...), then reports `{ port, version }` over IPC.
 * Needs Node 22 or 24 (the engines of @sap/approuter 23).
 */
const path = require("node:path");
const approuter = require(path.join(__dirname, "sap", "node_modules", "@sap", "approuter"));
const { version } = require(path.join(__dirname, "sap", "node_modules", "@sap", "approuter", "package.json"));

const ar = approuter();
ar.start({ port: 0, workingDir: process.env.COMPAT_WORKDIR }, (err) => {
  if (err) {
    process.send({ error: String(err?.stack || err) });
    process.exit(1);
  }
  process.send({ port: ar._server._server.address().port, version, node: process.version });
});
process.on("disconnect", () => process.exit(0));
