/**
 * Responses the router built itself: their headers can be changed, so `withMutableHeaders`
 * needs no probe for them (a set and a delete on every response otherwise).
 */
const OWN = new WeakSet<Response>();

/** Registers a response the router just built (`new Response(...)`: mutable headers). */
export function ownResponse(response: Response): Response {
  OWN.add(response);
  return response;
}

/**
 * The response itself when its headers can be changed, else a copy that can: responses
 * passed through from fetch() or the static assets have immutable headers. The router's
 * own responses are never copied (a copy costs a Response and every header).
 */
export function withMutableHeaders(response: Response): Response {
  if (OWN.has(response)) return response;
  try {
    response.headers.set("x-approuter-probe", "1");
    response.headers.delete("x-approuter-probe");
    return ownResponse(response);
  } catch {
    return ownResponse(new Response(response.body, response));
  }
}
