/**
 * Where to send the user after login: only a path on this host. Anything that a browser
 * could read as another origin (`//evil`, `/\evil`, `https:`, control characters) falls
 * back to `/`, so the login flow cannot be used as an open redirect. Checked again after
 * the URL parser normalised the path: `/.//evil.com` and `/a/..//evil.com` become
 * `//evil.com`, which a browser reads as a host.
 */
export function safeReturnTo(candidate: string | undefined): string {
  if (!candidate || !isLocalPath(candidate)) return "/";
  if (/[\u0000-\u001f\u007f\\]/.test(candidate)) return "/";
  try {
    const url = new URL(candidate, "https://router.invalid");
    if (url.origin !== "https://router.invalid") return "/";
    const normalized = url.pathname + url.search + url.hash;
    return isLocalPath(normalized) ? normalized : "/";
  } catch {
    return "/";
  }
}

/** Starts with one `/` that is not followed by another `/` or `\` (a protocol-relative URL). */
function isLocalPath(path: string): boolean {
  return path.startsWith("/") && !path.startsWith("//") && !path.startsWith("/\\");
}
