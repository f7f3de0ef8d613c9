// What both demo providers of `npm start` share: the router origins they register (both
// spellings of loopback), and what `npm run dev:redis` keeps of them between runs (port and
// keys, in a JSON file in its state folder) so a logged-in user's tokens stay valid.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * The router's origin and, on loopback, its other spelling: the router builds its redirect
 * URI from the address the browser used. @param {string} routerOrigin
 */
export function routerOrigins(routerOrigin) {
  const u = new URL(routerOrigin);
  const port = u.port ? `:${u.port}` : "";
  const other = { "127.0.0.1": "localhost", localhost: "127.0.0.1" }[u.hostname];
  return [u.origin, ...(other ? [`${u.protocol}//${other}${port}`] : [])];
}

/**
 * What an earlier run kept in `stateDir`/`file` for the same host, or undefined (none,
 * unreadable, another host, or not `valid`). Makes `stateDir` (private) when missing.
 * @param {string} stateDir @param {string} file @param {string} host @param {(kept: any) => boolean} valid
 */
export function readKept(stateDir, file, host, valid) {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const path = join(stateDir, file);
  if (!existsSync(path)) return undefined;
  try {
    const kept = JSON.parse(readFileSync(path, "utf8"));
    return kept.host === host && Number.isInteger(kept.port) && valid(kept) ? kept : undefined;
  } catch {
    return undefined; // unreadable: start afresh
  }
}

/** @param {string} stateDir @param {string} file @param {Record<string, unknown>} state */
export function writeKept(stateDir, file, state) {
  writeFileSync(join(stateDir, file), JSON.stringify(state), { mode: 0o600 });
}

/**
 * Starts on `port`; when that is the kept port of the last run and it is taken (another run?),
 * on a free one instead: keys are still kept, but logged-in users sign in again.
 * @template T
 * @param {(port: number) => Promise<T>} start @param {number} port @param {number | undefined} keptPort
 * @param {string} label prefix of the warning
 * @returns {Promise<T>}
 */
export async function startOnKeptPort(start, port, keptPort, label) {
  try {
    return await start(port);
  } catch (err) {
    if (keptPort === undefined || port !== keptPort) throw err;
    console.error(
      `${label} port ${port} of the last run is taken; using another one, so logged-in users sign in again`,
    );
    return start(0);
  }
}
