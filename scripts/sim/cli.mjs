// The command line both simulators share: common flags, start, print the binding, run until
// Ctrl-C.
import { command, isMain, parseCommandLine, portOf, stopOnSignals, UsageError } from "../lib/cli.mjs";

export { isMain };

export const COMMON_USAGE = `  --redirect-uri P    allowed redirect URI pattern (* and ** wildcards), repeatable (required)
  --host H            bind address (default 127.0.0.2)
  --port N            port (default: a free one)
  --client-secret S   default: random
  --ttl SECONDS       access token lifetime`;

/**
 * @param {{
 *   name: string, usage: string,
 *   options: import("node:util").ParseArgsConfig["options"],
 *   toOptions: (values: Record<string, any>) => Record<string, unknown>,
 *   start: (options: any) => Promise<{ url: string, users: Array<{ username: string }>, vcapServices(): string, stop(): Promise<void> }>,
 * }} cli
 */
export async function runCli(cli) {
  const main = async (/** @type {string[]} */ argv) => {
    const parsed = parseCommandLine(argv, {
      usage: cli.usage,
      options: {
        "redirect-uri": { type: "string", multiple: true },
        host: { type: "string" },
        port: { type: "string" },
        "client-secret": { type: "string" },
        ttl: { type: "string" },
        ...cli.options,
      },
    });
    if (!parsed) return 0;
    const { values } = parsed;
    if (!values["redirect-uri"]?.length) throw new UsageError("--redirect-uri is required");
    const port = portOf(values.port, "--port", { min: 0 });
    const stack = stopOnSignals(cli.name);
    const sim = await cli.start({
      redirectUris: values["redirect-uri"],
      ...(values.host ? { host: values.host } : {}),
      ...(port !== undefined ? { port } : {}),
      ...(values["client-secret"] ? { clientSecret: values["client-secret"] } : {}),
      ...(values.ttl ? { accessTokenTtl: Number(values.ttl) } : {}),
      ...cli.toOptions(values),
    });
    stack.push(() => sim.stop());
    console.log(`${cli.name}: ${sim.url}; users: ${sim.users.map((u) => u.username).join(", ")}`);
    console.log(`VCAP_SERVICES=${sim.vcapServices()}`);
  };
  const code = await command({ name: cli.name, usage: cli.usage, main })(process.argv.slice(2));
  if (code !== undefined) process.exitCode = code;
}

/**
 * The command of a simulator of a service the router calls (destination service, HTML5
 * repository): `--port`, `--host` and the simulator's own flags; prints its VCAP_SERVICES
 * entry (JSON) and serves until stopped.
 * @param {{ name: string, usage: string, service: string,
 *   options: import("node:util").ParseArgsConfig["options"],
 *   start: (values: Record<string, any>, listen: { host: string, port: number }) => Promise<{ url: string, binding: unknown, stop(): Promise<void> }> }} cli
 */
export function serviceSimCommand(cli) {
  const main = async (/** @type {string[]} */ argv) => {
    const parsed = parseCommandLine(argv, {
      usage: cli.usage,
      options: { port: { type: "string" }, host: { type: "string" }, ...cli.options },
    });
    if (!parsed) return 0;
    const port = portOf(parsed.values.port ?? "0", "--port", { min: 0 }) ?? 0;
    const stack = stopOnSignals(cli.name);
    const sim = await cli.start(parsed.values, { host: parsed.values.host ?? "127.0.0.1", port });
    stack.push(() => sim.stop());
    process.stdout.write(`${JSON.stringify({ [cli.service]: [sim.binding] }, null, 2)}\n`);
    process.stderr.write(`${cli.name} on ${sim.url} (VCAP_SERVICES above); Ctrl+C stops it\n`);
  };
  return command({ name: cli.name, usage: cli.usage, main });
}
