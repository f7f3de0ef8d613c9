/**
 * The response itself when its headers can be changed, else a copy that can: responses
 * passed through from fetch() or the static assets have immutable headers. The router's
 * own responses are never copied (a copy costs a Response and every header).
 */
export function withMutableHeaders(response: Response): Response {
  try {
    response.headers.set("x-approuter-probe", "1");
    response.headers.delete("x-approuter-probe");
    return response;
  } catch {
    return new Response(response.body, response);
  }
}
