/**
 * RFC 9110 §7.6.1 hop-by-hop headers, plus `Proxy-Connection` (non-standard, still sent by
 * some clients) and `Public` (listed by SAP): they describe one connection, so the proxy
 * drops them and configuration may not set them.
 */
export const HOP_BY_HOP_HEADERS: readonly string[] = [
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "public",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
];
