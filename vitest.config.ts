import { defineConfig } from "vitest/config";
import { cloudflareTest } from "@cloudflare/vitest-pool-workers";

export default defineConfig({
  test: {
    // The router's info lines (config.loaded, metrics) from every isolate drown the
    // report; warnings and errors still show.
    onConsoleLog: (log: string) => !log.includes('"level":"info"'),
    projects: [
      {
        // Unit and contract tests inside workerd. A real redis-server + the local
        // Upstash REST endpoint is started once for them (globalSetup).
        plugins: [
          cloudflareTest(({ inject }) => ({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              bindings: {
                TEST_UPSTASH_URL: inject("upstashUrl"),
                TEST_UPSTASH_TOKEN: inject("upstashToken"),
              },
              kvNamespaces: ["TEST_SESSIONS_KV"],
            },
          })),
        ],
        // wrangler.toml's [alias] is a build setting; tests resolve the same way.
        resolve: { alias: { "approuter-custom-store": "./src/stores/no-custom-store.ts" } },
        test: {
          name: "workerd",
          include: ["test/unit/**/*.test.ts"],
          globalSetup: ["test/support/global-redis.ts"],
        },
      },
      {
        // Integration tests from Node: Miniflare isolates, wrangler dev, redis-server.
        test: {
          name: "node",
          include: ["test/node/**/*.test.ts"],
          environment: "node",
          globalSetup: ["test/support/global-temp-dir.ts"],
          // These files mostly wait (on sockets, child processes, timers): two of them at once
          // (vitest's default on 2 cores is 1 worker: one file at a time). More made the
          // timing-bound tests (2 s tokens, 500 ms store budgets) fail on a loaded 2-core machine.
          // After the workerd project (vitest needs a group of their own for another maxWorkers).
          maxWorkers: 2,
          sequence: { groupOrder: 1 },
          testTimeout: 60_000,
          hookTimeout: 90_000,
        },
      },
    ],
  },
});
