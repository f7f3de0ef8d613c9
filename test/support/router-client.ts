import { startFaultProxy as start } from "../../scripts/fault-proxy.mjs";
import { sessionCookieOf, type Cluster } from "./cluster.js";

/** What tests need from one router answer (the body is read, so nothing stays open). */
export interface Answer {
  status: number;
  token: string | null;
  /** Every Set-Cookie of the answer but the session's sync-token companion (JSESSIONID_SYNC: test/node/replicas.test.ts). */
  setCookies: string[];
  /** The session cookie pair it sets (`JSESSIONID=…`), if any; "" when it clears it. */
  newCookie: string | undefined;
  body: string;
}

export async function answer(response: Response): Promise<Answer> {
  const body = await response.text();
  const pair = sessionCookieOf(response);
  return {
    status: response.status,
    token: response.headers.get("x-csrf-token"),
    setCookies: response.headers.getSetCookie().filter((c) => !c.startsWith("JSESSIONID_SYNC=")),
    newCookie: pair === "JSESSIONID=" ? "" : pair,
    body,
  };
}

/** The cookie of a session that holds only its CSRF token (id, creation time, MAC: nothing stored). */
export const STATELESS_SESSION_COOKIE = /^JSESSIONID=[A-Za-z0-9_-]{43}\.[0-9a-z]+\.[A-Za-z0-9_-]{22}$/;

export const fetchTokenInit = (cookie?: string): RequestInit => ({
  headers: { "x-csrf-token": "fetch", ...(cookie ? { cookie } : {}) },
});

/** A token fetch (`x-csrf-token: fetch`) on `worker`, with the session cookie if given. */
export async function tokenFetch(
  c: Cluster,
  worker: string,
  cookie?: string,
  path = "/app",
): Promise<Answer> {
  return answer(await c.fetch(worker, path, fetchTokenInit(cookie)));
}

/**
 * A new stored session: a token fetch without a cookie to a backend (the echo backend of
 * test/support/backend.ts) that sets a session cookie, which the router keeps in the
 * session. Its cookie pair (the plain id) and token. A token fetch alone makes a session
 * that lives in its cookie only (`tokenFetch(c, worker)`).
 */
export async function newSession(
  c: Cluster,
  worker: string,
  path = "/app",
): Promise<{ cookie: string; token: string }> {
  const a = await answer(
    await c.fetch(worker, path, { headers: { "x-csrf-token": "fetch", "x-test-backend-session": "s" } }),
  );
  if (a.status !== 200 || !a.newCookie || !a.token)
    throw new Error(`no new session: ${a.status} ${a.setCookies.join(" | ")}`);
  return { cookie: a.newCookie, token: a.token };
}

/** True when a Set-Cookie header ends the session cookie (empty value or an expiry in the past). */
export function clearsSessionCookie(setCookie: string, name = "JSESSIONID"): boolean {
  return (
    setCookie.startsWith(`${name}=`) &&
    (/^[^=]+=;/.test(setCookie) ||
      /max-age=0/i.test(setCookie) ||
      /expires=thu, 01 jan 1970/i.test(setCookie))
  );
}

export type FaultMode =
  | { kind: "pass" }
  | { kind: "delay"; ms: number }
  | { kind: "status"; status: number; body?: string }
  | { kind: "garbage" }
  | { kind: "wrong-shape" }
  | { kind: "hang" }
  | { kind: "refuse" };

export interface FaultProxy {
  url: string;
  port: number;
  readonly requests: number;
  setMode(mode: FaultMode): Promise<void>;
  close(): Promise<void>;
}

export const startFaultProxy = start as (options: {
  target: string;
  host?: string;
  port?: number;
}) => Promise<FaultProxy>;

export { eventually, sleep } from "./wait.js";
