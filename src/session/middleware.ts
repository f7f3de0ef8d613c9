import type { Context, MiddlewareHandler } from "hono";
import { serialize } from "hono/utils/cookie";
import { cookieValue } from "../http/cookie-value.js";
import { withMutableHeaders } from "../http/mutable.js";
import { waitUntilOf } from "../http/wait-until.js";
import type { SessionCookieSettings } from "../config/types.js";
import type { Session, SessionManager } from "./manager.js";
import type { SessionRecord } from "./record.js";
import { remember, syncCookieName, type SyncCookie } from "./sync-token.js";

/**
 * The thin Hono layer over the session manager. Nothing is loaded until a handler asks,
 * so a request that never needs its session costs no lookup; a request without a
 * cookie creates nothing unless a handler calls `ensure()`, and a session that holds
 * nothing but its CSRF token is kept in its cookie alone (no store write, no first-tier
 * entry) until it holds more.
 */
export interface SessionScope {
  /** The session of the request's cookie, or null. Loads at most once per request. */
  current(): Promise<Session | null>;
  /**
   * The current session, or a new one whose cookie is set on the response; null when the
   * request's cookie names a session the store cannot be asked about right now: replacing
   * it would log the user out once the store is back.
   */
  ensure(): Promise<Session | null>;
  /** Ends the session in both tiers and clears the cookie. */
  destroy(): Promise<void>;
  /** Ends the current session (if any) and starts a new one under a new id (login). */
  regenerate(): Promise<Session>;
  /** True when a cookie was sent but the store could not be asked about it. */
  readonly undetermined: boolean;
}

export type SessionEnv = { Variables: { session: SessionScope } };

export interface SessionMiddlewareOptions {
  manager: SessionManager;
  cookieName: string;
  /** COOKIES / SECURE_SESSION_COOKIE; default Secure, SameSite=Lax, not partitioned. */
  cookie?: SessionCookieSettings;
  /** Told (after the response) of a session this request found timed out. */
  onEnded?: (record: SessionRecord) => Promise<unknown>;
  /** Stores with sync tokens: the session's last-write token travels in a second cookie (sync-token.ts). */
  syncCookie?: SyncCookie;
}

const DEFAULT_COOKIE: SessionCookieSettings = { sameSite: "Lax", partitioned: false, secure: true };

export function sessionMiddleware({
  manager,
  cookieName,
  cookie: settings = DEFAULT_COOKIE,
  onEnded,
  syncCookie = manager.external?.syncCookie,
}: SessionMiddlewareOptions): MiddlewareHandler<SessionEnv> {
  const syncName = syncCookieName(cookieName);
  const shared: ScopeShared = { manager, syncCookie, onEnded };
  return async (c, next) => {
    // The Cookie header read once for both cookies (getCookie reads it per name).
    const header = c.req.raw.headers.get("cookie");
    const cookie = header ? cookieValue(header, cookieName) : undefined;
    const syncSent = syncCookie && header ? cookieValue(header, syncName) : undefined;
    const scope = new RequestScope(shared, c, cookie, syncSent);
    c.set("session", scope);
    await next();

    const { loaded, destroyed } = scope;
    if (!loaded && !destroyed) return; // nothing to write: the common anonymous request
    const attributes = () => cookieAttributes(settings, c.req.header("user-agent") ?? "");
    if (destroyed) {
      setCookieHeader(c, clearCookie(cookieName, attributes()));
      if (syncSent !== undefined) setCookieHeader(c, clearCookie(syncName, attributes()));
      return;
    }
    if (!loaded) return;
    const wasStateless = loaded.stateless === true;
    const result = await manager.commit(loaded, waitUntilOf(c));
    if (result === "gone") {
      setCookieHeader(c, clearCookie(cookieName, attributes()));
      if (syncSent !== undefined) setCookieHeader(c, clearCookie(syncName, attributes()));
      return;
    }
    if (result === "stateless") {
      // Only the CSRF token to keep: the cookie carries the session, nothing is stored (so
      // no sync token either).
      if (loaded.isNew && loaded.record.csrf !== undefined)
        setCookieHeader(c, sessionCookie(cookieName, await manager.statelessCookie(loaded), attributes()));
      return;
    }
    if (loaded.isNew || wasStateless) setCookieHeader(c, sessionCookie(cookieName, loaded.id, attributes()));
    // A write during this request (commit, token refresh): readers elsewhere must see at least it.
    const written = loaded.sync?.wrote ? loaded.sync.token : undefined;
    if (written === undefined || !syncCookie || !loaded.base) return;
    const at = Date.now();
    remember(loaded.base, { after: written, at });
    const value = await syncCookie.seal(loaded.id, written, at);
    if (value !== undefined) setCookieHeader(c, sessionCookie(syncName, value, attributes()));
  };
}

/** What every request's scope shares: set up once, not per request. */
interface ScopeShared {
  manager: SessionManager;
  syncCookie: SyncCookie | undefined;
  onEnded: ((record: SessionRecord) => Promise<unknown>) | undefined;
}

const NO_SESSION: Promise<null> = Promise.resolve(null);

/** One request's session scope: a class, so a request allocates one object, not a closure per method. */
class RequestScope implements SessionScope {
  loaded: Session | null | undefined;
  destroyed = false;
  #undetermined = false;

  constructor(
    private readonly shared: ScopeShared,
    private readonly c: Context,
    private readonly cookie: string | undefined,
    private readonly syncSent: string | undefined,
  ) {}

  get undetermined(): boolean {
    return this.#undetermined;
  }

  current(): Promise<Session | null> {
    if (this.loaded !== undefined || this.destroyed)
      return this.loaded ? Promise.resolve(this.loaded) : NO_SESSION;
    // No cookie, nothing to look up (what manager.load would conclude): the common anonymous request.
    if (this.cookie === undefined) {
      this.loaded = null;
      return NO_SESSION;
    }
    return this.load(this.cookie);
  }

  private async load(cookie: string): Promise<Session | null> {
    const { manager, syncCookie, onEnded } = this.shared;
    // Without the companion cookie the slot is empty (what open() would conclude, without awaiting).
    const sync = syncCookie ? (this.syncSent ? await syncCookie.open(cookie, this.syncSent) : {}) : undefined;
    const result = await manager.load(cookie, sync);
    if (result.kind === "session") remember(result.session.record, sync);
    // A cookie-only session stored by this request gets its first sync token then.
    if (result.kind === "session" && syncCookie && result.session.stateless && !result.session.sync)
      result.session.sync = {};
    this.loaded = result.kind === "session" ? result.session : null;
    this.#undetermined = result.kind === "unknown";
    if (result.kind === "none" && result.ended && onEnded) waitUntilOf(this.c)(onEnded(result.ended));
    return this.loaded ?? null;
  }

  async ensure(): Promise<Session | null> {
    const session = await this.current();
    if (session) return session;
    if (this.#undetermined) return null;
    return this.start();
  }

  async destroy(): Promise<void> {
    const session = await this.current();
    // A stateless session has nothing stored: clearing its cookie ends it.
    if (session && !session.stateless) await this.shared.manager.destroy(session.id, waitUntilOf(this.c));
    this.loaded = null;
    this.destroyed = true;
  }

  async regenerate(): Promise<Session> {
    // The new session's cookie overwrites the old one; the old id is dead in both tiers.
    await this.destroy();
    return this.start();
  }

  private start(): Session {
    const session = this.shared.manager.create();
    if (this.shared.syncCookie) session.sync = {};
    this.loaded = session;
    this.destroyed = false;
    return session;
  }
}

type CookieAttributes = { secure: boolean; sameSite: "Lax" | "Strict" | "None"; partitioned: boolean };

/** SAP's `Partitioned` may depend on the browser (User-Agent patterns). */
function cookieAttributes(settings: SessionCookieSettings, userAgent: string): CookieAttributes {
  const p = settings.partitioned;
  const partitioned =
    typeof p === "boolean" ? p : p.supportedAgents.test(userAgent) && !p.unsupportedAgents.test(userAgent);
  return {
    secure: settings.secure,
    sameSite: settings.sameSite,
    partitioned: partitioned && settings.secure,
  };
}

/** Host-only, HttpOnly, Path=/, by default Secure and SameSite=Lax; no expiry (ends with the browser). */
export function sessionCookie(
  name: string,
  id: string,
  attributes: CookieAttributes = { secure: true, sameSite: "Lax", partitioned: false },
): string {
  return serialize(name, id, {
    path: "/",
    httpOnly: true,
    ...attributes,
    ...(attributes.partitioned ? {} : { partitioned: undefined }),
  });
}

export function clearCookie(
  name: string,
  attributes: CookieAttributes = { secure: true, sameSite: "Lax", partitioned: false },
): string {
  return serialize(name, "", {
    path: "/",
    httpOnly: true,
    ...attributes,
    ...(attributes.partitioned ? {} : { partitioned: undefined }),
    maxAge: 0,
    expires: new Date(0),
  });
}

function setCookieHeader(c: Context, value: string): void {
  if (c.res.status === 101) return; // a WebSocket upgrade cannot carry it
  const response = withMutableHeaders(c.res);
  if (response !== c.res) c.res = response; // Hono's setter copies: assign only a new object
  response.headers.append("set-cookie", value);
  response.headers.set("cache-control", "no-store"); // never cache a response that sets a session
}
