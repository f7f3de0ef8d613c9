// A backend in this process for the profiling and memory runs (bench/profile.mjs,
// bench/memory.mjs), where the load generator's event loop does not matter: a tiny constant
// JSON answer on loopback, with an SAP service's headers. The throughput bench keeps its own
// process (bench/backend.mjs).
import { createServer } from "node:http";
import { BACKEND_HEADERS } from "./traffic-headers.mjs";

/** @returns {Promise<{ url: string, close: () => Promise<void> }>} */
export async function startInProcessBackend() {
  const backend = createServer((_req, res) => {
    res.writeHead(200, BACKEND_HEADERS);
    res.end('{"ok":true}');
  });
  backend.keepAliveTimeout = 60_000;
  await new Promise((r) => backend.listen(0, "127.0.0.1", () => r(undefined)));
  const { port } = /** @type {import("node:net").AddressInfo} */ (backend.address());
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((r) => {
        backend.closeAllConnections();
        backend.close(() => r(undefined));
      }),
  };
}
