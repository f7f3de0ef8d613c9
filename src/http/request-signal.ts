/** What workerd exposes of its configuration to the Worker (`globalThis.Cloudflare`). */
interface RuntimeScope {
  Cloudflare?: { compatibilityFlags?: Record<string, boolean | undefined> };
}

/**
 * Whether the runtime aborts an incoming request's `signal` when the client goes away.
 * workerd does so only with the `enable_request_signal` compatibility flag; without it the
 * signal never aborts, and watching it costs every proxied request a listener for nothing
 * (Cloudflare cancels the Worker's subrequests itself when the client disconnects). Outside
 * workerd (no `Cloudflare` global) the signal is assumed to work.
 */
export function runtimeAbortsRequestSignal(scope: RuntimeScope = globalThis as RuntimeScope): boolean {
  const flags = scope.Cloudflare?.compatibilityFlags;
  return flags === undefined || flags.enable_request_signal === true;
}
