// What the callgrind benchmarks (instructions.mjs, api-costs.mjs) share: workerd's binary,
// the V8 flags they run it with, the check for valgrind and the reading of a dump.
import { execFileSync, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./bundles.mjs";

export const WORKERD = join(ROOT, "node_modules/@cloudflare/workerd-linux-64/bin/workerd");

// Compilation and GC on the measured thread; tier-up within a warm-up valgrind can afford.
export const V8_FLAGS = [
  "--single-threaded",
  "--invocation-count-for-maglev=40",
  "--invocation-count-for-turbofan=300",
  "--minimum-invocations-after-ic-update=50",
];

/** V8's optimizing compilers: tier-up work, done once, counted apart. */
export const COMPILERS =
  /v8::internal::(compiler|maglev|turboshaft|baseline)::|Turboshaft|Maglev|v8::internal::Compiler::|OptimizedCompilationJob/;

/** Exits (2) with a hint unless valgrind and callgrind_control are installed. */
export function checkValgrind(/** @type {string} */ script) {
  try {
    execFileSync("valgrind", ["--version"], { stdio: "ignore" });
    execFileSync("callgrind_control", ["--version"], { stdio: "ignore" });
  } catch {
    console.error(`${script} needs valgrind (Debian: apt-get install valgrind).`);
    process.exit(2);
  }
}

/**
 * Self cost per function of one callgrind dump (`fn=` blocks; the line after `calls=` is
 * the callee's inclusive cost, not the caller's own). Names are compressed: `(id) name`
 * once, `(id)` after.
 * @returns {Map<string, number>}
 */
export function selfCosts(/** @type {string} */ text) {
  /** @type {Map<string, string>} */
  const names = new Map();
  /** @type {Map<string, number>} */
  const self = new Map();
  let fn;
  let afterCall = false;
  const named = (/** @type {string} */ spec) => {
    const m = /^\((\d+)\)(?: (.*))?$/.exec(spec);
    if (!m) return spec;
    if (m[2] !== undefined) names.set(m[1], m[2]);
    return names.get(m[1]) ?? m[1];
  };
  for (const line of text.split("\n")) {
    if (line.startsWith("fn=")) {
      fn = named(line.slice(3));
      afterCall = false;
    } else if (line.startsWith("cfn=")) named(line.slice(4));
    else if (line.startsWith("calls=")) afterCall = true;
    else if (/^[0-9+*-]/.test(line) && fn !== undefined) {
      if (afterCall) afterCall = false;
      else {
        const cost = Number(line.split(" ")[1] ?? 0);
        if (cost > 0) self.set(fn, (self.get(fn) ?? 0) + cost);
      }
    }
  }
  return self;
}

/**
 * workerd serving `config` (a file in `dir`) under callgrind, which dumps into `dir`; its
 * stop goes onto `cleanups` at once. Resolves when `probe` gives a value (what it gave is
 * `ready`), within 5 minutes (valgrind slows workerd some 50-fold). `zero()` then `dump()`
 * counts what workerd executed in between, per function (self cost).
 * @template T
 * @param {{ dir: string, config: string, cleanups: Array<() => unknown>, probe: () => Promise<T | null> }} options
 */
export async function workerdUnderCallgrind({ dir, config, cleanups, probe }) {
  const valgrind = spawn(
    "valgrind",
    [
      "--tool=callgrind",
      "--smc-check=all-non-file", // V8 writes the code it runs
      "--dump-instr=no",
      `--callgrind-out-file=${join(dir, "callgrind.out.%p")}`,
      WORKERD,
      "serve",
      config,
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  valgrind.stderr.on("data", (chunk) => (stderr = (stderr + chunk).slice(-4000)));
  const exited = new Promise((resolveExit) => valgrind.once("exit", resolveExit));
  cleanups.push(async () => {
    valgrind.kill("SIGTERM");
    await exited;
  });
  /** @type {T | null} */
  let ready = null;
  for (let waited = 0; ready === null; waited += 500) {
    if (valgrind.exitCode !== null) throw new Error(`workerd under valgrind exited:\n${stderr}`);
    ready = await probe().catch(() => null);
    if (ready !== null) break;
    if (waited > 300_000) throw new Error(`workerd did not answer within 5 minutes:\n${stderr}`);
    await new Promise((r) => setTimeout(r, 500));
  }
  const control = (/** @type {string} */ command) =>
    execFileSync("callgrind_control", [command, String(valgrind.pid)], { stdio: "ignore" });
  const seen = new Set(readdirSync(dir));
  return {
    ready: /** @type {T} */ (ready),
    zero: () => control("--zero"),
    dump() {
      control("--dump");
      const fresh = readdirSync(dir).filter((f) => f.startsWith("callgrind.out.") && !seen.has(f));
      if (fresh.length !== 1) throw new Error(`expected one new callgrind dump, found ${fresh.length}`);
      seen.add(fresh[0]);
      return selfCosts(readFileSync(join(dir, fresh[0]), "utf8"));
    },
  };
}
