import { loadConfig } from "../../src/config/index.js";
import type { RouterConfig } from "../../src/config/types.js";
import type { Env } from "../../src/env.js";

/**
 * The environment of a router with one destination `backend` at `backendUrl` and an XSUAA
 * binding whose service is never called (its URL is a closed loopback port): enough for
 * routes that require a login, in tests that stand in for the login layer.
 */
export function envWithXsuaa(backendUrl = "http://backend.test"): Env {
  return {
    destinations: JSON.stringify([{ name: "backend", url: backendUrl }]),
    VCAP_SERVICES: JSON.stringify({
      xsuaa: [
        {
          name: "uaa",
          label: "xsuaa",
          tags: ["xsuaa"],
          credentials: { url: "http://127.0.0.1:9", clientid: "c", clientsecret: "s" },
        },
      ],
    }),
  } as Env;
}

/** The validated configuration of `xsApp` in `envWithXsuaa(backendUrl)`; throws with the problems otherwise. */
export function configWithXsuaa(xsApp: unknown, backendUrl?: string): RouterConfig {
  const loaded = loadConfig(envWithXsuaa(backendUrl), xsApp);
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
  return loaded.config;
}
