/**
 * Finding a route's destination at request time: the `destinations` variable first (it
 * wins, as in SAP's router), then, when the destination service is bound, the service —
 * cached per isolate for the lifetime the service gives (authTokens expires_in) or a
 * default TTL, refreshed in the background before that, one lookup per destination at a
 * time. Destinations whose token belongs to the user (OAuth2UserTokenExchange,
 * OAuth2JWTBearer) are cached per user (by a hash of the user's token). Failures become
 * the router's error pages with stable codes; the log says why, without secrets. Dynamic
 * routes (`"$1"`, `"*"`: src/destinations/dynamic.ts) reach destinations of the variable and
 * those of the service with `HTML5.DynamicDestination: true`, as in SAP's router.
 */
import type { Destination, DestinationServiceBinding } from "../config/types.js";
import { errorPage } from "../http/pages.js";
import type { Logger } from "../log.js";
import { RefreshingCache, type Lifetime, type Loaded } from "./cache.js";
import { DestinationServiceClient } from "./client.js";
import { isDynamicTemplate } from "../config/dynamic-destinations.js";
import { dynamicDestinationName, type DynamicRequest } from "./dynamic.js";
import { allowsDynamicUse, resolveAnswer, type Resolution } from "./resolve.js";

export interface LookupContext {
  /** The logged-in user's access token (only asked for when the destination service is consulted). */
  userToken: () => Promise<string | undefined>;
  waitUntil: (work: Promise<unknown>) => void;
  /** For a dynamic route (`"$1"`, `"*"`): what its destination name is taken from. */
  dynamic?: DynamicRequest;
}

export type DestinationLookup = { ok: true; destination: Destination } | { ok: false; response: Response };

/** `destination`: the route's `destination` as configured (a name, or a dynamic template). */
export type DestinationResolver = (destination: string, context: LookupContext) => Promise<DestinationLookup>;

export interface ResolverOptions {
  /** The `destinations` variable. */
  variable: ReadonlyMap<string, Destination>;
  service?: DestinationServiceBinding;
  /** `DESTINATION_HOST_PATTERN`: the name of `"*"` routes from the host (its first group). */
  hostPattern?: RegExp;
  fetch: typeof fetch;
  now: () => number;
  log: Logger;
  /** Lifetime of a destination without an auth token. Default 5 minutes. */
  ttlMs?: number;
  /** How long such a destination is still served while the service cannot be reached. Default 1 hour. */
  staleMs?: number;
  /** Per-isolate cache bound (each of the two caches). Default 1000 entries. */
  maxEntries?: number;
}

type Outcome = (
  | Resolution
  | {
      ok: false;
      code: "DESTINATION_NOT_FOUND" | "DESTINATION_SERVICE_UNAVAILABLE";
      reason: string;
      userDependent?: boolean;
    }
) & {
  /** The service's answer allows dynamic routes (`HTML5.DynamicDestination`); unknown without one. */
  dynamicUse?: boolean;
};

const STATUS: Record<string, number> = { DESTINATION_NOT_FOUND: 404, DESTINATION_SERVICE_UNAVAILABLE: 503 };
/** A missing destination, or one the service could not get a token for, is asked again after this. */
const SHORT: Lifetime = { freshMs: 10_000, usableMs: 10_000 };
/** A failed lookup of a destination not cached is answered from memory this long. */
const OUTAGE: Lifetime = { freshMs: 2_000, usableMs: 2_000 };

/**
 * A route's destination when the `destinations` variable names it (the variable wins over
 * the service, as in the resolver): the common case, answered without a lookup.
 */
export function variableDestination(
  variable: ReadonlyMap<string, Destination>,
  template: string,
): Destination | undefined {
  return isDynamicTemplate(template) ? undefined : variable.get(template);
}

export function createDestinationResolver(options: ResolverOptions): DestinationResolver {
  const { variable, service, log, hostPattern } = options;
  const client = service && new DestinationServiceClient(service, { fetch: options.fetch, now: options.now });
  const fromService = client && createServiceLookup(client, options);
  // Names taken from requests have a cache of their own (one client and token for both): a
  // flood of made-up names cannot evict the destinations of the configured routes.
  const dynamicFromService = client && createServiceLookup(client, options);

  /** SAP answers a name it may not use dynamically (unknown, not flagged, invalid) with 500. */
  function refuseDynamic(reason: string, destination?: string): DestinationLookup {
    log("destination.dynamic_refused.warn", { reason, ...(destination !== undefined && { destination }) });
    return { ok: false, response: errorPage(500, "DYNAMIC_DESTINATION_REFUSED") };
  }

  return async (template, context) => {
    let name = template;
    const dynamic = isDynamicTemplate(template);
    if (dynamic) {
      if (!context.dynamic) return refuseDynamic("no-request");
      const named = dynamicDestinationName(template, context.dynamic, hostPattern);
      if (!named.ok) {
        if (named.code === "DYNAMIC_DESTINATION_REFUSED") return refuseDynamic(named.reason);
        // SAP: the route does not apply (and no later route is tried): 404.
        log("destination.host_unmatched.warn", { reason: named.reason });
        return { ok: false, response: errorPage(404, named.code) };
      }
      name = named.name;
    }
    const fixed = variable.get(name);
    if (fixed) return { ok: true, destination: fixed };
    const lookup = dynamic ? dynamicFromService : fromService;
    if (!lookup) {
      if (dynamic) return refuseDynamic("unknown", name);
      return { ok: false, response: errorPage(500, "UNKNOWN_DESTINATION") }; // validated at start-up
    }
    const outcome = await lookup(name, context);
    // Unknown and not allowed are answered alike, so that the answer does not tell which names exist.
    if (
      dynamic &&
      outcome.dynamicUse !== true &&
      (outcome.ok || outcome.code !== "DESTINATION_SERVICE_UNAVAILABLE")
    )
      return refuseDynamic(outcome.ok || outcome.dynamicUse === false ? "not-dynamic" : "unknown", name);
    if (outcome.ok) return { ok: true, destination: outcome.destination };
    return { ok: false, response: errorPage(STATUS[outcome.code] ?? 502, outcome.code) };
  };
}

/**
 * Lookups in the destination service behind one per-isolate cache: `(name, context)` →
 * the outcome, shared by concurrent requests, per user for user-token destinations.
 */
function createServiceLookup(
  client: DestinationServiceClient,
  options: ResolverOptions,
): (name: string, context: LookupContext) => Promise<Outcome> {
  const { log, now } = options;
  const ttlMs = options.ttlMs ?? 300_000;
  const staleMs = options.staleMs ?? 3_600_000;
  const cache = new RefreshingCache<Outcome>({
    now,
    ...(options.maxEntries !== undefined && { maxEntries: options.maxEntries }),
  });
  /**
   * Names whose tokens are per user (→ whether dynamic routes may use them): looked up and
   * cached under `name + hash(user token)`.
   */
  const perUser = new Map<string, boolean>();
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
    const dynamicUse = allowsDynamicUse(found.answer);
    const resolution = resolveAnswer(name, found.answer, userToken !== undefined);
    if (!resolution.ok) {
      log("destination.refused.error", {
        destination: name,
        code: resolution.code,
        reason: resolution.reason,
      });
      const retrySoon =
        resolution.code === "DESTINATION_AUTH_FAILED" || resolution.code === "DESTINATION_NEEDS_USER";
      return {
        value: { ...resolution, dynamicUse },
        keep: retrySoon ? SHORT : { freshMs: ttlMs, usableMs: ttlMs },
      };
    }
    if (resolution.preserveHostHeader && !warnedHost.has(name)) {
      warnedHost.add(name);
      log("destination.preserve_host.warn", {
        destination: name,
        reason: resolution.destination.setXForwardedHeaders
          ? "a Worker cannot set the Host header of its requests; the backend gets X-Forwarded-Host"
          : "a Worker cannot set the Host header of its requests, and HTML5.SetXForwardedHeaders false " +
            "drops X-Forwarded-Host: the backend does not learn the router's host",
      });
    }
    return {
      value: { ...resolution, dynamicUse },
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
    if (userDependent) perUser.set(name, loaded.value.dynamicUse === true);
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
    const userToken = await context.userToken();
    const perUserDynamic = perUser.get(name);
    if (perUserDynamic === undefined)
      return cache.get(name, () => lookupAndPlace(name, userToken, false), context.waitUntil);
    if (userToken === undefined)
      return {
        ok: false,
        code: "DESTINATION_NEEDS_USER",
        reason: "needs a logged-in user",
        dynamicUse: perUserDynamic,
      };
    return cache.get(
      await userKey(name, userToken),
      () => lookupAndPlace(name, userToken, true),
      context.waitUntil,
    );
  };
}

/**
 * A destination by name for a `logoutPath` call, with the ended session's user token;
 * undefined when it cannot be had (logged).
 */
export type LogoutDestinationLookup = (
  name: string,
  userToken: string | undefined,
) => Promise<Destination | undefined>;

/**
 * xs-app.json `destinations.<name>.logoutPath` of a destination of the service: SAP looks the
 * destination up when the session ends (logout or timeout) and calls it with its
 * authentication, as for a request; so does this, through the same cache.
 */
export function logoutDestinationLookup(resolve: DestinationResolver): LogoutDestinationLookup {
  return async (name, userToken) => {
    const found = await resolve(name, {
      userToken: async () => userToken,
      // Already inside the logout's own background work; a refresh here is best effort.
      waitUntil: (work) => void work.catch(() => {}),
    });
    if (found.ok) return found.destination;
    await found.response.body?.cancel();
    return undefined;
  };
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
