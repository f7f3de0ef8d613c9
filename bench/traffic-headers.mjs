// The headers of the benchmarks' traffic: requests as a browser sends them, answers as an
// SAP service gives them. Each header costs any Worker that forwards it (parsed, copied,
// sent on), and the router besides (it scans a request's names for hop-by-hop and
// client-controlled ones): benchmarks of bare requests and answers would understate what
// users pay. Used by the load generator, the backends and the in-isolate worker alike.

/** What Chrome sends besides Host, Connection and the cookie with a request an app makes (here: as for a page). */
export const BROWSER_HEADERS = Object.freeze({
  accept: "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
  "accept-encoding": "gzip, deflate, br, zstd",
  "accept-language": "en-US,en;q=0.9,de;q=0.8",
  "cache-control": "no-cache",
  pragma: "no-cache",
  priority: "u=0, i",
  referer: "https://app.example.com/index.html",
  "sec-ch-ua": '"Chromium";v="131", "Not_A Brand";v="24"',
  "sec-ch-ua-mobile": "?0",
  "sec-ch-ua-platform": '"Linux"',
  "sec-fetch-dest": "document",
  "sec-fetch-mode": "navigate",
  "sec-fetch-site": "same-origin",
  "user-agent":
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
});

/**
 * What an SAP CAP service answers an OData request with, besides Content-Length (Node adds
 * Date, Connection and Keep-Alive on the wire: 10 in all).
 */
export const BACKEND_HEADERS = Object.freeze({
  "content-type": "application/json;odata.metadata=minimal",
  "odata-version": "4.0",
  "cache-control": "no-store",
  "x-correlation-id": "5f0c2a7e-3b1d-4c8e-9a6f-2d4b7e1c9a30",
  "strict-transport-security": "max-age=31536000; includeSubDomains",
  "x-content-type-options": "nosniff",
});
