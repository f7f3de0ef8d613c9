/**
 * Finding a route's destination at request time: the `destinations` variable first (it
 * wins, as in SAP's router), then, when the destination service is bound, the service —
 * cached per isolate for the lifetime the service gives (authTokens expires_in) or a
 * default TTL, refreshed in the background before that, one lookup per destination at a
 * time. Destinations whose token belongs to the user (OAuth2UserTokenExchange,
 * OAuth2JWTBearer) are cached per user (by a hash of the user's token). Failures become
 * the router's error pages with stable codes; the log says why, without secrets.
 */
import type { Destination, DestinationServiceBinding } from "../config/types.js";
import { errorPage } from "../http/pages.js";
import type { Logger } from "../log.js";
import { RefreshingCache, type Lifetime, type Loaded } from "./cache.js";
import { DestinationServiceClient } from "./client.js";
import { resolveAnswer, type Resolution } from "./resolve.js";

export interface LookupContext {
  /** The logged-in user's access token (only asked for when the destination service is consulted). */
  userToken: () => Promise<string | undefined>;
  waitUntil: (work: Promise<unknown>) => void;
}

export type DestinationLookup = { ok: true; destination: Destination } | { ok: false; response: Response };

export type DestinationResolver = (name: string, context: LookupContext) => Promise<DestinationLookup>;

export interface ResolverOptions {
  /** The `destinations` variable. */
  variable: ReadonlyMap<string, Destination>;
  service?: DestinationServiceBinding;
  fetch: typeof fetch;
  now: () => number;
  log: Logger;
  /** Lifetime of a destination without an auth token. Default 5 minutes. */
  ttlMs?: number;
  /** How long such a destination is still served while the service cannot be reached. Default 1 hour. */
  staleMs?: number;
  /** Per-isolate cache bound. Default 1000 entries. */
  maxEntries?: number;
}

type Outcome =
  | Resolution
  | {
      ok: false;
      code: "DESTINATION_NOT_FOUND" | "DESTINATION_SERVICE_UNAVAILABLE";
      reason: string;
      userDependent?: boolean;
    };

const STATUS: Record<string, number> = { DESTINATION_NOT_FOUND: 404, DESTINATION_SERVICE_UNAVAILABLE: 503 };
/** A missing destination, or one the service could not get a token for, is asked again after this. */
const SHORT: Lifetime = { freshMs: 10_000, usableMs: 10_000 };
/** A failed lookup of a destination not cached is answered from memory this long. */
const OUTAGE: Lifetime = { freshMs: 2_000, usableMs: 2_000 };

export function createDestinationResolver(options: ResolverOptions): DestinationResolver {
  const { variable, service, log, now } = options;
  if (!service) {
    return async (name) => {
      const destination = variable.get(name);
      return destination
        ? { ok: true, destination }
        : { ok: false, response: errorPage(500, "UNKNOWN_DESTINATION") }; // validated at start-up
    };
  }
  const ttlMs = options.ttlMs ?? 300_000;
  const staleMs = options.staleMs ?? 3_600_000;
  const client = new DestinationServiceClient(service, { fetch: options.fetch, now });
  const cache = new RefreshingCache<Outcome>({
    now,
    ...(options.maxEntries !== undefined && { maxEntries: options.maxEntries }),
  });
  /** Names whose tokens are per user: looked up and cached under `name + hash(user token)`. */
  const perUser = new Set<string>();
  const warnedHost = new Set<string>();

  async function lookup(name: string, userToken: string | undefined): Promise<Loaded<Outcome>> {
    const found = await client.find(name, userToken);
    if (found.kind === "unavailable") {
      log("destination.service.error", {
        destination: name,
        reason: found.reason,
        ...(found.status !== undefined && { status: found.status }),
      });
      // Not kept over a cached destination (it keeps working); where there is none, the outage
      // is remembered briefly so that requests do not each wait for the service and log.
      return {
        value: { ok: false, code: "DESTINATION_SERVICE_UNAVAILABLE", reason: found.reason },
        keepIfNone: OUTAGE,
      };
    }
    if (found.kind === "missing") {
      log("destination.not_found.warn", { destination: name });
      return {
        value: { ok: false, code: "DESTINATION_NOT_FOUND", reason: "not in the destination service" },
        keep: SHORT,
      };
    }
    const resolution = resolveAnswer(name, found.answer, userToken !== undefined);
    if (!resolution.ok) {
      log("destination.refused.error", {
        destination: name,
        code: resolution.code,
        reason: resolution.reason,
      });
      const retrySoon =
        resolution.code === "DESTINATION_AUTH_FAILED" || resolution.code === "DESTINATION_NEEDS_USER";
      return { value: resolution, keep: retrySoon ? SHORT : { freshMs: ttlMs, usableMs: ttlMs } };
    }
    if (resolution.preserveHostHeader && !warnedHost.has(name)) {
      warnedHost.add(name);
      log("destination.preserve_host.warn", {
        destination: name,
        reason: "a Worker cannot set the Host header of its requests; the backend gets X-Forwarded-Host",
      });
    }
    return {
      value: resolution,
      keep:
        resolution.expiresInMs !== undefined
          ? tokenLifetime(resolution.expiresInMs)
          : { freshMs: ttlMs, usableMs: ttlMs + staleMs },
    };
  }

  /**
   * Looks `name` up and keeps the answer under the key its kind calls for: the name for
   * answers every user shares, name + user for per-user tokens (never the other way round).
   */
  async function lookupAndPlace(
    name: string,
    userToken: string | undefined,
    keyIsPerUser: boolean,
  ): Promise<Loaded<Outcome>> {
    const loaded = await lookup(name, userToken);
    const userDependent = loaded.value.userDependent === true;
    if (userDependent) perUser.add(name);
    else if (loaded.keep) perUser.delete(name);
    if (userDependent === keyIsPerUser || !loaded.keep) return loaded;
    // The kind changed (or was learned): keep it under the other key.
    if (userDependent) {
      cache.delete(name);
      if (userToken !== undefined) cache.set(await userKey(name, userToken), loaded.value, loaded.keep);
    } else {
      cache.set(name, loaded.value, loaded.keep);
    }
    return { value: loaded.value };
  }

  return async (name, context) => {
    const fixed = variable.get(name);
    if (fixed) return { ok: true, destination: fixed };
    const userToken = await context.userToken();
    let outcome: Outcome;
    if (perUser.has(name)) {
      outcome =
        userToken === undefined
          ? { ok: false, code: "DESTINATION_NEEDS_USER", reason: "needs a logged-in user" }
          : await cache.get(
              await userKey(name, userToken),
              () => lookupAndPlace(name, userToken, true),
              context.waitUntil,
            );
    } else {
      outcome = await cache.get(name, () => lookupAndPlace(name, userToken, false), context.waitUntil);
    }
    if (outcome.ok) return { ok: true, destination: outcome.destination };
    return { ok: false, response: errorPage(STATUS[outcome.code] ?? 502, outcome.code) };
  };
}

/**
 * xs-app.json `destinations.<name>.logoutPath` of a destination that is not in the variable
 * (so from the service) is not called at logout yet: said once at start-up, not ignored silently.
 */
export function warnServiceLogoutPaths(
  logoutConfig: ReadonlyMap<string, { logoutPath?: string }>,
  variable: ReadonlyMap<string, Destination>,
  log: Logger,
): void {
  const names = [...logoutConfig]
    .filter(([name, d]) => d.logoutPath !== undefined && !variable.has(name))
    .map(([name]) => name);
  if (names.length > 0)
    log("destination.logout_path.warn", {
      destinations: names,
      reason: "logoutPath is only called for destinations of the destinations variable",
    });
}

/**
 * Refreshed in the background from half its lifetime (at most 5 minutes before expiry, as
 * SAP); never used in its last seconds.
 */
function tokenLifetime(lifetimeMs: number): Lifetime {
  return {
    freshMs: lifetimeMs - Math.min(300_000, lifetimeMs / 2),
    usableMs: lifetimeMs - Math.min(10_000, lifetimeMs / 10),
  };
}

async function userKey(name: string, userToken: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(userToken)));
  let hex = "";
  for (const byte of digest.subarray(0, 16)) hex += byte.toString(16).padStart(2, "0");
  return `${name}\u0000${hex}`;
}
