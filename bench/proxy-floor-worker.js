// Reference rows of the benchmark: the least any reverse proxy with header hygiene pays on
// top of the bare pass-through, without any router logic. The request's headers are copied
// (a proxy must drop some and add others), the response is copied (its headers must be
// changed) and gets one header. With HEAD_TIMEOUT_MS the wait for the backend's response
// head is bounded too (a timer and an abort signal), as the router's is; with AUTHORIZATION
// the backend also gets that header (a token the size of the router's logged-in user's).
// KEEP_REQUEST_HEADERS / KEEP_RESPONSE ("1") leave out a copy: the incoming headers go
// upstream as they are, the backend's response comes back as it is (what each step costs:
// `bench:instructions --steps`).
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    let headers = request.headers;
    if (!env.KEEP_REQUEST_HEADERS) {
      headers = new Headers(request.headers);
      headers.delete("host");
      if (env.AUTHORIZATION) headers.set("authorization", env.AUTHORIZATION);
    }
    const init = { method: request.method, headers, redirect: "manual" };
    const target = env.BACKEND_URL + url.pathname + url.search;
    let upstream;
    if (env.HEAD_TIMEOUT_MS) {
      const controller = new AbortController();
      init.signal = controller.signal;
      const timer = setTimeout(abort, Number(env.HEAD_TIMEOUT_MS), controller);
      try {
        upstream = await fetch(target, init);
      } finally {
        clearTimeout(timer);
      }
    } else {
      upstream = await fetch(target, init);
    }
    if (env.KEEP_RESPONSE) return upstream;
    const response = new Response(upstream.body, upstream);
    if (!response.headers.has("x-frame-options")) response.headers.set("x-frame-options", "SAMEORIGIN");
    return response;
  },
};

function abort(controller) {
  controller.abort(new DOMException("upstream timeout", "TimeoutError"));
}
