// The benchmark's backend: a Node HTTP server on loopback answering every request with a
// tiny constant response. Runs as its own child process (so it never shares an event
// loop with the load generator); reports its URL to the parent over IPC.
import { createServer } from "node:http";
import { BACKEND_HEADERS } from "./traffic-headers.mjs";

const BODY = Buffer.from('{"ok":true}');
const HEADERS = { ...BACKEND_HEADERS, "content-length": String(BODY.length) };

const server = createServer((req, res) => {
  req.resume();
  // The sanity check before the runs: what the logged-in scenario's requests carry.
  if (req.url === "/bench/seen") {
    const seen = {
      authorization: /^Bearer [\w-]+\.[\w-]+\.[\w-]+$/.test(req.headers.authorization ?? "")
        ? "bearer jwt"
        : null,
      csrfHeader: req.headers["x-csrf-token"] ?? null,
      cookie: req.headers.cookie ?? null,
    };
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify(seen));
    return;
  }
  res.writeHead(200, HEADERS);
  res.end(BODY);
});
server.keepAliveTimeout = 60_000;
server.headersTimeout = 61_000;

const stop = () => {
  server.closeAllConnections?.();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
};
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
process.on("disconnect", stop); // the parent went away

server.listen(0, "127.0.0.1", () => {
  const { port } = /** @type {import("node:net").AddressInfo} */ (server.address());
  process.send?.({ type: "ready", url: `http://127.0.0.1:${port}` });
});
