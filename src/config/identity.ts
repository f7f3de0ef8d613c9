/**
 * Identity providers, found in `VCAP_SERVICES` exactly as SAP's router finds them
 * (@sap/approuter lib/configuration/uaa-config.js, ias-config.js):
 * - XSUAA (`authenticationType: "xsuaa"`): the binding named `UAA_SERVICE_NAME`, else any
 *   binding whose `tags` contain `xsuaa` (the label is not looked at), or a user-provided one
 *   whose `credentials.tags` do.
 * - IAS (`authenticationType: "ias"`): the binding named `IAS_SERVICE_NAME`, else any binding
 *   whose `label` contains `identity`, or a user-provided one whose `credentials.label` does.
 *   Any OpenID Connect provider is bound the same way (its `url` is its issuer; the `scope`
 *   credential is an extension naming the scopes to request).
 * Two matches are a configuration error naming both (SAP silently runs without login).
 *
 * Login settings come from SAP's variables: JWT_REFRESH, TENANT_HOST_PATTERN,
 * PRESERVE_FRAGMENT, ENABLE_PERMANENT_AUTHTYPE, LOGOUT_WITH_TOKEN_HINT, XS_BIND_ADDRESS,
 * DYNAMIC_IDENTITY_PROVIDER;
 * an X.509 binding needs the Workers mTLS binding named by XSUAA_MTLS_BINDING /
 * IAS_MTLS_BINDING (defaults XSUAA_MTLS, IAS_MTLS).
 */
import * as v from "valibot";
import type { ConfigProblem, IdentityProviderConfig, LoginSettings, RouteConfig } from "./types.js";
import { validate } from "./problems.js";
import { httpUrl, nonEmptyString } from "./schemas.js";
import { bindingsWhere, type FoundBinding, type ServiceBinding, type VcapServicesResult } from "./vcap.js";

/** Which binding label serves which route `authenticationType`. */
export const LABEL_FOR: Record<"xsuaa" | "ias", "xsuaa" | "identity"> = { xsuaa: "xsuaa", ias: "identity" };

export const DEFAULT_JWT_REFRESH_MINUTES = 5;
export const DEFAULT_MTLS_BINDING = { xsuaa: "XSUAA_MTLS", ias: "IAS_MTLS" } as const;

export interface IdentityEnv {
  UAA_SERVICE_NAME?: unknown;
  IAS_SERVICE_NAME?: unknown;
  JWT_REFRESH?: unknown;
  TENANT_HOST_PATTERN?: unknown;
  PRESERVE_FRAGMENT?: unknown;
  ENABLE_PERMANENT_AUTHTYPE?: unknown;
  LOGOUT_WITH_TOKEN_HINT?: unknown;
  XS_BIND_ADDRESS?: unknown;
  DYNAMIC_IDENTITY_PROVIDER?: unknown;
  XSUAA_MTLS_BINDING?: unknown;
  IAS_MTLS_BINDING?: unknown;
  [binding: string]: unknown;
}

const tagsOf = (value: unknown): string[] =>
  Array.isArray(value) ? value.filter((t): t is string => typeof t === "string") : [];
const credentialsOf = (binding: ServiceBinding): Record<string, unknown> =>
  typeof binding.credentials === "object" && binding.credentials !== null
    ? (binding.credentials as Record<string, unknown>)
    : {};

/** SAP's XSUAA lookup: by name when `serviceName` is set, else by the `xsuaa` tag. */
export function xsuaaBindings(
  services: Record<string, ServiceBinding[]>,
  serviceName?: string,
): FoundBinding[] {
  if (serviceName) return bindingsWhere(services, (b) => b.name === serviceName);
  return bindingsWhere(
    services,
    (b) =>
      tagsOf(b.tags).includes("xsuaa") ||
      (b.label === "user-provided" && tagsOf(credentialsOf(b).tags).includes("xsuaa")),
  );
}

/** SAP's IAS lookup: by name when `serviceName` is set, else a label containing `identity`. */
export function iasBindings(
  services: Record<string, ServiceBinding[]>,
  serviceName?: string,
): FoundBinding[] {
  if (serviceName) return bindingsWhere(services, (b) => b.name === serviceName);
  const containsIdentity = (value: unknown) => typeof value === "string" && value.includes("identity");
  return bindingsWhere(
    services,
    (b) =>
      containsIdentity(b.label) || (b.label === "user-provided" && containsIdentity(credentialsOf(b).label)),
  );
}

const common = {
  url: httpUrl,
  clientid: nonEmptyString,
  clientsecret: v.optional(nonEmptyString),
  certificate: v.optional(nonEmptyString),
  key: v.optional(nonEmptyString),
  certurl: v.optional(httpUrl),
  /** Extension: the scopes to request (space-separated). */
  scope: v.optional(nonEmptyString),
};

const xsuaaCredentials = v.looseObject({
  ...common,
  xsappname: v.optional(nonEmptyString),
  uaadomain: v.optional(v.pipe(nonEmptyString, v.regex(/^[A-Za-z0-9.-]+(:\d+)?$/, "must be a host name"))),
  tenantmode: v.optional(v.picklist(["dedicated", "shared"], 'must be "dedicated" or "shared"')),
});

/** IAS `domains`: an array of host names, or that array as a JSON string (both occur). */
const domains = v.pipe(
  v.union([v.array(v.string()), v.string()], "must be an array of host names"),
  v.transform((input) => {
    if (Array.isArray(input)) return input;
    try {
      const parsed: unknown = JSON.parse(input);
      return Array.isArray(parsed) ? parsed.map(String) : [input];
    } catch {
      return [input];
    }
  }),
  v.check((list) => list.every((d) => /^[A-Za-z0-9.-]+$/.test(d)), "must be an array of host names"),
);

const iasCredentials = v.looseObject({
  ...common,
  domains: v.optional(domains),
  app_tid: v.optional(nonEmptyString),
  zone_uuid: v.optional(nonEmptyString),
});

const trimSlash = (url: string) => url.replace(/\/+$/, "");
const text = (value: unknown): string | undefined =>
  typeof value === "string" && value.trim() !== "" ? value.trim() : undefined;

export function parseIdentityProviders(
  vcap: VcapServicesResult,
  routes: readonly Pick<RouteConfig, "authenticationType" | "authenticationTypeImplicit">[],
  routesPath: string,
  env: IdentityEnv = {},
): {
  providers: Partial<Record<"xsuaa" | "identity", IdentityProviderConfig>>;
  login: LoginSettings;
  problems: ConfigProblem[];
} {
  const problems: ConfigProblem[] = [];
  const providers: Partial<Record<"xsuaa" | "identity", IdentityProviderConfig>> = {};
  const services = vcap.services ?? {};

  const pick = (kind: "xsuaa" | "ias", found: FoundBinding[], variable: string): FoundBinding | undefined => {
    if (found.length > 1) {
      problems.push({
        path: found[1]!.path,
        message:
          `more than one ${kind === "xsuaa" ? "XSUAA" : "IAS"} binding: ` +
          `${found.map((f) => f.path).join(" and ")}; ` +
          `set ${variable} to the instance name to use`,
      });
      return undefined;
    }
    return found[0];
  };

  const xsuaa = pick("xsuaa", xsuaaBindings(services, text(env.UAA_SERVICE_NAME)), "UAA_SERVICE_NAME");
  if (xsuaa) {
    const path = `${xsuaa.path}.credentials`;
    const checked = validate(xsuaaCredentials, xsuaa.binding.credentials, path);
    if (!checked.ok) problems.push(...checked.problems);
    else {
      const c = checked.value;
      const auth = clientAuth(c, path, "xsuaa", env, problems);
      if (c.tenantmode === "shared" && !c.uaadomain)
        problems.push({ path: `${path}.uaadomain`, message: 'is required with tenantmode "shared"' });
      if (auth) {
        providers.xsuaa = {
          label: "xsuaa",
          kind: "xsuaa",
          bindingPath: xsuaa.path,
          url: trimSlash(c.url),
          clientId: c.clientid,
          ...auth,
          ...(c.certurl !== undefined && { certUrl: trimSlash(c.certurl) }),
          ...(c.scope !== undefined && { scope: c.scope }),
          ...(c.xsappname !== undefined && { xsappname: c.xsappname }),
          // Without uaadomain (hand-made bindings) the url's host stands for it.
          uaadomain: c.uaadomain ?? new URL(c.url).host,
          ...(c.tenantmode !== undefined && { tenantMode: c.tenantmode }),
          domains: [],
        };
      }
    }
  }

  const ias = pick("ias", iasBindings(services, text(env.IAS_SERVICE_NAME)), "IAS_SERVICE_NAME");
  if (ias) {
    const path = `${ias.path}.credentials`;
    const checked = validate(iasCredentials, ias.binding.credentials, path);
    if (!checked.ok) problems.push(...checked.problems);
    else {
      const c = checked.value;
      const auth = clientAuth(c, path, "ias", env, problems);
      const appTid = c.app_tid ?? c.zone_uuid;
      if (auth) {
        providers.identity = {
          label: "identity",
          kind: "ias",
          bindingPath: ias.path,
          url: trimSlash(c.url),
          clientId: c.clientid,
          ...auth,
          ...(c.certurl !== undefined && { certUrl: trimSlash(c.certurl) }),
          scope: c.scope ?? "openid",
          domains: (c.domains ?? []).map((d) => d.toLowerCase()),
          ...(appTid !== undefined && { appTid }),
        };
      }
    }
  }

  const login = parseLoginSettings(env, providers, problems);
  if (login.tenantHostPattern === undefined && providers.xsuaa?.tenantMode === "shared") {
    problems.push({
      path: "TENANT_HOST_PATTERN",
      message: 'must be set: the XSUAA binding has tenantmode "shared"',
    });
  }

  // An invalid VCAP_SERVICES is reported once, not again as every missing binding.
  const named = (name: unknown) => (text(name) ? `, named ${JSON.stringify(text(name))}` : "");
  if (vcap.problems.length === 0) {
    routes.forEach((route, i) => {
      if (route.authenticationType === "none") return;
      const type = route.authenticationTypeImplicit
        ? login.defaultAuthenticationType
        : route.authenticationType;
      const label = LABEL_FOR[type];
      const reported = problems.some((p) => p.path.startsWith("VCAP_SERVICES"));
      if (!providers[label] && !reported) {
        problems.push({
          path: `${routesPath}[${i}].authenticationType`,
          message:
            type === "xsuaa"
              ? "needs an XSUAA binding in VCAP_SERVICES " +
                `(a service whose tags contain "xsuaa"${named(env.UAA_SERVICE_NAME)})`
              : "needs an IAS binding in VCAP_SERVICES " +
                `(a service whose label contains "identity"${named(env.IAS_SERVICE_NAME)})`,
        });
      }
    });
  }
  return { providers, login, problems };
}

/** The route's effective provider type: an implicit one follows SAP's iasOnly rule. */
export function routeAuthenticationType(
  route: Pick<RouteConfig, "authenticationType" | "authenticationTypeImplicit">,
  login: LoginSettings,
): "xsuaa" | "ias" | "none" {
  if (route.authenticationType === "none") return "none";
  return route.authenticationTypeImplicit ? login.defaultAuthenticationType : route.authenticationType;
}

/**
 * Client authentication of a binding: a secret, or X.509 (`certificate`; SAP prefers it when
 * both are there) through a Workers mTLS certificate binding, which must exist.
 */
function clientAuth(
  c: { clientsecret?: string | undefined; certificate?: string | undefined; key?: string | undefined },
  path: string,
  kind: "xsuaa" | "ias",
  env: IdentityEnv,
  problems: ConfigProblem[],
): { clientSecret?: string; mtlsBinding?: string; keyMaterial?: string } | undefined {
  if (c.certificate !== undefined) {
    const variable = kind === "xsuaa" ? "XSUAA_MTLS_BINDING" : "IAS_MTLS_BINDING";
    const name = text(env[variable]) ?? DEFAULT_MTLS_BINDING[kind];
    const binding = env[name] as { fetch?: unknown } | undefined;
    if (typeof binding?.fetch !== "function") {
      problems.push({
        path: `${path}.certificate`,
        message:
          `an X.509 binding needs a Workers mTLS certificate binding named ${JSON.stringify(name)} ` +
          `(wrangler.toml mtls_certificates; the name can be changed with ${variable})`,
      });
      return undefined;
    }
    return { mtlsBinding: name, ...(c.key !== undefined && { keyMaterial: c.key }) };
  }
  if (c.clientsecret !== undefined) return { clientSecret: c.clientsecret };
  problems.push({
    path: `${path}.clientsecret`,
    message: "missing: a binding needs clientsecret or certificate",
  });
  return undefined;
}

function booleanVariable(
  value: unknown,
  name: string,
  fallback: boolean,
  problems: ConfigProblem[],
): boolean {
  if (typeof value === "boolean") return value;
  const t = text(value)?.toLowerCase();
  if (t === undefined) return fallback;
  if (t === "true" || t === "false") return t === "true";
  problems.push({ path: name, message: "must be true or false" });
  return fallback;
}

function parseLoginSettings(
  env: IdentityEnv,
  providers: Partial<Record<"xsuaa" | "identity", IdentityProviderConfig>>,
  problems: ConfigProblem[],
): LoginSettings {
  let refreshMinutes = DEFAULT_JWT_REFRESH_MINUTES;
  const jwtRefresh = text(typeof env.JWT_REFRESH === "number" ? String(env.JWT_REFRESH) : env.JWT_REFRESH);
  if (jwtRefresh !== undefined) {
    if (/^\d+$/.test(jwtRefresh) && Number(jwtRefresh) <= 24 * 60) refreshMinutes = Number(jwtRefresh);
    else
      problems.push({
        path: "JWT_REFRESH",
        message: "must be a whole number of minutes (0 = no early refresh)",
      });
  }
  let tenantHostPattern: RegExp | undefined;
  const pattern = text(env.TENANT_HOST_PATTERN);
  if (pattern !== undefined) {
    try {
      tenantHostPattern = new RegExp(pattern);
      // Group 1 is the tenant (SAP); a pattern without one could never name a tenant.
      if (new RegExp(`(?:${pattern})|`).exec("")!.length < 2) {
        problems.push({
          path: "TENANT_HOST_PATTERN",
          message: "must have a capturing group (the tenant subdomain)",
        });
      }
    } catch {
      problems.push({ path: "TENANT_HOST_PATTERN", message: "invalid regular expression" });
    }
  }
  const both = providers.xsuaa !== undefined && providers.identity !== undefined;
  return {
    refreshBeforeMs: refreshMinutes * 60_000,
    ...(tenantHostPattern && { tenantHostPattern }),
    preserveFragment: booleanVariable(env.PRESERVE_FRAGMENT, "PRESERVE_FRAGMENT", true, problems),
    authTypeInRedirect:
      both || booleanVariable(env.ENABLE_PERMANENT_AUTHTYPE, "ENABLE_PERMANENT_AUTHTYPE", false, problems),
    logoutWithTokenHint: booleanVariable(
      env.LOGOUT_WITH_TOKEN_HINT,
      "LOGOUT_WITH_TOKEN_HINT",
      false,
      problems,
    ),
    xsa: text(env.XS_BIND_ADDRESS) !== undefined,
    ...(booleanVariable(env.DYNAMIC_IDENTITY_PROVIDER, "DYNAMIC_IDENTITY_PROVIDER", false, problems) && {
      dynamicIdentityProvider: true,
    }),
    defaultAuthenticationType:
      providers.identity !== undefined && providers.xsuaa === undefined ? "ias" : "xsuaa",
  };
}
