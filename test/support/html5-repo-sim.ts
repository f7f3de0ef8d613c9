import { sampleApps, startHtml5RepoSim } from "../../scripts/sim/html5-repo.mjs";

/** The HTML5 application repository simulator (scripts/sim/html5-repo.mjs) for tests. */
export type Html5RepoSim = Awaited<ReturnType<typeof startHtml5RepoSim>>;
export { sampleApps, startHtml5RepoSim };
