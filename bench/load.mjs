// Load runs with autocannon's programmatic API. Every scenario goes through the same
// client-side work (a per-request setup and a response check), so the load generator
// costs the same whichever target it drives. A scenario may be measured in several
// slices (interleaved with other scenarios); `summarize` merges them, latency
// histograms included.
import autocannon from "autocannon";
import { BROWSER_HEADERS } from "./traffic-headers.mjs";

/**
 * @typedef {{ cookie: string, csrf: string }} PooledSession
 * @typedef {{
 *   url: string, connections: number, duration: number,
 *   amount?: number,             // stop after this many requests instead of after `duration`
 *   sessions?: PooledSession[],  // cycled round-robin, one per request; omitted: no cookie
 *   fetchToken?: boolean,        // send `x-csrf-token: fetch` (loads the session)
 * }} LoadOptions
 * @typedef {{ raw: any, sent: number, newCookies: number, wrongSession: number }} Slice
 * @typedef {{
 *   requests: number,   // responses received within the runs
 *   sent: number,       // requests sent: the responses plus those in flight when a run ended
 *   seconds: number, reqPerSec: number, sliceReqPerSec: number[],
 *   latency: { p50: number, p90: number, p99: number, mean: number, max: number },
 *   non2xx: number, errors: number, timeouts: number,
 *   newCookies: number, wrongSession: number,
 * }} LoadResult
 */

/** Session cursors live per pool, so slices of one scenario keep cycling where they stopped. */
const cursors = new WeakMap();

/**
 * One autocannon run; its result is kept unaggregated so slices can be merged.
 * @param {LoadOptions} options
 * @returns {Promise<Slice>}
 */
export async function runSlice({ url, connections, duration, amount, sessions, fetchToken = false }) {
  let sent = 0;
  let newCookies = 0;
  let wrongSession = 0;
  const baseHeaders = fetchToken ? { ...BROWSER_HEADERS, "x-csrf-token": "fetch" } : { ...BROWSER_HEADERS };
  const raw = await autocannon({
    url,
    connections,
    ...(amount ? { amount } : { duration }),
    timeout: 10,
    skipAggregateResult: true,
    sampleInt: 100, // the run ends on a sample tick: keep slices close to their duration
    requests: [
      {
        method: "GET",
        path: "/bench/resource?id=1",
        setupRequest(request, context) {
          sent++;
          let session;
          if (sessions && sessions.length > 0) {
            const next = cursors.get(sessions) ?? 0;
            cursors.set(sessions, next + 1);
            session = sessions[next % sessions.length];
          }
          context.expected = session?.csrf;
          request.headers = session ? { ...baseHeaders, cookie: session.cookie } : { ...baseHeaders };
          return request;
        },
        onResponse(_status, _body, context, headers) {
          let setCookie = false;
          let token;
          for (const name in headers) {
            const lower = name.toLowerCase();
            if (lower === "set-cookie") setCookie = true;
            else if (lower === "x-csrf-token") token = headers[name];
          }
          if (setCookie) newCookies++;
          // A loaded session answers with its own token; anything else means it was not served.
          if (context.expected !== undefined && token !== context.expected) wrongSession++;
        },
      },
    ],
  });
  return { raw, sent, newCookies, wrongSession };
}

/**
 * Merges the slices of one scenario.
 * @param {Slice[]} slices
 * @param {{ url: string, connections: number }} options
 * @returns {LoadResult}
 */
export function summarize(slices, { url, connections }) {
  const merged = autocannon.aggregateResult(
    slices.map((s) => s.raw),
    { url, connections, duration: 1 },
  );
  const sum = (/** @type {(s: Slice) => number} */ pick) => slices.reduce((a, s) => a + pick(s), 0);
  const requests = sum((s) => s.raw.totalCompletedRequests);
  const seconds = sum((s) => s.raw.duration);
  return {
    requests,
    sent: sum((s) => s.sent),
    seconds,
    reqPerSec: seconds > 0 ? requests / seconds : 0,
    sliceReqPerSec: slices.map((s) =>
      s.raw.duration > 0 ? s.raw.totalCompletedRequests / s.raw.duration : 0,
    ),
    latency: {
      p50: merged.latency.p50,
      p90: merged.latency.p90,
      p99: merged.latency.p99,
      mean: merged.latency.mean,
      max: merged.latency.max,
    },
    non2xx: sum((s) => s.raw.non2xx),
    errors: sum((s) => s.raw.errors),
    timeouts: sum((s) => s.raw.timeouts),
    newCookies: sum((s) => s.newCookies),
    wrongSession: sum((s) => s.wrongSession),
  };
}
