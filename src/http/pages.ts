/**
 * Short, generic pages for the router's own answers: never internal detail, never a
 * stack, never configuration. The `code` is stable and also goes to the log.
 */
const TITLES: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

/** Marks the router's own error pages until the app has had the chance to replace them (`errorPage`); never sent. */
export const ROUTER_ERROR_HEADER = "x-approuter-error";

export function errorPage(status: number, code: string, headers: Record<string, string> = {}): Response {
  const title = TITLES[status] ?? "Error";
  const body = `<!doctype html><html><head><meta charset="utf-8"><title>${status} ${title}</title></head><body><h1>${status} ${title}</h1><p>Error code: ${code}</p></body></html>`;
  return new Response(body, {
    status,
    headers: { "content-type": "text/html; charset=utf-8", "cache-control": "no-cache, no-store, must-revalidate", ...headers, [ROUTER_ERROR_HEADER]: code },
  });
}
