// `wrangler dev` as both local commands run it (npm start: scripts/dev.mjs; npm run dev:
// scripts/local-dev.mjs): offline and quiet, on loopback, in its own process group so that
// stopping it stops its workerd processes too (they outlive their parent otherwise).
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { accepts } from "./free-port.mjs";
import { CliError, signalExitCode, stopOnSignals } from "./cli.mjs";

/** Keeps wrangler offline: no metrics, no error reports, no Cloudflare API lookups. */
export const OFFLINE_ENV = {
  WRANGLER_SEND_METRICS: "false",
  WRANGLER_SEND_ERROR_REPORTS: "false",
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
  WRANGLER_HIDE_BANNER: "true",
};

/** How long wrangler gets to shut down cleanly before its whole process group is killed. */
const STOP_GRACE_MS = 8000;

/**
 * wrangler's entry script, looked up from each of `bases` (files whose node_modules to search) in turn.
 * @param {string[]} bases
 */
export function findWrangler(bases) {
  for (const base of bases) {
    try {
      return createRequire(base).resolve("wrangler/bin/wrangler.js");
    } catch {
      // next
    }
  }
  throw new CliError("wrangler is not installed here; run `npm install` first.");
}

/**
 * @typedef {object} WranglerDev
 * @property {Promise<number>} exited  wrangler's exit code (128 + signal number when killed)
 * @property {() => boolean} running
 * @property {() => number | undefined} exitCode  wrangler's exit code once it exited
 * @property {() => Promise<number>} stop SIGTERM, then after a grace period SIGKILL to its whole group; resolves once it exited
 * @property {() => void} kill    SIGKILL to its whole group at once
 */

/**
 * Starts `wrangler dev` with these env files (later ones win) and this environment. Its
 * devtools inspector goes on `inspectorPort` (pass a free one: wrangler's default, 9229, makes
 * a second router on the same machine fail with "Address already in use").
 * @param {{ bin: string, cwd: string, host: string, port: number, inspectorPort: number, envFiles: string[], env: NodeJS.ProcessEnv }} o
 * @returns {WranglerDev}
 */
export function startWranglerDev({ bin, cwd, host, port, inspectorPort, envFiles, env }) {
  const args = [bin, "dev", "--ip", host, "--port", String(port), "--log-level", "warn"];
  args.push("--inspector-ip", host, "--inspector-port", String(inspectorPort));
  for (const file of envFiles) args.push("--env-file", file);
  args.push("--show-interactive-dev-session=false");
  const child = spawn(process.execPath, args, {
    cwd,
    env: { ...env, ...OFFLINE_ENV },
    // No stdin: in its own process group it must not read the terminal.
    stdio: ["ignore", "inherit", "inherit"],
    detached: process.platform !== "win32",
  });
  const killGroup = (/** @type {NodeJS.Signals} */ signal) => {
    if (!child.pid) return;
    try {
      if (process.platform === "win32") child.kill(signal);
      else process.kill(-child.pid, signal);
    } catch {
      // already gone
    }
  };
  /** @type {number | undefined} */
  let exitCode;
  const running = () => exitCode === undefined && child.exitCode === null && child.signalCode === null;
  /** @type {Promise<number>} */
  const exited = new Promise((resolve) => {
    child.once("error", (err) => {
      console.error(`cannot run wrangler (${err.message}); run npm install first`);
      resolve(1);
    });
    child.once("exit", (code, signal) => {
      killGroup("SIGKILL"); // anything of wrangler's still around
      resolve(code ?? (signal ? signalExitCode(signal) : 1));
    });
  });
  void exited.then((code) => (exitCode = code));
  return {
    exited,
    running,
    exitCode: () => exitCode,
    kill: () => killGroup("SIGKILL"),
    stop() {
      if (running()) {
        child.kill("SIGTERM"); // wrangler's launcher passes it on to wrangler proper
        const force = setTimeout(() => killGroup("SIGKILL"), STOP_GRACE_MS);
        force.unref();
        void exited.then(() => clearTimeout(force));
      }
      return exited;
    },
  };
}

/**
 * Prints `line` once the router accepts connections on host:port, unless wrangler exits first.
 * @param {WranglerDev} wrangler @param {string} host @param {number} port @param {string} line
 */
export async function announceWhenReady(wrangler, host, port, line) {
  while (wrangler.running()) {
    if (await accepts(port, host)) {
      if (wrangler.running()) console.log(line);
      return;
    }
    await new Promise((r) => setTimeout(r, 150));
  }
}

/**
 * The stop stack of a command that runs wrangler dev: stopped on Ctrl-C / SIGTERM / SIGHUP,
 * then exiting with wrangler's exit code once it ran; a second Ctrl-C kills wrangler's group at
 * once. `startWrangler` starts wrangler dev (options as startWranglerDev) with its stop on the stack.
 * @param {string} name prefix of its messages
 */
export function wranglerStopStack(name) {
  /** @type {WranglerDev | undefined} */
  let wrangler;
  const stack = stopOnSignals(name, {
    exitCode: (signal) => wrangler?.exitCode() ?? signalExitCode(signal),
    onRepeat: () => wrangler?.kill(),
  });
  return {
    stack,
    /** @param {Parameters<typeof startWranglerDev>[0]} o */
    startWrangler(o) {
      const started = startWranglerDev(o);
      wrangler = started;
      stack.push(() => started.stop());
      return started;
    },
  };
}
