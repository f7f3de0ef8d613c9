// `node scripts/dev.mjs …` (npm start: wrangler dev, the demo backend, a provider) as the
// end-to-end tests run it: on the ports its arguments name, with a fresh wrangler state
// folder, every process it starts noted so that a test can check none is left behind.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll } from "vitest";
import { freePort as freePortUntyped } from "../../scripts/lib/free-port.mjs";
import { sleep } from "./wait.js";

export const freePort = freePortUntyped as (host?: string) => Promise<number>;

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
export const HOST = "127.0.0.1";

export interface DevRun {
  child: ChildProcess;
  routerUrl: string;
  /** Every process of this run seen so far (dev.mjs, wrangler, its workerd, a provider it started). */
  seen: Set<number>;
  output(): string;
  /** SIGTERM, wait for the exit; SIGKILL everything of it if it hangs. Resolves to the exit code. */
  stop(): Promise<number | null>;
}

export interface DevOptions {
  /** Over the test process's environment; `undefined` removes a variable. */
  env?: Record<string, string | undefined>;
  startDeadlineMs?: number;
  stopDeadlineMs?: number;
}

/** Pids of the live processes below `root` (Linux: /proc), the root itself excluded. */
export function descendants(root: number): number[] {
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      // pid (comm) state ppid …: comm may contain spaces and parentheses.
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      parentOf.set(Number(entry), ppid);
    } catch {
      // gone meanwhile
    }
  }
  const found: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const parent = queue.shift()!;
    for (const [pid, ppid] of parentOf) {
      if (ppid === parent && !found.includes(pid)) {
        found.push(pid);
        queue.push(pid);
      }
    }
  }
  return found;
}

/** Whether `pid` runs (a zombie does not). */
export function alive(pid: number): boolean {
  try {
    const state = readFileSync(`/proc/${pid}/stat`, "utf8");
    return state.slice(state.lastIndexOf(")") + 2, state.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

export function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ").trim().slice(0, 160);
  } catch {
    return "(gone)";
  }
}

/** Whether something accepts connections on `port`. */
export function accepts(port: number, host = HOST): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/** Two different free loopback ports: the router's and the demo backend's. */
export async function devPorts(): Promise<{ router: number; backend: number }> {
  const router = await freePort(HOST);
  let backend = await freePort(HOST);
  while (backend === router) backend = await freePort(HOST);
  return { router, backend };
}

/**
 * One `wrangler dev` of the suite at a time. Their inspector ports no longer collide (the
 * scripts pass a free one), but a start-up takes both cores of a small machine for seconds,
 * and the login tests beside it run on 2-second tokens. Test files that run dev.mjs take this
 * lock (a directory, created atomically; taken over when its holder is gone) for their whole run.
 */
const DEV_LOCK = join(tmpdir(), "approuter-edge-wrangler-dev.lock");

async function takeDevLock(): Promise<void> {
  for (;;) {
    try {
      mkdirSync(DEV_LOCK);
      writeFileSync(join(DEV_LOCK, "pid"), String(process.pid));
      return;
    } catch {
      let holder = Number.NaN;
      try {
        holder = Number(readFileSync(join(DEV_LOCK, "pid"), "utf8"));
      } catch {
        // being created or removed right now
      }
      if (Number.isInteger(holder) && holder > 0 && !alive(holder))
        rmSync(DEV_LOCK, { recursive: true, force: true });
      await sleep(200);
    }
  }
}

function releaseDevLock(): void {
  try {
    if (Number(readFileSync(join(DEV_LOCK, "pid"), "utf8")) === process.pid)
      rmSync(DEV_LOCK, { recursive: true, force: true });
  } catch {
    // not held
  }
}

/**
 * Holds the dev lock for the calling file or describe block (its hooks): for tests that start
 * `wrangler dev` some other way (e.g. `approuter-edge dev`).
 */
export function useDevLock(): void {
  // Waiting for another file's runs is not this file's time: a long hook timeout.
  beforeAll(takeDevLock, 15 * 60_000);
  afterAll(releaseDevLock);
}

/**
 * The runs of one test file (call at its top level): `start` them; they are all stopped after
 * the file (a failed test must not leave a router running), and the file holds the dev lock
 * meanwhile; `allSeen` is every process any run had, with its command line.
 */
export function devRuns() {
  const running = new Set<DevRun>();
  const allSeen = new Map<number, string>();
  useDevLock();

  /** Start `node scripts/dev.mjs …args` (which name `--port`) and wait until it announces the router. */
  async function start(args: string[], options: DevOptions = {}): Promise<DevRun> {
    const { env = {}, startDeadlineMs = 45_000, stopDeadlineMs = 20_000 } = options;
    const port = Number(args[args.indexOf("--port") + 1]);
    // Never the developer's own .wrangler/dev state (npm run dev:redis): a fresh one per run unless given.
    const ownState =
      env.APPROUTER_DEV_STATE_DIR === undefined
        ? mkdtempSync(join(tmpdir(), "approuter-dev-state-"))
        : undefined;
    const childEnv: NodeJS.ProcessEnv = {
      ...process.env,
      ...(ownState ? { APPROUTER_DEV_STATE_DIR: ownState } : {}),
      ...env,
    };
    for (const [key, value] of Object.entries(env)) if (value === undefined) delete childEnv[key];
    const child = spawn(process.execPath, ["scripts/dev.mjs", ...args], {
      cwd: ROOT,
      env: childEnv,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true, // its own process group, for a last-resort kill
    });
    let out = "";
    child.stdout?.on("data", (chunk: Buffer) => (out += chunk.toString("utf8")));
    child.stderr?.on("data", (chunk: Buffer) => (out += chunk.toString("utf8")));
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    const seen = new Set<number>([child.pid!]);
    const look = () => {
      for (const pid of descendants(child.pid!)) {
        seen.add(pid);
        allSeen.set(pid, commandOf(pid));
      }
    };
    allSeen.set(child.pid!, "node scripts/dev.mjs");

    const dev: DevRun = {
      child,
      routerUrl: `http://${HOST}:${port}`,
      seen,
      output: () => out,
      async stop() {
        if (child.exitCode === null && child.signalCode === null) {
          look(); // wrangler detaches into its own process group: note its processes while dev.mjs is their parent
          child.kill("SIGTERM");
        }
        const timer = setTimeout(() => {
          for (const pid of [-child.pid!, child.pid!, ...seen]) {
            try {
              process.kill(pid, "SIGKILL");
            } catch {
              // gone
            }
          }
        }, stopDeadlineMs);
        const code = await exited;
        clearTimeout(timer);
        running.delete(dev);
        if (ownState) rmSync(ownState, { recursive: true, force: true });
        return code;
      },
    };
    running.add(dev);

    const announced = `approuter-edge: ${dev.routerUrl} (`;
    const deadline = Date.now() + startDeadlineMs;
    while (!out.includes(announced)) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(
          `dev.mjs exited (${child.exitCode ?? child.signalCode}) before the router answered:\n${out}`,
        );
      }
      if (Date.now() > deadline)
        throw new Error(`the router did not start within ${startDeadlineMs} ms:\n${out}`);
      await sleep(100);
    }
    look();
    return dev;
  }

  return {
    start,
    allSeen,
    stopAll: () => Promise.all([...running].map((dev) => dev.stop())),
  };
}
