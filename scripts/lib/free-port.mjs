import { connect, createServer } from "node:net";

/**
 * Ask the OS for a currently free TCP port by listening on port 0 and closing again.
 * (Racy by nature: another process may grab it before the caller binds; fine for dev/tests.)
 * @param {string} [host]
 * @returns {Promise<number>}
 */
export function freePort(host = "127.0.0.1") {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close((err) =>
        err ? reject(err) : port ? resolve(port) : reject(new Error("no port assigned")),
      );
    });
  });
}

/**
 * Whether something accepts TCP connections on `host`:`port` (a server that finished starting).
 * @param {number} port @param {string} [host]
 * @returns {Promise<boolean>}
 */
export function accepts(port, host = "127.0.0.1") {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (/** @type {boolean} */ ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}
