import type { Hono } from "hono";
import { createApp } from "./app.js";
import type { Authenticator } from "./auth/types.js";
import { formatProblems, loadConfig, NO_CUSTOM_STORE, redactedSummary } from "./config/index.js";
import type { RouterConfig } from "./config/types.js";
import { warnUnsupported } from "./config/unsupported-env.js";
import type { Env } from "./env.js";
import type { RouterHooks } from "./handlers/hooks.js";
import type { Logger } from "./log.js";
import { ExternalTier } from "./session/external-tier.js";
import { KeyRing } from "./session/keyring.js";
import { SessionManager } from "./session/manager.js";
import { MemoryTier } from "./session/memory-tier.js";
import {
  adaptCustomStore,
  missingMethods,
  type CustomStoreModule,
  type UserCustomStore,
} from "./stores/custom.js";
import { ResilientStore, realSleep } from "./stores/resilient.js";
import type { ByteStore } from "./stores/types.js";
import { createUpstashStore } from "./stores/upstash.js";
import type { SessionEnv } from "./session/middleware.js";
import { indexesOf } from "./auth/auth-data.js";
import { loginStateKey } from "./auth/login-state.js";
import { createProvider } from "./auth/provider.js";
import { newAuthMetrics, type AuthServices } from "./auth/services.js";
import { routeQueryWarnings } from "./routing/query-warning.js";

/**
 * Everything one isolate builds once from its environment: validated configuration,
 * the session tiers and the app. Invalid configuration is a value too: the isolate
 * then answers every request with a generic error page.
 */
export type IsolateState =
  | {
      kind: "ready";
      config: RouterConfig;
      manager: SessionManager;
      app: Hono<SessionEnv>;
      auth?: AuthServices;
    }
  | { kind: "broken"; problems: string[] };

export interface IsolateDeps {
  bundledXsApp: unknown;
  customStore: CustomStoreModule & { isPlaceholder?: boolean };
  fetch: typeof fetch;
  now: () => number;
  log: Logger;
  authenticate?: Authenticator;
  /** Extension middleware (createRouter). */
  hooks?: RouterHooks;
  /**
   * Tests only (never read from the environment): the idle timeout in milliseconds instead of
   * the configured whole minutes, so an idle-timeout test need not wait a minute.
   */
  idleTimeoutMs?: number;
}

/**
 * Idle timeout honoured in the store within this much: the TTL of an unchanged session is
 * extended at most this often.
 */
export function touchIntervalFor(idleTimeoutMs: number): number {
  return Math.min(60_000, Math.floor(idleTimeoutMs / 10));
}

export async function buildIsolate(env: Env, deps: IsolateDeps): Promise<IsolateState> {
  const customStoreBundled =
    !deps.customStore.isPlaceholder && typeof deps.customStore.getStore === "function";
  const loaded = loadConfig(env, deps.bundledXsApp, { customStoreBundled });
  if (!loaded.ok) return broken(deps.log, formatProblems(loaded.problems).split("\n"));
  const { config } = loaded;
  const { session } = config;
  const idleTimeoutMs = deps.idleTimeoutMs ?? session.idleTimeoutMs;

  let external: ExternalTier | undefined;
  const ext = config.externalSession;
  if (ext) {
    const store = openStore(config, env, deps);
    if (typeof store === "string") return broken(deps.log, [store]);
    const resilient = new ResilientStore(store, {
      budgetMs: ext.retryTimeoutMs,
      backOffMs: ext.backOffMultiplier,
      maxAttempts: 3,
      cooldownMs: ext.retryTimeoutMs,
      now: deps.now,
      sleep: realSleep,
    });
    external = new ExternalTier(resilient, await KeyRing.create(ext.secrets));
  }

  const manager = new SessionManager({
    memory: new MemoryTier({ ...session.memory, idleTimeoutMs }),
    ...(external ? { external } : {}),
    idleTimeoutMs,
    absoluteTimeoutMs: session.absoluteTimeoutMs,
    revalidateAfterMs: ext?.revalidateAfterMs ?? Infinity,
    touchIntervalMs: touchIntervalFor(idleTimeoutMs),
    now: deps.now,
    log: deps.log,
    indexesOf: (record) => indexesOf(record.data),
  });
  const auth = await buildAuth(config, manager, external, deps, env);
  warnUnsupported(env, deps.log);
  if (config.xsApp.ignored.length > 0) deps.log("config.ignored.warn", { settings: config.xsApp.ignored });
  deps.log("config.loaded", { ...redactedSummary(config) });
  for (const warning of routeQueryWarnings(config.xsApp.routes))
    deps.log("config.route.warn", { ...warning });
  const app = createApp({
    config,
    manager,
    fetch: deps.fetch,
    log: deps.log,
    ...(auth ? { auth } : {}),
    ...(deps.authenticate ? { authenticate: deps.authenticate } : {}),
    ...(deps.hooks ? { hooks: deps.hooks } : {}),
    ...(config.statusToken ? { statusToken: config.statusToken } : {}),
    now: deps.now,
  });
  return { kind: "ready", config, manager, app, ...(auth ? { auth } : {}) };
}

async function buildAuth(
  config: RouterConfig,
  manager: SessionManager,
  external: ExternalTier | undefined,
  deps: IsolateDeps,
  env: Env,
): Promise<AuthServices | undefined> {
  const bound = Object.values(config.identityProviders);
  if (bound.length === 0) return undefined;
  const providers = new Map(
    bound.map((p) => {
      // X.509 bindings: token calls through the Workers mTLS certificate binding (checked at start-up).
      const mtls = p.mtlsBinding ? (env[p.mtlsBinding] as Fetcher) : undefined;
      const tokenFetch: typeof fetch = mtls
        ? (input, init) =>
            mtls.fetch(input as RequestInfo, init as RequestInit) as unknown as Promise<Response>
        : deps.fetch;
      return [
        p.label,
        createProvider(p, { fetch: deps.fetch, tokenFetch, now: deps.now, login: config.login }),
      ] as const;
    }),
  );
  // Every isolate must open the login-state cookie another one sealed: a shared secret.
  const loginSecret =
    config.externalSession?.secrets[0] ??
    bound.map((p) => p.clientSecret ?? p.keyMaterial).find((s) => s !== undefined) ??
    randomSecret();
  return {
    providers,
    loginKey: await loginStateKey(loginSecret),
    manager,
    ...(external ? { external } : {}),
    local: { used: new Map(), leases: new Map() },
    cookieName: config.session.cookieName,
    callbackPath: config.xsApp.login.callbackEndpoint,
    login: config.login,
    now: deps.now,
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    log: deps.log,
    metrics: newAuthMetrics(),
  };
}

/** Only when nothing bound is secret: a login must then complete on the isolate that started it. */
function randomSecret(): string {
  return btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));
}

/** The byte store EXT_SESSION_MGT asks for, or a problem in the usual `path: message` form. */
function openStore(config: RouterConfig, env: Env, deps: IsolateDeps): ByteStore | string {
  const ext = config.externalSession!;
  if (ext.externalStoreFilePath === undefined) {
    if (!ext.upstash) return "EXT_SESSION_MGT.instanceName: no Upstash credentials";
    return createUpstashStore({ ...ext.upstash, requestTimeoutMs: ext.retryTimeoutMs });
  }
  const path = "EXT_SESSION_MGT.externalStoreFilePath";
  const getStore = deps.customStore.getStore;
  // Reported by loadConfig.
  if (deps.customStore.isPlaceholder || typeof getStore !== "function") return `${path}: ${NO_CUSTOM_STORE}`;
  let store: unknown;
  try {
    store = getStore({ instanceName: ext.instanceName, storageType: ext.storageType, env });
  } catch (error) {
    return `${path}: getStore() failed: ${error instanceof Error ? error.message : "unknown error"}`;
  }
  const missing = missingMethods(store);
  if (missing.length > 0) return `${path}: the driver's store lacks ${missing.join(", ")}`;
  return adaptCustomStore(store as UserCustomStore);
}

function broken(log: Logger, problems: string[]): IsolateState {
  log("config.invalid", { problems });
  return { kind: "broken", problems };
}
