import { sampleDestinations, startDestinationSim } from "../../scripts/sim/destination.mjs";

/**
 * The destination-service simulator (scripts/sim/destination.mjs) for tests: one running
 * instance, its VCAP_SERVICES binding and its request log.
 */
export type DestinationSim = Awaited<ReturnType<typeof startDestinationSim>>;
export { sampleDestinations, startDestinationSim };

/** VCAP_SERVICES with the simulator bound as the destination service (plus any other bindings). */
export function vcapWith(sim: DestinationSim, others: Record<string, unknown[]> = {}): string {
  return JSON.stringify({ ...others, destination: [sim.binding] });
}

/** The simulator's find-destination calls (optionally for one name). */
export function findCalls(sim: DestinationSim, name?: string) {
  return sim.requests.filter((r) => r.kind === "find" && (name === undefined || r.name === name));
}
