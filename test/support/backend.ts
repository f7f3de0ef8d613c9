import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * A loopback backend that answers with what it saw, and records every request. A request
 * with `x-test-backend-session: <v>` gets a backend session cookie `BACKEND_SESSION=<v>`,
 * which the router keeps in its session (SAP's behaviour): the way tests make a session
 * that holds something, and so is stored (one holding only its CSRF token is not).
 */
export async function startEchoBackend(): Promise<{
  url: string;
  seen: SeenRequest[];
  close(): Promise<void>;
}> {
  const seen: SeenRequest[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const entry = {
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      };
      seen.push(entry);
      const session = req.headers["x-test-backend-session"];
      if (typeof session === "string")
        res.setHeader("set-cookie", `BACKEND_SESSION=${session}; Path=/; HttpOnly`);
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ method: entry.method, url: entry.url, cookie: req.headers.cookie ?? null }));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/**
 * A loopback backend with a session cookie of its own: `/set/<v>` sets `BACKEND=<v>` (the
 * router keeps it in its session: a session that holds something); every path answers
 * `{ cookie }` with the cookies it got, and every request is recorded with them (so a
 * `logoutPath` call shows whose session it ends).
 */
export async function startCookieBackend(): Promise<{
  url: string;
  seen: { path: string; cookie: string | null }[];
  close(): Promise<void>;
}> {
  const seen: { path: string; cookie: string | null }[] = [];
  const server: Server = createServer((req, res) => {
    seen.push({ path: req.url ?? "", cookie: req.headers.cookie ?? null });
    const set = /^\/set\/(\w+)$/.exec(req.url ?? "");
    if (set) res.setHeader("set-cookie", `BACKEND=${set[1]}; Path=/; HttpOnly`);
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ cookie: req.headers.cookie ?? null }));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
