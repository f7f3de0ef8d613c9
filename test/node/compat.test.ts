import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { Miniflare, type WorkerOptions } from "miniflare";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  replayCase,
  startCaseDestinationService,
  startRecordingBackend,
  unusedOrigin,
} from "../../compat/lib.mjs";
import { bundleWorker } from "../support/worker-bundle.js";

/**
 * Compatibility with SAP's application router, observed rather than assumed.
 *
 * test/compat/expectations.json holds what SAP's router (@sap/approuter, see its `sap`
 * field) did with each case's xs-app.json, destinations and environment: what the backend
 * received and what the client got back, normalised to placeholders (compat/lib.mjs).
 * It is recorded by compat/record.mjs (see there to re-record). Here every case runs
 * against our router (the bundled Worker in Miniflare, one worker per case, all in one
 * workerd) with the same configuration and the same kind of recording backend, through
 * the same replay and normalisation code, and each request's observation must equal SAP's
 * field by field.
 *
 * Where our router differs from SAP's on purpose, the difference is written down below in
 * DEVIATIONS: each entry rewrites SAP's observation into what we do instead, in exactly the
 * places it applies, with its reason and where it is documented. Every entry must be used
 * by some request (a stale entry fails). Anything else that differs fails the request's test.
 *
 * Harness (not deviations): each case's worker has its own host (`<case>.compat.test`);
 * Miniflare adds `CF-Connecting-IP: 127.0.0.1` as Cloudflare's edge adds the client's
 * address (SAP sees the TCP peer 127.0.0.1), but passes its loopback socket as `Host`
 * (Cloudflare: the URL's host), so that host counts as the router's host too. SAP was
 * recorded over plain http, ours is reached over https: `{routerProto}` stands for either.
 */

// ---------------------------------------------------------------------------------------
// Recorded expectations
// ---------------------------------------------------------------------------------------

type Headers = Record<string, string>;

interface SetCookieObservation {
  name: string;
  /** "" (cleared), "<value>" or, for the router's session cookie, "<same-as-jar>". */
  value: string;
  /** Lower-case, sorted: `httponly`, `path=/`, `max-age=0`, `expires=<past>`, … */
  attributes: string[];
}

interface ResponseObservation {
  status: number;
  headers: Headers;
  setCookies: SetCookieObservation[];
  /** Relation of a returned token to the case's earlier ones. */
  csrfToken?: "first" | "new" | "same-as-before";
  /** The body is the backend's answer to this very request. */
  fromBackend: boolean;
  /** The router's own answer (`observe.body`). */
  body?: string;
}

interface BackendRequestObservation {
  arrived: true;
  method: string;
  path: string;
  query: string | null;
  headers: Headers;
  body?: string;
}

type BackendObservation =
  | { arrived: false }
  | BackendRequestObservation
  | { arrived: true; count: number; requests: BackendRequestObservation[] };

interface Observation {
  backend: BackendObservation;
  response: ResponseObservation;
}

interface CaseRequest {
  method: string;
  path: string;
  headers?: Headers;
  body?: string;
  jar?: boolean;
  note?: string;
}

interface DestinationSpec {
  name: string;
  url: string;
  [property: string]: unknown;
}

interface RecordedCase {
  id: string;
  title: string;
  xsApp: {
    logout?: { logoutEndpoint?: string; logoutMethod?: string; logoutPage?: string };
    [property: string]: unknown;
  };
  destinations: DestinationSpec[];
  /** Destinations of a destination service (the simulator, bound in VCAP_SERVICES). */
  destinationService?: { Name: string; URL: string; [property: string]: unknown }[];
  env?: Record<string, string>;
  /** Static files (path relative to SAP's working directory → content); served here as Workers static assets. */
  files?: Record<string, string>;
  sessionCookieName?: string;
  observe?: { backend?: string[]; response?: string[]; body?: boolean };
  requests: { request: CaseRequest; expected: Observation }[];
}

interface Expectations {
  sap: { package: string; version: string };
  cases: RecordedCase[];
}

const root = resolve(import.meta.dirname, "../..");
const expectations = JSON.parse(
  readFileSync(join(root, "test/compat/expectations.json"), "utf8"),
) as Expectations;

// ---------------------------------------------------------------------------------------
// Deliberate deviations from SAP's router
// ---------------------------------------------------------------------------------------

interface DeviationContext {
  caseDef: RecordedCase;
  request: CaseRequest;
  sessionCookieName: string;
}

interface Deviation {
  id: string;
  /** Why we differ. */
  reason: string;
  /** Where the difference is documented. */
  documented: string;
  /** Rewrites SAP's observation (a copy) into ours, only where the deviation applies; true when it changed something. */
  apply(expected: Observation, context: DeviationContext): boolean;
}

const isSessionCookie = (cookie: SetCookieObservation, context: DeviationContext) =>
  cookie.name === context.sessionCookieName;
const pathnameOf = (path: string) => new URL(path, "https://x.invalid").pathname;

const DEVIATIONS: Deviation[] = [
  {
    id: "token-only-session-stored-when-it-holds-something",
    reason:
      "A session that holds only its CSRF token lives in its cookie (<id>.<time>.<MAC>: nothing stored, so anonymous token fetches cost nothing). The first backend session cookie it keeps stores it under the same id, and its cookie becomes the plain id: one Set-Cookie of the router's cookie where SAP sends none (same session, same token).",
    documented:
      "README 'How sessions work' (Anonymous sessions cost nothing); docs/storage-schema.md 'Sessions that are not stored'",
    apply(expected, context) {
      const requests = context.caseDef.requests.map((r) => r.request);
      const index = requests.indexOf(context.request);
      const header = (r: CaseRequest, name: string) =>
        Object.entries(r.headers ?? {}).find(([k]) => k.toLowerCase() === name)?.[1];
      const keepsBackendSession = (r: CaseRequest) =>
        /^set-(cookies|jsessionid)$/.test(header(r, "x-compat-backend") ?? "");
      const before = requests.slice(0, index);
      if (!keepsBackendSession(context.request) || before.some(keepsBackendSession)) return false;
      if (!before.some((r) => header(r, "x-csrf-token")?.toLowerCase() === "fetch")) return false;
      if (expected.response.setCookies.some((c) => isSessionCookie(c, context))) return false;
      expected.response.setCookies.push({
        name: context.sessionCookieName,
        value: "<value>",
        attributes: ["httponly", "path=/"],
      });
      return true;
    },
  },
  {
    id: "session-cookie-secure-samesite",
    reason:
      "Our session cookie is always Secure (a Worker is reached over https; SAP's default SECURE_SESSION_COOKIE is 'auto', so over the plain http of the recording it sent none) and SameSite=Lax unless COOKIES says otherwise (SAP sends no SameSite by default).",
    documented:
      "README 'How sessions work' (Cookie); src/config/env-vars.ts (SECURE_SESSION_COOKIE, COOKIES)",
    apply(expected, context) {
      let changed = false;
      for (const cookie of expected.response.setCookies) {
        if (!isSessionCookie(cookie, context)) continue;
        const attributes = new Set(cookie.attributes);
        if (!attributes.has("secure")) attributes.add("secure");
        if (![...attributes].some((a) => a.startsWith("samesite="))) attributes.add("samesite=lax");
        const next = [...attributes].sort();
        if (next.join(";") !== cookie.attributes.join(";")) {
          cookie.attributes = next;
          changed = true;
        }
      }
      return changed;
    },
  },
  {
    id: "no-store-with-session-cookie",
    reason:
      "A response that sets or clears the router's session cookie must never be stored by a cache: we send Cache-Control: no-store with it.",
    documented:
      "src/session/middleware.ts setCookieHeader ('never cache a response that sets a session'); not (yet) in README's 'Compared with SAP' table",
    apply(expected, context) {
      if (!expected.response.setCookies.some((c) => isSessionCookie(c, context))) return false;
      if (expected.response.headers["cache-control"] === "no-store") return false;
      expected.response.headers["cache-control"] = "no-store";
      return true;
    },
  },
  {
    id: "logout-wrong-method-405",
    reason:
      "A request to the logout endpoint with another method than logoutMethod gets 405 with Allow; SAP answers 500 (an internal error page).",
    documented: "src/handlers/logout-handler.ts; README 'Compared with SAP's application router'",
    apply(expected, context) {
      const logout = context.caseDef.xsApp.logout;
      if (logout?.logoutEndpoint === undefined || pathnameOf(context.request.path) !== logout.logoutEndpoint)
        return false;
      if (expected.response.status !== 500) return false;
      expected.response.status = 405;
      expected.response.headers.allow = (logout.logoutMethod ?? "GET").toUpperCase();
      return true;
    },
  },
  {
    id: "logout-without-identity-provider",
    reason:
      "Without a bound identity provider SAP still redirects to '/logout.do?redirect=…&client_id=undefined' (a dead link); we send the browser to logoutPage, or answer a 'logged out' page when there is none.",
    documented: "src/handlers/logout-handler.ts; README 'Compared with SAP's application router'",
    apply(expected, context) {
      const logout = context.caseDef.xsApp.logout;
      if (logout?.logoutEndpoint === undefined || pathnameOf(context.request.path) !== logout.logoutEndpoint)
        return false;
      const location = expected.response.headers.location;
      if (location === undefined || !location.startsWith("/logout.do")) return false;
      if (logout.logoutPage !== undefined) {
        expected.response.headers.location = logout.logoutPage;
      } else {
        delete expected.response.headers.location;
        expected.response.status = 200;
      }
      return true;
    },
  },
  {
    id: "hop-by-hop-rfc9110",
    reason:
      "Hop-by-hop headers (RFC 9110 §7.6.1: Connection and what it names, Keep-Alive, TE, Trailer, Transfer-Encoding, Upgrade, Proxy-*) are dropped in both directions, plus SAP's own list ('Public'); SAP forwards TE and strips nothing from responses.",
    documented: "src/proxy/forward.ts HOP_BY_HOP; README 'Compared with SAP's application router'",
    apply(expected, context) {
      if (context.caseDef.id !== "hop-by-hop") return false;
      let changed = false;
      const backend = expected.backend;
      if ("headers" in backend && backend.headers.te !== undefined) {
        delete backend.headers.te;
        changed = true;
      }
      for (const name of ["proxy-authenticate", "public", "x-hop-resp"]) {
        if (expected.response.headers[name] !== undefined) {
          delete expected.response.headers[name];
          changed = true;
        }
      }
      return changed;
    },
  },
  {
    id: "welcome-file-ignores-client-x-forwarded-path",
    reason:
      "The welcome-file redirect does not take a path prefix from a client-sent X-Forwarded-Path (a client must not steer the router's redirects); SAP prefixes it.",
    documented: "src/static/local-dir.ts welcomeRedirect; README 'Compared with SAP's application router'",
    apply(expected, context) {
      const sent = Object.keys(context.request.headers ?? {}).some(
        (k) => k.toLowerCase() === "x-forwarded-path",
      );
      const location = expected.response.headers.location;
      const welcome = context.caseDef.xsApp.welcomeFile as string | undefined;
      if (
        !sent ||
        location === undefined ||
        welcome === undefined ||
        location === welcome ||
        !location.endsWith(welcome)
      )
        return false;
      expected.response.headers.location = welcome.startsWith("/") ? welcome : `/${welcome}`;
      return true;
    },
  },
  {
    id: "x-forwarded-client-values-replaced",
    reason:
      "X-Forwarded-Host/-Proto/-Path sent by the client are replaced by what the router saw, and a client-sent X-Forwarded-For by the client's address as the platform gives it (CF-Connecting-IP); SAP passes client values through unchanged, which lets any client spoof them to the backend.",
    documented:
      "src/proxy/forward.ts buildUpstreamRequest ('A client must not speak for the router'); README 'Compared with SAP's application router'",
    apply(expected, context) {
      const sent = Object.fromEntries(
        Object.entries(context.request.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]),
      );
      const backend = expected.backend;
      if (!("headers" in backend)) return false;
      let changed = false;
      const replace = (name: string, value: string) => {
        if (sent[name] === undefined || backend.headers[name] !== sent[name]) return;
        backend.headers[name] = value;
        changed = true;
      };
      replace("x-forwarded-host", "{routerHost}");
      replace("x-forwarded-proto", "{routerProto}");
      // What SAP sends when the client sends none: the request's path (see the failing x-forwarded cases for its query).
      replace("x-forwarded-path", pathnameOf(context.request.path));
      replace("x-forwarded-for", "{client}");
      return changed;
    },
  },
  {
    id: "cors-preflight-204",
    reason:
      "A CORS preflight the router answers itself gets 204 No Content (it has no content); SAP answers 200.",
    documented:
      "src/http/cors.ts header comment ('Differences: the preflight answer is 204 (SAP: 200)'); not in README",
    apply(expected, context) {
      const isPreflight =
        context.request.method === "OPTIONS" &&
        Object.keys(context.request.headers ?? {}).some(
          (h) => h.toLowerCase() === "access-control-request-method",
        );
      if (!isPreflight || expected.response.status !== 200 || expected.backend.arrived) return false;
      if (expected.response.headers["access-control-allow-origin"] === undefined) return false;
      expected.response.status = 204;
      return true;
    },
  },
  {
    id: "replace-content-type-charset",
    reason:
      "A file rendered by `replace` is UTF-8 text (SAP's README requires UTF-8 files) and says so: `; charset=utf-8` after SAP's type (SAP: `text/html`, `application/json`, … without charset).",
    documented: "src/static/replace.ts withReplace; README '`xs-app.json`' (replace)",
    apply(expected, context) {
      if (
        context.caseDef.id !== "replace" ||
        expected.response.body === undefined ||
        expected.response.body.includes("{{")
      )
        return false;
      const type = expected.response.headers["content-type"];
      if (type === undefined || type.includes("charset")) return false;
      expected.response.headers["content-type"] = `${type}; charset=utf-8`;
      return true;
    },
  },
  {
    id: "replace-path-suffix-with-slash",
    reason:
      'A `pathSuffixes` entry starting with `/` ("/abc/main.html": main.html in a folder abc, as SAP\'s README explains it) matches also when the route\'s `target` has no leading slash (`"target": "$1"`); SAP then compares it with `abc/main.html` and never renders the file.',
    documented: "src/static/replace.ts replaceApplies; README '`xs-app.json`' (replace)",
    apply(expected, context) {
      if (
        context.caseDef.id !== "replace" ||
        context.request.path !== "/web/abc/main.html" ||
        expected.response.body !== "<p>{{TITLE}}</p>\n"
      )
        return false;
      expected.response.body = "<p>Tom &amp; &quot;Jerry&quot; &lt;b&gt;&#39;s&#x2F;&#x3D;&#x60;</p>\n";
      expected.response.headers["content-type"] = "text/html; charset=utf-8";
      return true;
    },
  },
  {
    id: "static-assets-headers",
    reason:
      "Files served as they are come from Workers static assets, which name JavaScript `text/javascript`, write `charset=utf-8` in lower case and send `Cache-Control: public, max-age=0, must-revalidate` with an ETag; SAP's serve-static sends `application/javascript; charset=UTF-8` and no Cache-Control.",
    documented: "src/static/local-dir.ts header comment (served from Workers static assets); not in README",
    apply(expected, context) {
      const body = expected.response.body;
      if (
        context.caseDef.files === undefined ||
        expected.response.fromBackend ||
        body === undefined ||
        !body.includes("{{")
      )
        return false;
      const type = expected.response.headers["content-type"];
      if (type !== undefined)
        expected.response.headers["content-type"] = type
          .replace("application/javascript", "text/javascript")
          .replace("charset=UTF-8", "charset=utf-8");
      expected.response.headers["cache-control"] ??= "public, max-age=0, must-revalidate";
      return true;
    },
  },
];

// ---------------------------------------------------------------------------------------
// Our router, the backend, the replay
// ---------------------------------------------------------------------------------------

/** A case's `files` in a temporary folder: SAP's working directory is our assets directory. */
function assetsFor(files: Record<string, string>): string {
  const dir = mkdtempSync(join(inject("runTempDir"), "compat-assets-")); // removed with the run's
  for (const [file, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    writeFileSync(join(dir, file), content);
  }
  return dir;
}

/** Each case's worker answers on its own host (Miniflare routes by host). */
const hostOf = (id: string) => `${id}.compat.test`;

let mf: Miniflare;
let backend: Awaited<ReturnType<typeof startRecordingBackend>>;
const observed = new Map<string, Observation[]>();
const replayErrors = new Map<string, unknown>();
let stopServices: (() => Promise<unknown>) | undefined;

beforeAll(async () => {
  const [script, started, unreachable] = await Promise.all([
    bundleWorker(),
    startRecordingBackend(),
    unusedOrigin(),
  ]);
  backend = started;
  // A case's destination service: the simulator, bound as VCAP_SERVICES (compat/lib.mjs).
  const services = new Map(
    await Promise.all(
      expectations.cases.map(
        async (c) =>
          [c.id, await startCaseDestinationService(c, { backend: backend.origin, unreachable })] as const,
      ),
    ),
  );
  stopServices = () => Promise.all([...services.values()].map((service) => service?.sim.stop()));
  const workers: WorkerOptions[] = expectations.cases.map((c) => ({
    name: c.id,
    routes: [`${hostOf(c.id)}/*`],
    modules: true,
    scriptPath: script,
    modulesRoot: dirname(script),
    compatibilityDate: "2026-04-26",
    bindings: {
      XS_APP: JSON.stringify(c.xsApp),
      destinations: JSON.stringify(
        c.destinations.map((d) => ({
          ...d,
          url: d.url.replace("{backend}", backend.origin).replace("{unreachable}", unreachable),
        })),
      ),
      ...(c.env ?? {}),
      ...(services.get(c.id)?.env ?? {}),
    },
    ...(c.files
      ? {
          assets: {
            directory: assetsFor(c.files),
            binding: "ASSETS",
            routerConfig: { invoke_user_worker_ahead_of_assets: true, has_user_worker: true },
          },
        }
      : {}),
  }));
  // The isolates' structured logs (one config.loaded per case) only with COMPAT_LOG=1.
  const handleRuntimeStdio = (stdout: NodeJS.ReadableStream, stderr: NodeJS.ReadableStream) => {
    if (process.env.COMPAT_LOG) stdout.pipe(process.stdout);
    else stdout.resume();
    stderr.pipe(process.stderr);
  };
  mf = new Miniflare({ workers, handleRuntimeStdio } as never);
  const loopback = (await mf.ready).host;
  await Promise.all(
    expectations.cases.map(async (c) => {
      const router = `https://${hostOf(c.id)}`;
      // dispatchFetch, not getWorker().fetch: the latter refuses requests with an Origin header.
      // Miniflare adds CF-Connecting-IP: 127.0.0.1, as Cloudflare's edge adds the client's address.
      const send = async ({
        method,
        path,
        headers,
        body,
      }: {
        method: string;
        path: string;
        headers: Record<string, string>;
        body?: string;
      }) => {
        const response = await mf.dispatchFetch(router + path, {
          method,
          headers,
          ...(body !== undefined ? { body } : {}),
          redirect: "manual",
        } as never);
        const pairs: [string, string][] = [];
        response.headers.forEach((value, name) => {
          if (name !== "set-cookie") pairs.push([name, value]);
        });
        for (const cookie of response.headers.getSetCookie()) pairs.push(["set-cookie", cookie]);
        return { status: response.status, headers: pairs, body: await response.text() };
      };
      const origins = {
        router,
        routerHost: hostOf(c.id),
        routerProto: "https",
        backend: backend.origin,
        backendHost: backend.host,
        unreachable,
      };
      try {
        const observations = await replayCase(
          { ...c, requests: c.requests.map((r) => r.request) },
          send,
          backend,
          origins,
        );
        observed.set(c.id, withLoopbackAsRouterHost(observations as Observation[], loopback));
      } catch (error) {
        replayErrors.set(c.id, error);
      }
    }),
  );
  // COMPAT_OURS_OUT=<file>: our observations in the format of expectations.json (to read side by side),
  // each with SAP's observation after the deliberate deviations (`sapWithDeviations`).
  const out = process.env.COMPAT_OURS_OUT;
  if (out) {
    const cases = expectations.cases.map((c) => ({
      ...c,
      requests: c.requests.map(({ request }, i) => ({
        request,
        expected: observed.get(c.id)?.[i],
        sapWithDeviations: expectedForUs(c, i),
      })),
    }));
    writeFileSync(out, `${JSON.stringify({ ...expectations, router: "approuter-edge", cases }, null, 2)}\n`);
  }
}, 60_000);

afterAll(async () => {
  await mf?.dispose();
  await stopServices?.();
  await backend?.close();
});

/**
 * Miniflare gives the isolate its loopback socket as Host (on Cloudflare: the URL's host);
 * it stands for the router's host.
 */
function withLoopbackAsRouterHost(observations: Observation[], loopbackHost: string): Observation[] {
  const pattern = new RegExp(`${loopbackHost.replaceAll(".", "\\.")}(?![0-9])`, "g");
  return JSON.parse(JSON.stringify(observations).replace(pattern, "{routerHost}")) as Observation[];
}

/** SAP's observation with our deliberate deviations applied, and the ids of those that applied. */
function expectedForUs(recorded: RecordedCase, index: number): { expected: Observation; applied: string[] } {
  const { request, expected: sap } = recorded.requests[index]!;
  const expected = structuredClone(sap);
  const context: DeviationContext = {
    caseDef: recorded,
    request,
    sessionCookieName: recorded.sessionCookieName ?? "JSESSIONID",
  };
  const applied = DEVIATIONS.filter((d) => d.apply(expected, context)).map((d) => d.id);
  return { expected, applied };
}

describe(`compatibility with SAP's application router ${expectations.sap.version}`, () => {
  for (const recorded of expectations.cases) {
    describe(`${recorded.id}: ${recorded.title}`, () => {
      recorded.requests.forEach(({ request }, index) => {
        const name = `#${index} ${request.method} ${request.path}${request.note ? ` (${request.note})` : ""}`;
        it(name, () => {
          const error = replayErrors.get(recorded.id);
          if (error !== undefined) throw error;
          const ours = observed.get(recorded.id)![index]!;
          const { expected, applied } = expectedForUs(recorded, index);
          expect(ours, applied.length > 0 ? `deviations applied: ${applied.join(", ")}` : undefined).toEqual(
            expected,
          );
        });
      });
    });
  }

  it("uses every deliberate deviation somewhere (a stale entry must go)", () => {
    const used = new Set(
      expectations.cases.flatMap((c) => c.requests.flatMap((_, i) => expectedForUs(c, i).applied)),
    );
    const unused = DEVIATIONS.filter((d) => !used.has(d.id));
    expect(unused.map((d) => d.id)).toEqual([]);
  });

  it("covers every recorded case with a worker", () => {
    expect(expectations.sap.package).toBe("@sap/approuter");
    expect([...observed.keys(), ...replayErrors.keys()].sort()).toEqual(
      expectations.cases.map((c) => c.id).sort(),
    );
  });
});
