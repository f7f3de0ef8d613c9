import { describe, expect, it } from "vitest";
import {
  UNSUPPORTED_VARIABLES,
  unsupportedVariables,
  warnUnsupported,
} from "../../src/config/unsupported-env.js";
import type { Env } from "../../src/env.js";
import { buildIsolate } from "../../src/isolate.js";
import * as customStore from "../../src/stores/no-custom-store.js";

/** What the router supports (or always does) of SAP's variables. */
const SUPPORTED = [
  "UAA_SERVICE_NAME",
  "IAS_SERVICE_NAME",
  "JWT_REFRESH",
  "TENANT_HOST_PATTERN",
  "PRESERVE_FRAGMENT",
  "ENABLE_PERMANENT_AUTHTYPE",
  "LOGOUT_WITH_TOKEN_HINT",
  "XS_BIND_ADDRESS",
  "SESSION_TIMEOUT",
  "SESSION_COOKIE_NAME",
  "SECURE_SESSION_COOKIE",
  "COOKIES",
  "EXT_SESSION_MGT",
  "SEND_XFRAMEOPTIONS",
  "httpHeaders",
  "CORS",
  "WS_ALLOWED_ORIGINS",
  "destinations",
  "VCAP_SERVICES",
  "REMOVE_CLASHING_BACKEND_SESSION_COOKIE",
]; // every other variable the router reads: test/node/migrate.test.ts (init's list, checked against the loader)

describe("SAP variables not supported", () => {
  it("names the ones set, in the list's order, and nothing else", () => {
    const env = {
      SVC2AR_DIRECT_EXT_SESSION_ID_USAGE: "true",
      PKCE_ENABLED: "false",
      JWT_REFRESH: "5",
      TENANT_HOST_PATTERN: "^(.*)-router.example.com$",
      XSUAA_PRIVATE_KEY: "-----BEGIN PRIVATE KEY-----x",
      SOMETHING_ELSE: "1",
      ENABLE_FRAME_ANCESTORS_CSP_HEADERS: "true",
      SAAS_APPROUTER: "true",
    };
    expect(unsupportedVariables(env)).toEqual([
      "XSUAA_PRIVATE_KEY",
      "PKCE_ENABLED",
      "SVC2AR_DIRECT_EXT_SESSION_ID_USAGE",
      "ENABLE_FRAME_ANCESTORS_CSP_HEADERS",
      "SAAS_APPROUTER",
    ]);
  });

  it("blank counts as unset (as for every variable the router reads); false and 0 count as set", () => {
    expect(
      unsupportedVariables({ PKCE_ENABLED: "", OMIT_LOGIN_CSP: "  ", MINIMUM_TOKEN_VALIDITY: undefined }),
    ).toEqual([]);
    expect(unsupportedVariables({ PKCE_ENABLED: false, MINIMUM_TOKEN_VALIDITY: 0 })).toEqual([
      "PKCE_ENABLED",
      "MINIMUM_TOKEN_VALIDITY",
    ]);
  });

  it("lists no supported variable, no name twice, a reason for each", () => {
    const names = UNSUPPORTED_VARIABLES.map((v) => v.name);
    expect(names.filter((n) => SUPPORTED.includes(n))).toEqual([]);
    expect(new Set(names).size).toBe(names.length);
    for (const v of UNSUPPORTED_VARIABLES) expect(v.reason.length, v.name).toBeGreaterThan(10);
  });

  it("warns in one line with names only, never values; silent when none is set", () => {
    const lines: [string, Record<string, unknown>][] = [];
    warnUnsupported({ STATE_PARAMETER_SECRET: "s3cr3t-value", IAS_PRIVATE_KEY: "key-material" }, (e, f) =>
      lines.push([e, f]),
    );
    expect(lines).toEqual([
      ["config.unsupported.warn", { variables: ["IAS_PRIVATE_KEY", "STATE_PARAMETER_SECRET"] }],
    ]);
    expect(JSON.stringify(lines)).not.toMatch(/s3cr3t|key-material/);
    const none: unknown[] = [];
    warnUnsupported({ JWT_REFRESH: "5" }, (e) => none.push(e));
    expect(none).toEqual([]);
  });

  it("is logged once at start-up, next to config.loaded", async () => {
    const events: { event: string; fields?: Record<string, unknown> }[] = [];
    const env = {
      destinations: JSON.stringify([{ name: "backend", url: "http://backend.invalid" }]),
      OMIT_LOGIN_CSP: "true",
      PLATFORM_COOKIE_NAME: "VCAP_ID",
    } as Env;
    const state = await buildIsolate(env, {
      bundledXsApp: { routes: [{ source: "^/", destination: "backend", authenticationType: "none" }] },
      customStore,
      fetch: async () => new Response(null, { status: 599 }),
      now: Date.now,
      log: (event, fields) => events.push({ event, ...(fields ? { fields } : {}) }),
    });
    expect(state.kind).toBe("ready");
    const names = events.map((e) => e.event);
    expect(names.filter((n) => n === "config.unsupported.warn")).toHaveLength(1);
    expect(names.indexOf("config.unsupported.warn")).toBe(names.indexOf("config.loaded") - 1);
    expect(events.find((e) => e.event === "config.unsupported.warn")!.fields).toEqual({
      variables: ["OMIT_LOGIN_CSP", "PLATFORM_COOKIE_NAME"],
    });
  });
});
