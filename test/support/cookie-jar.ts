import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A browser's cookie jar, reduced to what the router sets: every Set-Cookie replaces the
 * cookie of that name, an expired one removes it. `header()` is the Cookie request header.
 */
export class CookieJar {
  readonly cookies = new Map<string, string>();

  constructor(pairs: string[] = []) {
    for (const pair of pairs)
      this.cookies.set(pair.slice(0, pair.indexOf("=")), pair.slice(pair.indexOf("=") + 1));
  }

  /** Takes the answer's Set-Cookie headers; returns them. */
  take(response: Response): string[] {
    const set = response.headers.getSetCookie();
    for (const line of set) {
      const pair = line.split(";")[0]!;
      const name = pair.slice(0, pair.indexOf("="));
      const value = pair.slice(pair.indexOf("=") + 1);
      if (value === "" || /max-age=0/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return set;
  }

  get(name: string): string | undefined {
    return this.cookies.get(name);
  }

  header(): string {
    return [...this.cookies].map(([n, v]) => `${n}=${v}`).join("; ");
  }

  copy(): CookieJar {
    const jar = new CookieJar();
    for (const [n, v] of this.cookies) jar.cookies.set(n, v);
    return jar;
  }
}

/**
 * A backend whose own session cookie is kept in the router's session (SAP's behaviour for
 * cookies without expiry): `/set/<v>` sets `BACKEND=<v>`; every answer echoes the Cookie
 * header it got, so a test sees which version of the session the router served.
 */
export async function startVersionedBackend(): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const set = /^\/set\/(\w+)$/.exec(req.url ?? "");
    if (set) res.setHeader("set-cookie", `BACKEND=${set[1]}; Path=/; HttpOnly`);
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ cookie: req.headers.cookie ?? null }));
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** The backend's session cookie value the router forwarded, from the versioned backend's echo. */
export function backendVersion(body: string): string | undefined {
  const cookie = (JSON.parse(body) as { cookie: string | null }).cookie ?? "";
  return /(?:^|;\s*)BACKEND=(\w+)/.exec(cookie)?.[1];
}
