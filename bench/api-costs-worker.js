// The operations bench/api-costs.mjs measures: each one a call (or a few) into workerd's
// runtime APIs that a proxy Worker makes per request. `GET /<operation>?n=N` runs it N
// times; "none" is the empty loop the others are measured against.

const PAIRS = [
  ["content-type", "text/plain"],
  ["content-length", "12"],
  ["date", "Mon, 07 Dec 2026 03:00:00 GMT"],
  ["connection", "keep-alive"],
  ["keep-alive", "timeout=5"],
  ["x-request-id", "abcdef0123456789"],
  ["cache-control", "no-cache"],
  ["etag", '"abc"'],
];
const HEADERS_4 = new Headers(PAIRS.slice(0, 4));
const HEADERS_8 = new Headers(PAIRS);
const HEADERS_16 = new Headers([...PAIRS, ...PAIRS.map(([name, value]) => [`x-${name}`, value])]);
const PAIRS_8 = PAIRS.map(([name, value]) => [name, value]);
const OBJECT_8 = Object.fromEntries(PAIRS);
const MUTABLE = new Headers(PAIRS);
const RESPONSE = new Response(null, { status: 204 });

/** @param {Iterable<string>} names */
function countNames(names) {
  let n = 0;
  for (const name of names) if (name.length > 0) n++;
  return n;
}

/** @type {Record<string, (request: Request) => unknown>} */
const OPERATIONS = {
  none: () => 0,
  "headers.get (present)": () => HEADERS_8.get("connection"),
  "headers.get (absent)": () => HEADERS_8.get("x-absent"),
  "headers.has (absent)": () => HEADERS_8.has("x-absent"),
  "headers.set": () => MUTABLE.set("x-forwarded-host", "router.example"),
  "headers.delete (absent)": () => MUTABLE.delete("x-absent"),
  "headers.getSetCookie": () => HEADERS_8.getSetCookie(),
  "request.headers (getter)": (request) => request.headers,
  "request.method (getter)": (request) => request.method,
  "response.status (getter)": () => RESPONSE.status,
  "new Headers(Headers) of 8": () => new Headers(HEADERS_8),
  "new Headers(array of pairs) of 8": () => new Headers(PAIRS_8),
  "new Headers(object) of 8": () => new Headers(OBJECT_8),
  "headers.keys() scan of 4": () => countNames(HEADERS_4.keys()),
  "headers.keys() scan of 8": () => countNames(HEADERS_8.keys()),
  "headers.keys() scan of 16": () => countNames(HEADERS_16.keys()),
};

export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (url.pathname === "/") return Response.json(Object.keys(OPERATIONS));
    const operation = OPERATIONS[decodeURIComponent(url.pathname.slice(1))];
    if (operation === undefined) return new Response("no such operation", { status: 404 });
    const n = Number(url.searchParams.get("n") ?? "1");
    let kept = 0;
    for (let i = 0; i < n; i++) if (operation(request) !== undefined) kept++;
    return new Response(String(kept));
  },
};
