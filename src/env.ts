/**
 * What the Worker receives as `env`. Every configuration value arrives as a string
 * (wrangler vars and secrets); JSON values are parsed and validated once per isolate
 * by `src/config`.
 */
export interface Env {
  /** JSON, SAP-compatible: { instanceName, storageType, sessionSecret, ... }. A secret. */
  EXT_SESSION_MGT?: string;
  /** JSON, Cloud Foundry style service bindings: { "<label>": [{ name, label, credentials }] }. */
  VCAP_SERVICES?: string;
  /** Fallback credentials of the Upstash REST endpoint when VCAP_SERVICES has no binding. */
  UPSTASH_REDIS_REST_URL?: string;
  UPSTASH_REDIS_REST_TOKEN?: string;
  /** JSON array of destinations: [{ name, url, forwardAuthToken, timeout, setXForwardedHeaders }]. */
  destinations?: string;
  /** Idle timeout in minutes; overrides xs-app.json `sessionTimeout`. Default 15. */
  SESSION_TIMEOUT?: string;
  /** Absolute session lifetime in minutes (extension). Default 480 (8 h). */
  SESSION_ABSOLUTE_TIMEOUT?: string;
  /** Cookie name of the router's session. Default JSESSIONID. */
  SESSION_COOKIE_NAME?: string;
  /** First-tier bounds (extension). Defaults 10000 entries, 64 MiB. */
  SESSION_MEMORY_MAX_ENTRIES?: string;
  SESSION_MEMORY_MAX_BYTES?: string;
  /** Bearer token of GET /_approuter/status (at least 16 characters); no token, no endpoint. A secret. */
  STATUS_TOKEN?: string;
  /** JSON; when set, replaces the bundled xs-app.json. */
  XS_APP?: string;
  /** Any other binding (e.g. a KV namespace used by a custom store driver). */
  [binding: string]: unknown;
}
