// Child processes of the benchmark (backend, store side, memory measurement), each
// tracked by its own ChildProcess object so it can be stopped by pid, also on error and
// on Ctrl-C.
import { fork } from "node:child_process";

/** @type {Set<import("node:child_process").ChildProcess>} */
const running = new Set();

/**
 * Forks `script` with an IPC channel and waits for its `{ type: "ready" }` message.
 * @param {string} script
 * @param {{ timeoutMs?: number, execArgv?: string[] }} [options]
 * @returns {Promise<{ child: import("node:child_process").ChildProcess, ready: any }>}
 */
export function forkReady(script, { timeoutMs = 20_000, execArgv = [] } = {}) {
  const child = fork(script, [], { stdio: ["ignore", "inherit", "inherit", "ipc"], execArgv });
  running.add(child);
  child.once("exit", () => running.delete(child));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGTERM");
      reject(new Error(`${script} did not start within ${timeoutMs} ms`));
    }, timeoutMs);
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited during start (code ${code}, signal ${signal})`));
    });
    child.on("message", function onMessage(/** @type {any} */ message) {
      if (message?.type === "ready") {
        clearTimeout(timer);
        child.off("message", onMessage);
        resolve({ child, ready: message });
      } else if (message?.type === "error") {
        clearTimeout(timer);
        reject(new Error(`${script}: ${message.message}`));
      }
    });
  });
}

/**
 * Sends a request over IPC and waits for the reply carrying the same id.
 * @param {import("node:child_process").ChildProcess} child
 * @param {Record<string, unknown>} message
 * @param {string} replyType
 */
let nextId = 0;
export function ask(child, message, replyType, timeoutMs = 10_000) {
  const id = ++nextId;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.off("message", onMessage);
      reject(new Error(`no ${replyType} reply within ${timeoutMs} ms`));
    }, timeoutMs);
    function onMessage(/** @type {any} */ reply) {
      if (reply?.type === replyType && reply.id === id) {
        clearTimeout(timer);
        child.off("message", onMessage);
        resolve(reply);
      }
    }
    child.on("message", onMessage);
    child.send({ ...message, id });
  });
}

/**
 * Asks a child to stop (SIGTERM), SIGKILL after `graceMs`; resolves once it has exited.
 * @param {import("node:child_process").ChildProcess} child
 */
export function stopChild(child, graceMs = 6000) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve(undefined);
    });
    child.kill("SIGTERM");
  });
}

/**
 * Last resort on process exit (also when a library ends the process on a signal before
 * the asynchronous clean-up is done): SIGTERM to whatever still runs. The children stop
 * their own children (redis-server) on it, and on losing the parent's IPC channel.
 */
export function killAllNow() {
  for (const child of running) {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
  }
}

/** @param {import("node:child_process").ChildProcess} child */
export function track(child) {
  running.add(child);
  child.once("exit", () => running.delete(child));
  return child;
}

/**
 * What a bench script started, stopped last-first by `cleanupAll`: at the end, and on
 * Ctrl-C (then exit 130). A step that fails does not keep the others from running.
 */
export function cleanupStack() {
  /** @type {Array<() => Promise<unknown> | unknown>} */
  const cleanups = [];
  async function cleanupAll() {
    for (const step of cleanups.splice(0).reverse()) await Promise.resolve(step()).catch(() => {});
  }
  process.on("SIGINT", () => void cleanupAll().finally(() => process.exit(130)));
  return { cleanups, cleanupAll };
}
