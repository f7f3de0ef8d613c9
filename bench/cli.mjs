// Command-line handling the benchmark scripts share: options parsed, --help answered, and
// bad input refused with the usage line (exit 2), never a stack trace.
import { parseArgs } from "node:util";

/**
 * The options' values; prints `usage` and exits for --help (0) or an unknown or malformed
 * option (2).
 * @template {import("node:util").ParseArgsConfig["options"]} T
 * @param {string} usage @param {T} options
 */
export function benchArgs(usage, options) {
  let values;
  try {
    ({ values } = parseArgs({ options: { ...options, help: { type: "boolean", short: "h" } } }));
  } catch (error) {
    usageError(usage, error instanceof Error ? error.message : String(error));
  }
  if (values.help) {
    console.log(usage);
    process.exit(0);
  }
  return values;
}

/**
 * Exits with status 2 after the usage line (and `problem`, when there is one).
 * @param {string} usage @param {string} [problem] @returns {never}
 */
export function usageError(usage, problem) {
  console.error(problem ? `${problem}\n${usage}` : usage);
  process.exit(2);
}
