/**
 * Configuration, parsed and validated once per isolate. Every problem in every part is
 * reported (never only the first), each named by its JSON path.
 */
import type { Env } from "../env.js";
import type {
  ConfigProblem,
  ConfigResult,
  RouteConfig,
  RouterConfig,
  SessionSettings,
  XsAppConfig,
} from "./types.js";
import { parseExtSessionMgt } from "./ext-session-mgt.js";
import { parseVcapServices, resolveUpstash, type UpstashCredentials } from "./vcap.js";
import { parseDestinations } from "./destinations.js";
import { BUNDLED, compressionSchema, parsePlugins, parseXsApp } from "./xs-app.js";
import { parseHttpSettings, parseSessionSettings } from "./env-vars.js";
import { parseIdentityProviders, routeAuthenticationType } from "./identity.js";
import { readJsonVariable, validate } from "./problems.js";
import { resolveReplaceViews } from "../static/replace.js";
import { parseDestinationService } from "../destinations/service-binding.js";
import { parseDestinationHostPattern } from "./dynamic-destinations.js";
import { parseDirectRoutingUriPatterns, parseHtml5Repo, parseOwnSapCloudService } from "../html5/binding.js";
import { parseBusinessServices } from "../html5/business-services.js";

export type * from "./types.js";
export { formatProblems } from "./problems.js";

/**
 * Loads the router's configuration from `env` and the bundled xs-app.json.
 * `XS_APP` (JSON), when set, replaces `bundledXsApp` (problems are then named `XS_APP…`);
 * with neither, an empty descriptor (no routes). Without `EXT_SESSION_MGT` there is no
 * external session tier (`externalSession` undefined). `customStoreBundled: false` (no driver
 * behind the `approuter-custom-store` alias) makes an `externalStoreFilePath` a problem,
 * reported with all the others.
 */
export function loadConfig(
  env: Env,
  bundledXsApp: unknown,
  options: { customStoreBundled?: boolean } = {},
): ConfigResult {
  const problems: ConfigProblem[] = [];

  const ext = parseExtSessionMgt(env.EXT_SESSION_MGT);
  problems.push(...ext.problems);
  if (ext.settings?.externalStoreFilePath !== undefined && options.customStoreBundled === false) {
    problems.push({ path: "EXT_SESSION_MGT.externalStoreFilePath", message: NO_CUSTOM_STORE });
  }
  const vcap = parseVcapServices(env.VCAP_SERVICES);
  problems.push(...vcap.problems);
  let upstash: UpstashCredentials | undefined;
  if (ext.credentialsFor !== undefined) {
    const found = resolveUpstash(ext.credentialsFor, vcap, env);
    if (found.ok) upstash = found.value;
    else problems.push(...found.problems);
  }

  const destinations = parseDestinations(env.destinations);
  problems.push(...destinations.problems);
  // With the destination service bound, a route may name a destination that lives there.
  const destinationService = parseDestinationService(vcap);
  problems.push(...destinationService.problems);
  const knownNames =
    destinationService.binding || destinationService.problems.length > 0 ? undefined : destinations.names;

  const hostPattern = parseDestinationHostPattern(env.DESTINATION_HOST_PATTERN);
  problems.push(...hostPattern.problems);
  // Set but invalid: reported as such, not again at every "*" route.
  const hasHostPattern = env.DESTINATION_HOST_PATTERN !== undefined && env.DESTINATION_HOST_PATTERN !== "";

  const html5Repo = parseHtml5Repo(vcap);
  problems.push(...html5Repo.problems);
  const businessServices = parseBusinessServices(vcap);
  if (html5Repo.binding) problems.push(...businessServices.problems);
  const ownServices = parseOwnSapCloudService(env.OWN_SAP_CLOUD_SERVICE);
  if (!ownServices.ok) problems.push(...ownServices.problems);
  const directRouting = parseDirectRoutingUriPatterns(env.DIRECT_ROUTING_URI_PATTERNS);
  if (!directRouting.ok) problems.push(...directRouting.problems);

  let xsApp: XsAppConfig | undefined;
  const xsAppJson = readJsonVariable(env.XS_APP, "XS_APP");
  if (xsAppJson.ok) {
    const [input, prefix] =
      xsAppJson.value === undefined ? [bundledXsApp ?? {}, BUNDLED] : [xsAppJson.value, "XS_APP"];
    // A binding with problems is reported as such, not again at every html5-apps-repo-rt route.
    const parsed = parseXsApp(input, prefix, knownNames, {
      html5Repo: html5Repo.binding !== undefined || html5Repo.problems.length > 0,
      destinationHostPattern: hasHostPattern,
    });
    if (parsed.ok) {
      xsApp = parsed.value;
      problems.push(...assetsProblems(xsApp, env.ASSETS, prefix));
      problems.push(...resolveReplaceViews(xsApp.routes, env, vcap.services, prefix));
    } else {
      problems.push(...parsed.problems);
    }
  } else {
    problems.push(...xsAppJson.problems);
  }

  const plugins = readPlugins(env, knownNames, hasHostPattern, problems);
  if (xsApp && plugins) {
    const none = xsApp.authenticationMethod === "none";
    xsApp.routes = [
      ...plugins.routes.map((r) => (none ? { ...r, authenticationType: "none" as const } : r)),
      ...xsApp.routes,
    ];
  }
  const compression = readJsonVariable(env.COMPRESSION, "COMPRESSION");
  if (!compression.ok) problems.push(...compression.problems);
  else if (compression.value !== undefined) {
    const checked = validate(compressionSchema, compression.value, "COMPRESSION");
    if (!checked.ok) problems.push(...checked.problems);
    else if (xsApp) {
      // SAP merges the variable over xs-app.json's `compression`.
      if (checked.value.enabled !== undefined) xsApp.compression = { enabled: checked.value.enabled };
      for (const key of ["minSize", "compressResponseMixedTypeContent"] as const) {
        if (checked.value[key] !== undefined)
          xsApp.ignored.push(`COMPRESSION.${key} (Cloudflare decides compression at the edge)`);
      }
    }
  }

  const identity = parseIdentityProviders(
    vcap,
    xsApp?.routes ?? [],
    `${env.XS_APP === undefined || env.XS_APP === "" ? BUNDLED : "XS_APP"}.routes`,
    env,
  );
  problems.push(...identity.problems);
  // A route without authenticationType uses IAS when only IAS is bound (SAP's iasOnly).
  if (xsApp)
    xsApp = {
      ...xsApp,
      routes: xsApp.routes.map((route) => ({
        ...route,
        authenticationType: routeAuthenticationType(route, identity.login),
      })),
    };

  const statusToken =
    typeof env.STATUS_TOKEN === "string" && env.STATUS_TOKEN !== "" ? env.STATUS_TOKEN : undefined;
  if (statusToken !== undefined && statusToken.length < 16)
    problems.push({ path: "STATUS_TOKEN", message: "must be at least 16 characters" });

  const session = parseSessionSettings(env, xsApp?.sessionTimeout);
  if (!session.ok) problems.push(...session.problems);
  const http = parseHttpSettings(env);
  if (!http.ok) problems.push(...http.problems);

  if (problems.length > 0 || xsApp === undefined || !session.ok || !http.ok) return { ok: false, problems };
  const config: RouterConfig = {
    xsApp,
    destinations: destinations.destinations,
    session: session.value,
    identityProviders: identity.providers,
    login: identity.login,
    http: { ...http.value, ...(plugins && { plugins: plugins.raw }) },
    ...(statusToken !== undefined ? { statusToken } : {}),
    ...(destinationService.binding && { destinationService: destinationService.binding }),
    ...(hostPattern.pattern && { destinationHostPattern: hostPattern.pattern }),
    ...(html5Repo.binding && {
      html5Repo: {
        ...html5Repo.binding,
        ownSapCloudServices: ownServices.ok ? ownServices.value : [],
        ...(directRouting.ok &&
          directRouting.value.length > 0 && { directRoutingUriPatterns: directRouting.value }),
        ...(businessServices.services.size > 0 && { businessServices: businessServices.services }),
      },
    }),
  };
  if (ext.settings) config.externalSession = { ...ext.settings, ...(upstash && { upstash }) };
  return { ok: true, config };
}

export const NO_CUSTOM_STORE =
  "no custom store driver is bundled; " +
  'point the "approuter-custom-store" alias in wrangler.toml at your driver module';

/** Every part of xs-app.json that serves static files needs the `ASSETS` binding. */
function assetsProblems(xsApp: XsAppConfig, assets: unknown, prefix: string): ConfigProblem[] {
  if (typeof (assets as { fetch?: unknown } | undefined)?.fetch === "function") return [];
  const message =
    "needs static assets bound as ASSETS " +
    '(wrangler.toml [assets] with directory, binding = "ASSETS" and run_worker_first = true)';
  const problems: ConfigProblem[] = [];
  xsApp.routes.forEach((route, i) => {
    if (route.localDir !== undefined) problems.push({ path: `${prefix}.routes[${i}].localDir`, message });
  });
  if ([...xsApp.errorPage.values()].some((page) => "file" in page))
    problems.push({ path: `${prefix}.errorPage`, message });
  return problems;
}

/**
 * SAP's `plugins` variable: routes (before xs-app.json's) and the JSON as given (plugin metadata endpoint).
 */
function readPlugins(
  env: Env,
  destinationNames: ReadonlySet<string> | undefined,
  destinationHostPattern: boolean,
  problems: ConfigProblem[],
): { routes: RouteConfig[]; raw: Record<string, unknown>[] } | undefined {
  const json = readJsonVariable(env.plugins, "plugins");
  if (!json.ok) return void problems.push(...json.problems);
  if (json.value === undefined) return undefined;
  const parsed = parsePlugins(json.value, destinationNames, { destinationHostPattern });
  if (!parsed.ok) return void problems.push(...parsed.problems);
  return { routes: parsed.value, raw: json.value as Record<string, unknown>[] };
}

/** What `redactedSummary` returns: safe to log, no secret in it. */
export interface ConfigSummary {
  xsApp: { authenticationMethod: "route" | "none"; routes: number; welcomeFile?: string };
  destinations: { name: string; url: string; timeoutMs: number; forwardAuthToken: boolean }[];
  session: SessionSettings;
  /** Origin of the bound destination service's API. */
  destinationService?: { uri: string };
  /** Origin of the bound HTML5 application repository's runtime API. */
  html5Repo?: { uri: string };
  externalSession?: {
    instanceName: string;
    storageType: string;
    /** How many secrets (current + previous), never the secrets. */
    secrets: number;
    store: "upstash" | "custom";
    externalStoreFilePath?: string;
    /** Origin only. */
    upstashUrl?: string;
    retryTimeoutMs: number;
    backOffMultiplier: number;
    revalidateAfterMs: number;
  };
}

/**
 * A loggable view of the configuration for start-up logs: counts instead of secrets, URLs
 * without credentials or query.
 */
export function redactedSummary(config: RouterConfig): ConfigSummary {
  const ext = config.externalSession;
  return {
    xsApp: {
      authenticationMethod: config.xsApp.authenticationMethod,
      routes: config.xsApp.routes.length,
      ...(config.xsApp.welcomeFile !== undefined && { welcomeFile: config.xsApp.welcomeFile }),
    },
    destinations: [...config.destinations.values()].map((d) => ({
      name: d.name,
      url: withoutSecrets(d.url, false),
      timeoutMs: d.timeoutMs,
      forwardAuthToken: d.forwardAuthToken,
    })),
    session: { ...config.session, memory: { ...config.session.memory } },
    ...(config.destinationService && {
      destinationService: { uri: withoutSecrets(config.destinationService.uri, true) },
    }),
    ...(config.html5Repo && { html5Repo: { uri: withoutSecrets(config.html5Repo.uri, true) } }),
    ...(ext && {
      externalSession: {
        instanceName: ext.instanceName,
        storageType: ext.storageType,
        secrets: ext.secrets.length,
        store: ext.externalStoreFilePath === undefined ? "upstash" : "custom",
        ...(ext.externalStoreFilePath !== undefined && { externalStoreFilePath: ext.externalStoreFilePath }),
        ...(ext.upstash && { upstashUrl: withoutSecrets(ext.upstash.url, true) }),
        retryTimeoutMs: ext.retryTimeoutMs,
        backOffMultiplier: ext.backOffMultiplier,
        revalidateAfterMs: ext.revalidateAfterMs,
      },
    }),
  };
}

/** Drops user info, query and fragment (and the path when `originOnly`). */
function withoutSecrets(url: string, originOnly: boolean): string {
  try {
    const parsed = new URL(url);
    return originOnly ? parsed.origin : `${parsed.origin}${parsed.pathname.replace(/\/+$/, "")}`;
  } catch {
    return "(invalid URL)";
  }
}
