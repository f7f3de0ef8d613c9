// A realistic logged-in session, as the router would keep it after an XSUAA-style login:
// an ID token, an access token with 10 scopes and a refresh token, all RS256 JWTs signed
// with a 2048-bit key generated here, in a `v: 1` session record (docs/storage-schema.md).
import { randomBytes, randomUUID } from "node:crypto";
import { SignJWT, generateKeyPair } from "jose";

const SUBDOMAIN = "acme-prod";
const ISSUER = `https://${SUBDOMAIN}.authentication.eu10.hana.ondemand.com/oauth/token`;
const JKU = `https://${SUBDOMAIN}.authentication.eu10.hana.ondemand.com/token_keys`;
const XSAPPNAME = "approuter-edge!t48213";
const CLIENT_ID = `sb-${XSAPPNAME}`;

const b64url = (/** @type {number} */ bytes) => randomBytes(bytes).toString("base64url");

/**
 * @param {{ now?: number }} [options]
 * @returns {Promise<{ record: any, csrf: string }>} record: `{ v:1, iat, exp, csrf, data: { auth } }`
 */
export async function referenceSession({ now = Date.now() } = {}) {
  const { privateKey } = await generateKeyPair("RS256", { modulusLength: 2048 });
  const kid = `default-jwt-key-${b64url(6)}`;
  const iat = Math.floor(now / 1000);
  const exp = iat + 12 * 3600;
  const zid = randomUUID();
  const userId = randomUUID();
  const user = {
    id: userId,
    userName: "jane.doe@acme.example",
    email: "jane.doe@acme.example",
    givenName: "Jane",
    familyName: "Doe",
    origin: "sap.default",
  };
  const scopes = [
    "openid",
    `${XSAPPNAME}.Display`,
    `${XSAPPNAME}.Edit`,
    `${XSAPPNAME}.Delete`,
    `${XSAPPNAME}.Approve`,
    `${XSAPPNAME}.Admin`,
    `${XSAPPNAME}.Export`,
    "uaa.user",
    "user_attributes",
    "xs_account.access",
  ];
  const common = {
    iss: ISSUER,
    sub: userId,
    zid,
    cid: CLIENT_ID,
    azp: CLIENT_ID,
    client_id: CLIENT_ID,
    origin: user.origin,
    user_id: userId,
    user_name: user.userName,
    email: user.email,
    given_name: user.givenName,
    family_name: user.familyName,
    auth_time: iat,
    iat,
    ext_attr: { enhancer: "XSUAA", subaccountid: zid, zdn: SUBDOMAIN },
  };
  const sign = (/** @type {Record<string, unknown>} */ payload) =>
    new SignJWT(payload).setProtectedHeader({ alg: "RS256", typ: "JWT", jku: JKU, kid }).sign(privateKey);

  const accessToken = await sign({
    ...common,
    jti: b64url(16),
    "xs.system.attributes": {
      "xs.rolecollections": ["EdgeRouter_Viewer", "EdgeRouter_Editor", "Sales_Approver"],
    },
    "xs.user.attributes": { country: ["DE"], costCenter: ["4711"] },
    scope: scopes,
    grant_type: "authorization_code",
    rev_sig: b64url(6),
    exp,
    aud: ["openid", XSAPPNAME, CLIENT_ID, "uaa", "xs_account"],
  });
  const idToken = await sign({
    ...common,
    jti: b64url(16),
    nonce: b64url(16),
    amr: ["pwd"],
    acr: ["urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"],
    email_verified: true,
    previous_logon_time: iat - 86_400,
    exp,
    aud: [CLIENT_ID],
  });
  const refreshToken = await sign({
    ...common,
    jti: `${b64url(16)}-r`,
    scope: scopes,
    grant_type: "authorization_code",
    rev_sig: b64url(6),
    exp: iat + 30 * 86_400,
    aud: ["openid", XSAPPNAME, CLIENT_ID, "uaa", "xs_account"],
  });

  const csrf = b64url(32);
  // What src/auth/login.ts keeps after an XSUAA login (AuthData, src/auth/auth-data.ts).
  const record = {
    v: 1,
    iat: now,
    exp: now + 8 * 3600_000,
    csrf,
    data: {
      auth: {
        idp: "xsuaa",
        iss: ISSUER,
        sub: userId,
        tenant: SUBDOMAIN,
        idToken,
        accessToken,
        refreshToken,
        expiresAt: exp * 1000,
        lifetimeMs: 12 * 3600_000,
        scopes,
        user: {
          given_name: user.givenName,
          family_name: user.familyName,
          email: user.email,
          user_name: user.userName,
          user_uuid: userId,
          origin: user.origin,
          zid,
        },
      },
    },
  };
  return { record, csrf };
}
