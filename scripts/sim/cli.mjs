// The command line both simulators share: common flags, start, print the binding, run until
// Ctrl-C.
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

/** Whether the module with this import.meta.url is the script node was started with. */
export const isMain = (/** @type {string} */ moduleUrl) =>
  !!process.argv[1] && moduleUrl === pathToFileURL(process.argv[1]).href;

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
  try {
    const { values } = parseArgs({
      options: {
        "redirect-uri": { type: "string", multiple: true },
        host: { type: "string" },
        port: { type: "string" },
        "client-secret": { type: "string" },
        ttl: { type: "string" },
        help: { type: "boolean" },
        ...cli.options,
      },
    });
    if (values.help || !(/** @type {string[] | undefined} */ (values["redirect-uri"])?.length)) {
      console.log(cli.usage);
      process.exit(values.help ? 0 : 2);
    }
    const sim = await cli.start({
      redirectUris: values["redirect-uri"],
      ...(values.host ? { host: values.host } : {}),
      ...(values.port ? { port: Number(values.port) } : {}),
      ...(values["client-secret"] ? { clientSecret: values["client-secret"] } : {}),
      ...(values.ttl ? { accessTokenTtl: Number(values.ttl) } : {}),
      ...cli.toOptions(values),
    });
    console.log(`${cli.name}: ${sim.url}; users: ${sim.users.map((u) => u.username).join(", ")}`);
    console.log(`VCAP_SERVICES=${sim.vcapServices()}`);
    const stop = () => sim.stop().then(() => process.exit(0));
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  } catch (e) {
    console.error(`${cli.name}: ${e instanceof Error ? e.message : e}`);
    process.exit(1);
  }
}
