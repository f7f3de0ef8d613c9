// CPU time of a process as an operator sees it: utime + stime from /proc/<pid>/stat.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { cpus as cpuList } from "node:os";

/** Clock ticks per second of /proc/<pid>/stat's times (`getconf CLK_TCK`, 100 on Linux). */
const TICKS_PER_SECOND = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** Milliseconds of CPU (user + system) the process has used so far. @param {number} pid */
export function cpuMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // The command name (field 2) may hold spaces: fields are counted after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const utime = Number(fields[11]); // field 14
  const stime = Number(fields[12]); // field 15
  return ((utime + stime) * 1000) / TICKS_PER_SECOND;
}

/**
 * Nanoseconds the process's threads have spent on a CPU (/proc/<pid>/task/<tid>/schedstat,
 * first field): finer than the 10 ms ticks of `cpuMs`, and like them blind to the time
 * spent waiting for a CPU, so preemption by other processes does not count.
 * @param {number} pid
 */
export function cpuNs(pid) {
  let total = 0;
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      total += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, "utf8").split(" ")[0]);
    } catch {
      // the thread ended meanwhile
    }
  }
  return total;
}

/** Resident set size of the process in bytes (VmRSS). @param {number} pid */
export function rssBytes(pid) {
  const match = readFileSync(`/proc/${pid}/status`, "utf8").match(/^VmRSS:\s+(\d+) kB/m);
  return match ? Number(match[1]) * 1024 : 0;
}

/** The pid of the workerd process this Node process started (Miniflare spawns it directly). */
export function workerdPid() {
  const found = [];
  for (const task of readdirSync("/proc/self/task")) {
    let children = "";
    try {
      children = readFileSync(`/proc/self/task/${task}/children`, "utf8");
    } catch {
      continue;
    }
    for (const pid of children.split(" ").filter(Boolean).map(Number)) {
      try {
        if (readFileSync(`/proc/${pid}/comm`, "utf8").trim() === "workerd") found.push(pid);
      } catch {
        // gone meanwhile
      }
    }
  }
  if (found.length !== 1) throw new Error(`expected one workerd child process, found ${found.length}`);
  return /** @type {number} */ (found[0]);
}

/**
 * Gives workerd a CPU of its own, the way an operator runs it: this process (the load
 * generator) and everything it starts afterwards (backend, store) keep the other CPUs, and
 * `pinWorkerd` moves workerd to the last one. Without it workerd and the load generator
 * fight for the same two cores and the per-round ratios scatter. Needs `taskset` and two
 * CPUs; returns false (nothing pinned) otherwise.
 */
export function pinLoadGenerator() {
  const cpus = cpuList().length; // not availableParallelism(): it shrinks once this process is pinned
  if (cpus < 2) return false;
  return taskset(process.pid, cpus === 2 ? "0" : `0-${cpus - 2}`);
}

/** Moves every thread of workerd to the last CPU (see pinLoadGenerator). @param {number} pid */
export function pinWorkerd(pid) {
  const cpus = cpuList().length; // not availableParallelism(): it shrinks once this process is pinned
  return cpus >= 2 && taskset(pid, String(cpus - 1));
}

/** @param {number} pid @param {string} cpuList */
function taskset(pid, cpuList) {
  try {
    execFileSync("taskset", ["-a", "-c", "-p", cpuList, String(pid)], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}
