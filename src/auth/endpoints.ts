import type { IdentityProviderConfig } from "../config/types.js";

/**
 * Where a provider's endpoints are, as pure functions of its binding (and, for IAS and
 * generic OpenID providers, its discovery document).
 *
 * XSUAA takes its endpoints from the binding, as SAP's router does, with no discovery:
 * that saves a round trip before every first login on an isolate, and UAA's discovery
 * document names `<url>/oauth/token` as its issuer, which a strict OpenID client rejects.
 */
export interface Endpoints {
  authorize: string;
  token: string;
  userinfo: string;
  logout: string;
}

/** Plain http is accepted only towards loopback hosts (local development and tests). */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.toLowerCase();
  return (
    host === "localhost" ||
    host.endsWith(".localhost") ||
    host === "[::1]" ||
    /^127\.\d+\.\d+\.\d+$/.test(host)
  );
}

export function isAllowedScheme(url: URL): boolean {
  return url.protocol === "https:" || (url.protocol === "http:" && isLoopbackHost(url.hostname));
}

/** The tenant subdomain of a request host: group 1 of TENANT_HOST_PATTERN (port removed), as SAP's router. */
export function tenantOfHost(host: string, pattern: RegExp | undefined): string | undefined {
  if (!pattern) return undefined;
  const match = pattern.exec(host.split(":")[0]!.toLowerCase());
  const tenant = match?.[1];
  return tenant && /^[a-z0-9-]+$/i.test(tenant) ? tenant.toLowerCase() : undefined;
}

/**
 * `url` with its host replaced by `<tenant>.<domain>`, keeping protocol, port and path
 * (SAP lib/utils/uaa-utils.js for `tenantmode: "shared"`).
 */
export function onTenantHost(url: string, tenant: string, domain: string): string {
  const u = new URL(url);
  u.hostname = `${tenant}.${domain.split(":")[0]}`;
  return u.href.replace(/\/+$/, "");
}

/** The binding's `url` and `certurl` for a tenant (shared tenant mode only; else as bound). */
export function xsuaaBases(
  config: IdentityProviderConfig,
  tenant: string | undefined,
): { url: string; certUrl?: string } {
  if (config.tenantMode !== "shared" || !tenant || !config.uaadomain)
    return { url: config.url, ...(config.certUrl && { certUrl: config.certUrl }) };
  const url = onTenantHost(config.url, tenant, config.uaadomain);
  if (!config.certUrl) return { url };
  const certHost = new URL(config.certUrl).hostname;
  return { url, certUrl: onTenantHost(config.certUrl, tenant, certHost.slice(certHost.indexOf(".") + 1)) };
}

export function xsuaaEndpoints(config: IdentityProviderConfig, tenant?: string): Endpoints {
  const { url, certUrl } = xsuaaBases(config, tenant);
  const tokenBase = config.mtlsBinding ? (certUrl ?? url) : url;
  return {
    authorize: `${url}/oauth/authorize`,
    token: `${tokenBase}/oauth/token`,
    userinfo: `${url}/userinfo`,
    logout: `${url}/logout.do`,
  };
}

/**
 * XSUAA's signing keys: `https://<uaadomain>/token_keys?zid=<zid>`, as @sap/xssec fetches
 * them (not the token's `jku`, which the token itself chose). http only for a loopback
 * domain (local simulators).
 */
export function xsuaaJwksUrl(config: IdentityProviderConfig, zid: string | undefined): string {
  const domain = config.uaadomain ?? new URL(config.url).host;
  const scheme =
    isLoopbackHost(domain.split(":")[0]!) && new URL(config.url).protocol === "http:" ? "http" : "https";
  const url = new URL(`${scheme}://${domain}/token_keys`);
  if (zid) url.searchParams.set("zid", zid);
  return url.href;
}

/**
 * IAS / OpenID endpoints: from discovery when it names them, else IAS's fixed paths
 * (`/oauth2/*`, SAP lib/utils/ias-utils.js). X.509 token calls go to `certurl`.
 */
export function iasEndpoints(
  config: IdentityProviderConfig,
  discovery: Record<string, unknown> | undefined,
): Endpoints & { jwks: string } {
  const str = (key: string) =>
    typeof discovery?.[key] === "string" ? (discovery[key] as string) : undefined;
  const base = config.url;
  let token = str("token_endpoint") ?? `${base}/oauth2/token`;
  if (config.mtlsBinding && config.certUrl) token = `${config.certUrl}${new URL(token).pathname}`;
  return {
    authorize: str("authorization_endpoint") ?? `${base}/oauth2/authorize`,
    token,
    userinfo: str("userinfo_endpoint") ?? `${base}/oauth2/userinfo`,
    logout: str("end_session_endpoint") ?? `${base}/oauth2/logout`,
    jwks: str("jwks_uri") ?? `${base}/oauth2/certs`,
  };
}

/** A URL for logs: origin and path, never the query (codes, tokens) or user info. */
export function loggableUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return "(invalid URL)";
  }
}
