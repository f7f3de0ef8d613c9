// The floor of the benchmark: a bare Worker that fetches the backend and returns its
// response. Everything the router adds costs on top of this.
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    return fetch(env.BACKEND_URL + url.pathname + url.search);
  },
};
