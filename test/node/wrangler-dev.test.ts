// `npm start` / `npm run dev:redis` end to end: scripts/dev.mjs runs the real `wrangler dev`
// and the demo backend on free ports; real HTTP requests go through the router.
import { spawn, type ChildProcess } from "node:child_process";
import { createServer, connect, type Server } from "node:net";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { freePort as freePortUntyped } from "../../scripts/lib/free-port.mjs";
import { directClient, startLocalRedis, type LocalRedis } from "../support/redis.js";

const freePort = freePortUntyped as (host?: string) => Promise<number>;

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const HOST = "127.0.0.1";
const START_DEADLINE_MS = 45_000;
const STOP_DEADLINE_MS = 20_000;
const TOKEN = /^[A-Za-z0-9_-]{43}$/;
const SESSION_COOKIE = /^JSESSIONID=([A-Za-z0-9_-]+); Path=\/; HttpOnly; Secure; SameSite=Lax$/;

/** A per-test SESSION_SECRET (64+ characters), never to appear in the output. */
function secret(): string {
  return `test-secret-${crypto.randomUUID()}-${crypto.randomUUID()}-${crypto.randomUUID()}`;
}

interface Dev {
  child: ChildProcess;
  routerUrl: string;
  output(): string;
  /** SIGTERM, wait for the exit; SIGKILL its process group if it hangs. Resolves to the exit code. */
  stop(): Promise<number | null>;
}

const running = new Set<Dev>();

/** Start `node scripts/dev.mjs …args` and wait until it announces the router. */
async function startDev(args: string[], env: Record<string, string | undefined> = {}): Promise<Dev> {
  const portIndex = args.indexOf("--port");
  const port = Number(args[portIndex + 1]);
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  for (const [key, value] of Object.entries(env)) if (value === undefined) delete childEnv[key];
  const child = spawn(process.execPath, ["scripts/dev.mjs", ...args], {
    cwd: ROOT,
    env: childEnv,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true, // its own process group, for a last-resort kill
  });
  let out = "";
  child.stdout?.on("data", (chunk: Buffer) => (out += chunk.toString("utf8")));
  child.stderr?.on("data", (chunk: Buffer) => (out += chunk.toString("utf8")));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));

  const dev: Dev = {
    child,
    routerUrl: `http://${HOST}:${port}`,
    output: () => out,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      const timer = setTimeout(() => {
        try {
          process.kill(-child.pid!, "SIGKILL");
        } catch {
          // gone
        }
      }, STOP_DEADLINE_MS);
      const code = await exited;
      clearTimeout(timer);
      running.delete(dev);
      return code;
    },
  };
  running.add(dev);

  const announced = `approuter-edge: ${dev.routerUrl} (`;
  const deadline = Date.now() + START_DEADLINE_MS;
  while (!out.includes(announced)) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`dev.mjs exited (${child.exitCode ?? child.signalCode}) before the router answered:\n${out}`);
    }
    if (Date.now() > deadline) throw new Error(`the router did not start within ${START_DEADLINE_MS} ms:\n${out}`);
    await sleep(100);
  }
  return dev;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: HOST, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/**
 * Ports of a stopped run must be closed (nothing of it left listening). Polled briefly:
 * a process killed just before dev.mjs exited may take a moment to release its socket.
 */
async function expectClosed(...ports: number[]): Promise<void> {
  for (const port of ports) {
    await eventually(async () => expect(await accepts(port), `port ${port} still open`).toBe(false), 3000);
  }
}

async function ports(): Promise<{ router: number; backend: number }> {
  const router = await freePort(HOST);
  let backend = await freePort(HOST);
  while (backend === router) backend = await freePort(HOST);
  return { router, backend };
}

interface Echo {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
}

/** GET /api/echo asking for the CSRF token; returns the session id, token and what the backend saw. */
async function fetchToken(routerUrl: string, cookie?: string) {
  const res = await fetch(`${routerUrl}/api/echo`, {
    headers: { "x-csrf-token": "fetch", cookie: cookie ? `JSESSIONID=${cookie}; other=1` : "other=1" },
  });
  expect(res.status).toBe(200);
  const echo = (await res.json()) as Echo;
  const setCookies = res.headers.getSetCookie();
  const sessionId = setCookies.map((c) => SESSION_COOKIE.exec(c)?.[1]).find((id) => id !== undefined);
  return { token: res.headers.get("x-csrf-token"), sessionId, setCookies, echo };
}

/** The checks every mode shares: page, token, cookie handling, a protected POST, logout. */
async function exerciseRouter(routerUrl: string): Promise<void> {
  // The demo page, through the router.
  const page = await fetch(`${routerUrl}/`);
  expect(page.status).toBe(200);
  expect(page.headers.get("content-type")).toMatch(/^text\/html/);
  const html = await page.text();
  expect(html).toContain("approuter-edge demo backend");
  expect(html).toContain("Served through the router");

  // A token and a new session; the backend gets the other cookie only.
  const first = await fetchToken(routerUrl);
  expect(first.token).toMatch(TOKEN);
  expect(first.setCookies).toHaveLength(1);
  expect(first.setCookies[0]).toMatch(SESSION_COOKIE);
  const sessionId = first.sessionId!;
  expect(first.echo.headers.cookie).toBe("other=1");
  expect(first.echo.headers["x-forwarded-host"]).toBe(new URL(routerUrl).host);

  // With the session cookie: same token, no new cookie, and the cookie stays at the router.
  const again = await fetchToken(routerUrl, sessionId);
  expect(again.token).toBe(first.token);
  expect(again.setCookies).toEqual([]);
  expect(again.echo.headers.cookie).toBe("other=1");
  const pageWithSession = await (await fetch(`${routerUrl}/`, { headers: { cookie: `JSESSIONID=${sessionId}; other=1` } })).text();
  expect(pageWithSession).not.toContain("reached the backend");
  expect(pageWithSession).toContain("<code>other=1</code>");

  // A POST passes (routes without authentication are not CSRF-checked, as in SAP); logout
  // of a session needs the token.
  const cookie = `JSESSIONID=${sessionId}; other=1`;
  const posted = await fetch(`${routerUrl}/api/echo`, {
    method: "POST",
    headers: { cookie, "x-csrf-token": first.token!, "content-type": "text/plain" },
    body: "hello",
  });
  expect(posted.status).toBe(200);
  expect(((await posted.json()) as Echo).body).toBe("hello");

  const refused = await fetch(`${routerUrl}/logout`, { method: "POST", headers: { cookie }, redirect: "manual" });
  expect(refused.status).toBe(403);
  expect(refused.headers.get("x-csrf-token")).toBe("Required");
  await refused.body?.cancel();

  // Logout: 302 to the logout page, the cookie cleared, the session gone.
  const logout = await fetch(`${routerUrl}/logout`, {
    method: "POST",
    headers: { cookie, "x-csrf-token": first.token! },
    redirect: "manual",
  });
  expect(logout.status).toBe(302);
  expect(logout.headers.get("location")).toBe("/");
  const cleared = logout.headers.getSetCookie();
  expect(cleared).toHaveLength(1);
  expect(cleared[0]).toMatch(/^JSESSIONID=; /);
  expect(cleared[0]).toMatch(/Max-Age=0/);
  await logout.body?.cancel();

  const afterLogout = await fetchToken(routerUrl, sessionId);
  expect(afterLogout.sessionId).toBeDefined();
  expect(afterLogout.sessionId).not.toBe(sessionId);
  expect(afterLogout.token).not.toBe(first.token);
}

afterEach(async () => {
  // A failed test must not leave a router running.
  await Promise.all([...running].map((dev) => dev.stop()));
});

describe("scripts/dev.mjs (npm start)", () => {
  it("runs the router on its embedded defaults in front of the demo backend, and stops everything", async () => {
    const { router, backend } = await ports();
    const dev = await startDev(["--port", String(router), "--backend-port", String(backend)]);
    expect(dev.output()).toContain(
      `approuter-edge: http://${HOST}:${router} (demo backend on http://${HOST}:${backend}, sessions in memory)`,
    );

    await exerciseRouter(dev.routerUrl);

    expect(await dev.stop()).toBe(0);
    await expectClosed(router, backend);
  }, 60_000);

  it("refuses to start when a port is taken, with a clear message", async () => {
    const { router, backend } = await ports();
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(backend, HOST, resolve));
    try {
      const child = spawn(process.execPath, ["scripts/dev.mjs", "--port", String(router), "--backend-port", String(backend)], {
        cwd: ROOT,
        stdio: ["ignore", "pipe", "pipe"],
      });
      let out = "";
      child.stderr.on("data", (chunk: Buffer) => (out += chunk.toString("utf8")));
      child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString("utf8")));
      const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
      clearTimeout(timer);
      expect(code).toBe(1);
      expect(out).toContain(`port ${backend} on ${HOST} is already in use`);
      expect(out).toContain("--backend-port");
      await expectClosed(router);
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  }, 20_000);
});

describe("scripts/dev.mjs --redis (npm run dev:redis)", () => {
  it("starts its own redis for the external tier, keeps the secret out of the output, and stops it all", async () => {
    const { router, backend } = await ports();
    const sessionSecret = secret();
    const dev = await startDev(["--redis", "--port", String(router), "--backend-port", String(backend)], {
      SESSION_SECRET: sessionSecret,
    });
    const out = dev.output();
    expect(out).toContain(`(demo backend on http://${HOST}:${backend}, sessions in memory + redis)`);
    const started = /redis-server on 127\.0\.0\.1:(\d+), REST endpoint http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
    expect(started, out).not.toBeNull();
    const redisPort = Number(started![1]);
    const restPort = Number(started![2]);

    await exerciseRouter(dev.routerUrl);

    // The sessions really went to that redis.
    const { sessionId } = await fetchToken(dev.routerUrl);
    expect(sessionId).toBeDefined();
    const client = directClient(redisPort);
    try {
      await eventually(async () => expect(await client.dbsize()).toBeGreaterThan(0));
    } finally {
      client.disconnect();
    }

    expect(await dev.stop()).toBe(0);
    expect(dev.output()).not.toContain(sessionSecret);
    await expectClosed(router, backend, redisPort, restPort);
  }, 60_000);

  describe("with an already-running REST endpoint (--redis-url)", () => {
    let redis: LocalRedis;
    beforeAll(async () => {
      redis = await startLocalRedis();
    });
    afterAll(async () => {
      await redis?.stop();
    });

    it("a fresh wrangler dev recovers a session from redis with the same SESSION_SECRET", async () => {
      const { router, backend } = await ports();
      const sessionSecret = secret();
      const args = ["--port", String(router), "--backend-port", String(backend), "--redis-url", redis.restUrl, `--redis-token=${redis.token}`];
      // (`=`: a base64url token may start with "-", which a separate argument can't.)
      const env = { SESSION_SECRET: sessionSecret };

      const first = await startDev(args, env);
      expect(first.output()).toContain(`sessions in memory + redis via ${redis.restUrl}`);
      const issued = await fetchToken(first.routerUrl);
      expect(issued.token).toMatch(TOKEN);
      const sessionId = issued.sessionId!;
      expect(sessionId).toBeDefined();
      // The external write may finish after the response: wait until it is there.
      const client = directClient(redis.redisPort);
      try {
        await eventually(async () => expect(await client.dbsize()).toBeGreaterThan(0));
      } finally {
        client.disconnect();
      }
      expect(await first.stop()).toBe(0);
      await expectClosed(router, backend);
      for (const text of [sessionSecret, redis.token]) expect(first.output()).not.toContain(text);

      // Same ports, same secret, same redis: a new process, a new isolate, an empty memory tier.
      const second = await startDev(args, env);
      const recovered = await fetchToken(second.routerUrl, sessionId);
      expect(recovered.token).toBe(issued.token);
      expect(recovered.setCookies).toEqual([]);
      expect(recovered.echo.headers.cookie).toBe("other=1");
      const posted = await fetch(`${second.routerUrl}/api/echo`, {
        method: "POST",
        headers: { cookie: `JSESSIONID=${sessionId}`, "x-csrf-token": issued.token! },
        body: "after restart",
      });
      expect(posted.status).toBe(200);
      await posted.body?.cancel();

      expect(await second.stop()).toBe(0);
      await expectClosed(router, backend);
      for (const text of [sessionSecret, redis.token]) expect(second.output()).not.toContain(text);

      // The control: another secret cannot open the stored session, so a new one starts.
      const third = await startDev(args, { SESSION_SECRET: secret() });
      const unknown = await fetchToken(third.routerUrl, sessionId);
      expect(unknown.token).toMatch(TOKEN);
      expect(unknown.token).not.toBe(issued.token);
      expect(unknown.sessionId).toBeDefined();
      expect(unknown.sessionId).not.toBe(sessionId);
      expect(await third.stop()).toBe(0);
    }, 90_000);
  });
});

/** Retry an assertion for a while (bounded), for effects that land after the response. */
async function eventually(check: () => Promise<void>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(50);
    }
  }
}
