import { connect, createServer } from "node:net";

/**
 * Ports are drawn below Linux's ephemeral range (32768–60999 by default): a port from
 * listen(0) comes from that range, and once closed the kernel may hand it straight out again
 * as the local end of some outgoing connection (another test's fetch), so the server meant
 * for it fails with "Address already in use". Below the range only another listener can
 * take it, and each draw is checked by listening on it.
 */
const LOWEST = 20_000;
const BELOW_EPHEMERAL = 32_768;

/**
 * A currently free TCP port on `host`. Still racy by nature (another process may bind it
 * before the caller does), but not against the outgoing connections of a busy test run.
 * @param {string} [host]
 * @returns {Promise<number>}
 */
export async function freePort(host = "127.0.0.1") {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = LOWEST + Math.floor(Math.random() * (BELOW_EPHEMERAL - LOWEST));
    if (await canListen(port, host)) return port;
  }
  return ephemeralPort(host); // a crowded range: the OS's choice after all
}

/** @param {number} port @param {string} host @returns {Promise<boolean>} */
function canListen(port, host) {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once("error", () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

/** @param {string} host @returns {Promise<number>} */
function ephemeralPort(host) {
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
