// What every command-line script here shares: run main only when node was started with the
// script (not when a test or another script imports it), parse flags with a usage text and an
// error that names the bad argument, and stop what was started, last first, on Ctrl-C /
// SIGTERM / SIGHUP.
import { realpathSync } from "node:fs";
import { constants } from "node:os";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

/** A mistake in the command line: printed with the usage text, exit code 2. */
export class UsageError extends Error {}

/** An expected failure (a port taken, a tool missing): printed as it is, exit code `code` (default 1). */
export class CliError extends Error {
  /** @param {string} message @param {number} [code] */
  constructor(message, code = 1) {
    super(message);
    this.code = code;
  }
}

/** Whether the module with this import.meta.url is the script node was started with (links resolved). */
export function isMain(/** @type {string} */ moduleUrl) {
  if (process.argv[1] === undefined) return false;
  try {
    return realpathSync(process.argv[1]) === realpathSync(fileURLToPath(moduleUrl));
  } catch {
    return false;
  }
}

/**
 * `main(argv)` turned into a command: usage errors print the message and the usage text
 * (exit 2), other errors their message only, never a stack trace (exit 1). Resolves to the
 * exit code; undefined while the command keeps running (a server stopped by a signal).
 * @param {{ name: string, usage: string, main: (argv: string[]) => Promise<number | void> | number | void }} command
 * @returns {(argv: string[]) => Promise<number | undefined>}
 */
export function command({ name, usage, main }) {
  return async (argv) => {
    try {
      return (await main(argv)) ?? undefined;
    } catch (err) {
      if (err instanceof UsageError) {
        console.error(`${name}: ${err.message}\n\n${usage}`);
        return 2;
      }
      console.error(`${name}: ${err instanceof Error ? err.message : err}`);
      return err instanceof CliError ? err.code : 1;
    }
  };
}

/**
 * Runs the command when its module is the script node was started with; its exit code
 * becomes the process's.
 * @param {string} moduleUrl import.meta.url of the script
 * @param {((argv: string[]) => Promise<number | undefined>) | Parameters<typeof command>[0]} run
 *   from command(), or what to make it of
 */
export async function runIfMain(moduleUrl, run) {
  if (!isMain(moduleUrl)) return;
  const code = await (typeof run === "function" ? run : command(run))(process.argv.slice(2));
  if (code !== undefined) process.exitCode = code;
}

/**
 * util.parseArgs with `-h, --help` added; a bad flag becomes a UsageError. With `help`, prints
 * the usage text and returns undefined (the caller exits 0).
 * @template {import("node:util").ParseArgsConfig["options"]} O
 * @param {string[]} argv
 * @param {{ usage: string, options: O, allowPositionals?: boolean }} config
 */
export function parseCommandLine(argv, { usage, options, allowPositionals = false }) {
  /** @type {{ values: Record<string, any>, positionals: string[] }} */
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: { ...options, help: { type: "boolean", short: "h" } },
      allowPositionals,
      strict: true,
    });
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
  if (parsed.values.help) {
    console.log(usage);
    return undefined;
  }
  return parsed;
}

/**
 * A port number from a flag's text; undefined when the flag is absent.
 * @param {string | undefined} value @param {string} flag @param {{ min?: 0 | 1 }} [range]
 */
export function portOf(value, flag, { min = 1 } = {}) {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isInteger(n) || n < min || n > 65535)
    throw new UsageError(`${flag} must be a port number (${min}-65535)`);
  return n;
}

/**
 * A whole number from 0 to `max` from a flag's text; undefined when the flag is absent.
 * @param {string | undefined} value @param {string} flag @param {number} max
 */
export function countOf(value, flag, max) {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isInteger(n) || n > max)
    throw new UsageError(`${flag} must be an integer from 0 to ${max}`);
  return n;
}

/**
 * An http(s) URL from a flag's text; undefined when the flag is absent.
 * @param {string | undefined} value @param {string} message what the UsageError says
 */
export function httpUrlOf(value, message) {
  if (value === undefined) return undefined;
  let parsed;
  try {
    parsed = new URL(value);
  } catch {
    throw new UsageError(message);
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw new UsageError(message);
  return value;
}

/** @typedef {() => unknown} StopStep */

/**
 * What a script started, stopped last-first. A step that fails is reported and the others
 * still run; each runs once. A step added after stop() began runs at once (a start that
 * finished while the script was stopping must not outlive it).
 */
export class StopStack {
  /** @type {StopStep[]} */
  #steps = [];
  /** @type {Promise<void> | undefined} */
  #stopping;
  #name;

  /** @param {string} name prefix of its messages */
  constructor(name) {
    this.#name = name;
  }

  /** @param {StopStep} step */
  push(step) {
    this.#steps.push(step);
    if (this.#stopping) void this.#drain();
  }

  /** Whether stop() has been called. */
  get stopping() {
    return this.#stopping !== undefined;
  }

  /** Runs every step, the last added first; resolves when all have finished. */
  stop() {
    this.#stopping ??= this.#drain();
    return this.#stopping;
  }

  async #drain() {
    while (this.#steps.length > 0) {
      const step = /** @type {StopStep} */ (this.#steps.pop());
      try {
        await step();
      } catch (err) {
        console.error(`${this.#name}: while stopping: ${err instanceof Error ? err.message : err}`);
      }
    }
  }
}

/** The exit code of a process ended by `signal` (128 + its number), as shells report it. */
export function signalExitCode(/** @type {NodeJS.Signals} */ signal) {
  return 128 + (constants.signals[signal] ?? 1);
}

/**
 * A stop stack that is stopped on SIGINT, SIGTERM or SIGHUP, after which the process exits
 * with `exitCode(signal)` (default 0: stopping on request is success). A second signal while
 * stopping calls `onRepeat` (e.g. kill what does not stop in time) instead of starting over.
 * @param {string} name prefix of its messages
 * @param {{ exitCode?: (signal: NodeJS.Signals) => number, onRepeat?: () => void }} [options]
 * @returns {StopStack}
 */
export function stopOnSignals(name, { exitCode = () => 0, onRepeat } = {}) {
  const stack = new StopStack(name);
  /** @type {NodeJS.Signals | undefined} */
  let received;
  const onSignal = (/** @type {NodeJS.Signals} */ signal) => {
    if (received !== undefined) return onRepeat?.();
    received = signal;
    void stack.stop().then(() => process.exit(exitCode(signal)));
  };
  for (const signal of /** @type {NodeJS.Signals[]} */ (["SIGINT", "SIGTERM", "SIGHUP"]))
    process.on(signal, onSignal);
  return stack;
}
