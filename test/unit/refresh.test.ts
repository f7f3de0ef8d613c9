import { describe, expect, it } from "vitest";
import type { AuthData } from "../../src/auth/auth-data.js";
import { ProviderError, type IdentityProvider, type TokenSet } from "../../src/auth/provider.js";
import { ensureFreshTokens, refreshMargin } from "../../src/auth/refresh.js";
import { newAuthMetrics, type AuthServices } from "../../src/auth/services.js";
import type { LoginSettings } from "../../src/config/types.js";
import type { Session } from "../../src/session/manager.js";

/**
 * The refresh decision, with the store and the provider as scripted fakes (the timing-free
 * counterpart of test/node/auth-resilience.test.ts and xsuaa-login.test.ts).
 */
const NOW = 1_000_000;
const LOGIN: LoginSettings = {
  refreshBeforeMs: 300_000,
  preserveFragment: true,
  authTypeInRedirect: false,
  logoutWithTokenHint: false,
  xsa: false,
  defaultAuthenticationType: "xsuaa",
};

function auth(over: Partial<AuthData> = {}): AuthData {
  return {
    idp: "xsuaa",
    iss: "i",
    sub: "s",
    accessToken: "old-at",
    refreshToken: "old-rt",
    expiresAt: NOW + 30_000,
    lifetimeMs: 600_000,
    scopes: ["a"],
    user: {},
    ...over,
  };
}
const sessionWith = (a: AuthData): Session => {
  const record = { v: 1 as const, iat: 0, exp: NOW + 3_600_000, data: { auth: a } };
  return { id: "sid", record, isNew: false, base: record };
};

interface Script {
  lease: boolean | "unavailable";
  /** What reread() gives: a newer auth, "missing", or "unavailable". */
  stored: AuthData | "missing" | "unavailable";
  refresh?: () => Promise<TokenSet>;
}

function setup(script: Script) {
  const calls = { refresh: 0, commits: 0 };
  const storedSession = () => (typeof script.stored === "object" ? sessionWith(script.stored) : null);
  const services = {
    providers: new Map(),
    loginKey: new Uint8Array(32),
    manager: {
      reread: async () => storedSession(),
      commit: async () => {
        calls.commits++;
        return "written";
      },
    },
    external: {
      read: async () => ({
        kind:
          script.stored === "missing" ? "missing" : script.stored === "unavailable" ? "unavailable" : "found",
      }),
      acquireLease: async () => script.lease,
      renewLease: async () => undefined,
      releaseLease: async () => undefined,
    },
    local: { used: new Map(), leases: new Map() },
    cookieName: "JSESSIONID",
    callbackPath: "/login/callback",
    login: LOGIN,
    now: () => NOW,
    sleep: async () => undefined,
    log: () => undefined,
    metrics: newAuthMetrics(),
  } as unknown as AuthServices;
  const provider = {
    refresh: async () => {
      calls.refresh++;
      if (!script.refresh) throw new Error("no refresh expected");
      return script.refresh();
    },
  } as unknown as IdentityProvider;
  return { services, provider, calls };
}

const refused = () =>
  Promise.reject(
    new ProviderError("rejected", "refresh", "HTTP 400", "https://uaa/oauth/token", "invalid_grant"),
  );
const down = () =>
  Promise.reject(new ProviderError("unavailable", "refresh", "refused", "https://uaa/oauth/token"));

describe("ensureFreshTokens", () => {
  it("a waiter that cannot read the store keeps the session and serves the valid token", async () => {
    const { services, provider, calls } = setup({ lease: false, stored: "unavailable" });
    const session = sessionWith(auth());
    expect(await ensureFreshTokens(session, provider, services, () => undefined)).toBe("fresh");
    expect(calls.refresh).toBe(0);
    expect((session.record.data!.auth as AuthData).accessToken).toBe("old-at");
  });

  it("a waiter ends the session only when the store says it is gone", async () => {
    const { services, provider } = setup({ lease: false, stored: "missing" });
    expect(await ensureFreshTokens(sessionWith(auth()), provider, services, () => undefined)).toBe("ended");
  });

  it("a waiter adopts the tokens another isolate stored", async () => {
    const { services, provider, calls } = setup({
      lease: false,
      stored: auth({ accessToken: "new-at", expiresAt: NOW + 600_000 }),
    });
    const session = sessionWith(auth());
    expect(await ensureFreshTokens(session, provider, services, () => undefined)).toBe("fresh");
    expect((session.record.data!.auth as AuthData).accessToken).toBe("new-at");
    expect(calls.refresh).toBe(0);
  });

  it("a refresh answer without refresh_token keeps the old one; scopes only change when the answer names them", async () => {
    const { services, provider, calls } = setup({
      lease: true,
      stored: auth(),
      refresh: async () => ({ accessToken: "new-at", expiresInS: 600 }),
    });
    const session = sessionWith(auth());
    expect(await ensureFreshTokens(session, provider, services, () => undefined)).toBe("fresh");
    const next = session.record.data!.auth as AuthData;
    expect([next.accessToken, next.refreshToken, next.scopes]).toEqual(["new-at", "old-rt", ["a"]]);
    expect(calls.commits).toBe(1);
  });

  it.each([
    {
      name: "refused, holding the lease",
      script: { lease: true, stored: auth(), refresh: refused },
      expected: "ended",
    },
    {
      name: "refused without the lease, the store unreadable",
      script: { lease: "unavailable" as const, stored: "unavailable" as const, refresh: refused },
      expected: "fresh",
    },
    {
      name: "refused without the lease, the store has newer tokens",
      script: { lease: "unavailable" as const, stored: auth({ expiresAt: NOW + 600_000 }), refresh: refused },
      expected: "fresh",
    },
    {
      name: "provider down, token still valid",
      script: { lease: true, stored: auth(), refresh: down },
      expected: "fresh",
    },
  ])("$name → $expected", async ({ script, expected }) => {
    const { services, provider } = setup(script as Script);
    expect(await ensureFreshTokens(sessionWith(auth()), provider, services, () => undefined)).toBe(expected);
  });

  it("provider down and the token expired: unavailable, never ended", async () => {
    const expired = auth({ expiresAt: NOW - 1 });
    const { services, provider } = setup({ lease: true, stored: expired, refresh: down });
    expect(await ensureFreshTokens(sessionWith(expired), provider, services, () => undefined)).toBe(
      "unavailable",
    );
  });

  it("JWT_REFRESH sets the margin, at most a quarter of the token's lifetime; 0 waits for expiry", () => {
    expect(refreshMargin(auth({ lifetimeMs: 12 * 3600_000 }), 300_000)).toBe(300_000);
    expect(refreshMargin(auth({ lifetimeMs: 600_000 }), 300_000)).toBe(150_000);
    expect(refreshMargin(auth(), 0)).toBe(0);
  });
});
