// What XSUAA puts in its tokens (facts note section 4): the access token's claims, the
// id_token's, the audience UAA derives from scopes, and the token endpoint's answer.
import { randomUUID } from "node:crypto";
import { nowSeconds } from "./oauth.mjs";

/**
 * UAA's audience: the client id plus the resource of every granted scope (the part before
 * the first dot: `myapp!t123.Display` -> `myapp!t123`; `openid` stays `openid`).
 * @param {string} clientId
 * @param {string[]} scopes
 */
export function audienceOf(clientId, scopes) {
  const aud = new Set([clientId]);
  for (const s of scopes) aud.add(s.includes(".") ? s.slice(0, s.indexOf(".")) : s);
  return [...aud];
}

/**
 * @typedef {{ subdomain: string, zoneId: string, subaccountId: string, url: string }} Zone
 * @typedef {{ id: string, username: string, origin: string, email: string, givenName: string, familyName: string,
 *   userUuid?: string, attributes: Record<string, string[]>, roleCollections: string[], revSig: string }} SimUser
 * @typedef {{ zone: Zone, clientId: string, scopes: string[], grantType: string, ttl: number, user?: SimUser, authTime?: number }} Grant
 */

/** @param {Grant} g */
export function accessTokenClaims(g) {
  const iat = nowSeconds();
  const claims = {
    jti: randomUUID().replace(/-/g, ""),
    ext_attr: { enhancer: "XSUAA", subaccountid: g.zone.subaccountId, zdn: g.zone.subdomain },
    sub: g.user ? g.user.id : g.clientId,
    scope: g.scopes,
    client_id: g.clientId,
    cid: g.clientId,
    azp: g.clientId,
    grant_type: g.grantType,
    ...(g.user ? userClaims(g.user, g.authTime ?? iat) : {}),
    rev_sig: g.user ? g.user.revSig : "c1ie7",
    iat,
    exp: iat + g.ttl,
    iss: `${g.zone.url}/oauth/token`,
    zid: g.zone.zoneId,
    aud: audienceOf(g.clientId, g.scopes),
  };
  return claims;
}

/** @param {SimUser} u @param {number} authTime */
function userClaims(u, authTime) {
  return {
    user_id: u.id,
    origin: u.origin,
    user_name: u.username,
    email: u.email,
    given_name: u.givenName,
    family_name: u.familyName,
    ...(u.userUuid ? { user_uuid: u.userUuid } : {}),
    auth_time: authTime,
    "xs.user.attributes": u.attributes,
    "xs.system.attributes": { "xs.rolecollections": u.roleCollections },
  };
}

/** UAA's id_token: no nonce (SAP's router sends none and UAA echoes only what it got). @param {Grant & { user: SimUser }} g */
export function idTokenClaims(g) {
  const iat = nowSeconds();
  return {
    sub: g.user.id,
    iss: `${g.zone.url}/oauth/token`,
    aud: [g.clientId],
    azp: g.clientId,
    cid: g.clientId,
    client_id: g.clientId,
    grant_type: g.grantType,
    user_id: g.user.id,
    user_name: g.user.username,
    origin: g.user.origin,
    email: g.user.email,
    given_name: g.user.givenName,
    family_name: g.user.familyName,
    ...(g.user.userUuid ? { user_uuid: g.user.userUuid } : {}),
    scope: ["openid"],
    amr: ["pwd"],
    auth_time: g.authTime ?? iat,
    zid: g.zone.zoneId,
    jti: randomUUID().replace(/-/g, ""),
    iat,
    exp: iat + g.ttl,
  };
}
