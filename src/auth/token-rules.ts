import { isLoopbackHost } from "./endpoints.js";

/**
 * Pure acceptance rules for tokens, beside the signature and time checks jose makes.
 */

/**
 * XSUAA's audience rule (@sap/xssec XsuaaService): the audiences are `aud`, or the scopes'
 * prefixes when `aud` is empty, plus `cid`; the token is for us when one of them is our
 * client id or xsappname, or starts with `<clientid>.` / `<xsappname>.`; a broker client
 * (`…!b…`) also accepts `<something>|<xsappname>`.
 */
export function xsuaaAudienceAccepted(
  claims: Record<string, unknown>,
  clientId: string,
  xsappname: string | undefined,
): boolean {
  const list = (value: unknown): string[] =>
    typeof value === "string"
      ? [value]
      : Array.isArray(value)
        ? value.filter((v): v is string => typeof v === "string")
        : [];
  let audiences = list(claims.aud);
  if (audiences.length === 0) audiences = list(claims.scope);
  if (typeof claims.cid === "string") audiences.push(claims.cid);
  const ours = [clientId, ...(xsappname ? [xsappname] : [])];
  return audiences.some(
    (aud) =>
      ours.some((o) => aud === o || aud.startsWith(`${o}.`)) ||
      (xsappname !== undefined && clientId.includes("!b") && aud.endsWith(`|${xsappname}`)),
  );
}

/**
 * XSUAA issuer: @sap/xssec does not check `iss`; we require its host to be the UAA domain
 * or a subdomain of it (the binding's zone or a tenant's), which costs nothing and refuses
 * a token minted by some other UAA that happens to share a key id.
 */
export function xsuaaIssuerAccepted(iss: unknown, uaadomain: string): boolean {
  if (typeof iss !== "string") return false;
  let url: URL;
  try {
    url = new URL(iss);
  } catch {
    return false;
  }
  const domain = uaadomain.split(":")[0]!.toLowerCase();
  const host = url.hostname.toLowerCase();
  const schemeOk = url.protocol === "https:" || (url.protocol === "http:" && isLoopbackHost(host));
  return schemeOk && (host === domain || host.endsWith(`.${domain}`));
}

/**
 * IAS issuer (@sap/xssec IdentityService): `ias_iss` or `iss`, https, with a host equal to one
 * of the binding's `domains` or exactly one label under it. Without domains (a generic
 * OpenID provider) the issuer must be the expected one.
 */
export function iasIssuerAccepted(
  claims: Record<string, unknown>,
  domains: readonly string[],
  expected: string,
): boolean {
  const iss = typeof claims.ias_iss === "string" ? claims.ias_iss : claims.iss;
  if (typeof iss !== "string") return false;
  if (domains.length === 0) return iss.replace(/\/+$/, "") === expected.replace(/\/+$/, "");
  let url: URL;
  try {
    url = new URL(iss);
  } catch {
    return false;
  }
  if (url.protocol !== "https:" && !(url.protocol === "http:" && isLoopbackHost(url.hostname))) return false;
  if (url.username || url.password || url.search || url.hash) return false;
  const host = url.hostname.toLowerCase();
  return domains.some((domain) => {
    const d = domain.toLowerCase();
    if (host === d) return true;
    if (!host.endsWith(`.${d}`)) return false;
    return !host.slice(0, -d.length - 1).includes(".");
  });
}

export function audienceContains(aud: unknown, clientId: string): boolean {
  return aud === clientId || (Array.isArray(aud) && aud.includes(clientId));
}
