// SAP's local-development files, read the way @sap/approuter (via @sap/xsenv) reads them:
// default-env.json (environment variables; JSON values allowed) and default-services.json
// (service credentials by name: `uaa` for XSUAA, `ias` for IAS, the names SAP's router asks for).
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

/**
 * @param {string} dir the approuter (or edge) project folder
 * @returns {{ vars: Record<string, unknown>, files: string[] }} files: the ones read
 */
export function readSapEnv(dir) {
  /** @type {Record<string, unknown>} */
  let vars = {};
  const files = [];
  const envFile = join(dir, "default-env.json");
  if (existsSync(envFile)) {
    const parsed = readJsonFile(envFile);
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
      throw new Error(`${envFile}: must be a JSON object of variables`);
    vars = { ...parsed };
    files.push("default-env.json");
  }
  const servicesFile = join(dir, "default-services.json");
  if (existsSync(servicesFile) && vars.VCAP_SERVICES === undefined) {
    const services = readJsonFile(servicesFile);
    const byName = isObject(services) ? services : {};
    // SAP's router asks @sap/xsenv for `uaa` and `ias` (lib/configuration/uaa-config.js,
    // ias-config.js): without VCAP_SERVICES, xsenv answers with the entries of those names.
    /** @type {Record<string, unknown[]>} */
    const vcap = {};
    if (isObject(byName.uaa))
      vcap.xsuaa = [{ name: "uaa", label: "xsuaa", tags: ["xsuaa"], credentials: byName.uaa }];
    if (isObject(byName.ias))
      vcap.identity = [{ name: "ias", label: "identity", tags: ["ias"], credentials: byName.ias }];
    if (Object.keys(vcap).length > 0) {
      vars.VCAP_SERVICES = vcap;
      files.push("default-services.json");
    }
  }
  return { vars, files };
}

/** @param {string} file */
export function readJsonFile(file) {
  try {
    return JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    // The parser's message may quote the content (secrets): name the file only.
    throw new Error(
      `${file}: not valid JSON${err instanceof SyntaxError ? "" : ` (${err instanceof Error ? err.message : err})`}`,
    );
  }
}

/** @param {unknown} value @returns {value is Record<string, unknown>} */
function isObject(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
