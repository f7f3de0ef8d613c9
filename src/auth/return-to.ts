/**
 * Where to send the user after login: only a path on this host. Anything that a browser
 * could read as another origin (`//evil`, `/\evil`, `https:`, control characters) falls
 * back to `/`, so the login flow cannot be used as an open redirect.
 */
export function safeReturnTo(candidate: string | undefined): string {
  if (!candidate || !candidate.startsWith("/")) return "/";
  if (candidate.startsWith("//") || candidate.startsWith("/\\")) return "/";
  if (/[\u0000-\u001f\u007f\\]/.test(candidate)) return "/";
  try {
    const url = new URL(candidate, "https://router.invalid");
    if (url.origin !== "https://router.invalid") return "/";
    return url.pathname + url.search + url.hash;
  } catch {
    return "/";
  }
}
