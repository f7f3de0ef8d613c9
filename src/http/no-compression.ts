/**
 * xs-app.json `compression.enabled: false` (or `COMPRESSION` `{"enabled": false}`). SAP's
 * router then does not gzip its answers. At the edge the router never compresses;
 * Cloudflare does, for clients that accept it, unless the answer says `Cache-Control:
 * no-transform` (SAP's README names the same directive as the backend's way to opt out).
 * So every answer gets that directive added; caching is not affected by it. An answer a
 * backend already compressed is passed on as it is, as SAP does.
 */
export function forbidTransform(headers: Headers): void {
  const cacheControl = headers.get("cache-control");
  if (cacheControl === null || cacheControl.trim() === "") headers.set("cache-control", "no-transform");
  else if (!/(^|,)\s*no-transform\s*(,|$)/i.test(cacheControl))
    headers.set("cache-control", `${cacheControl}, no-transform`);
}
