import { describe, expect, it } from "vitest";
import { runtimeAbortsRequestSignal } from "../../src/http/request-signal.js";

describe("runtimeAbortsRequestSignal", () => {
  it("reads workerd's compatibility flags: this test runtime has no enable_request_signal", () => {
    const flags = (globalThis as { Cloudflare?: { compatibilityFlags?: Record<string, boolean> } }).Cloudflare
      ?.compatibilityFlags;
    expect(flags?.enable_request_signal).toBe(false); // the global is there, the flag is off
    expect(runtimeAbortsRequestSignal()).toBe(false);
  });

  it.each([
    ["the flag on", { Cloudflare: { compatibilityFlags: { enable_request_signal: true } } }, true],
    ["the flag off", { Cloudflare: { compatibilityFlags: { enable_request_signal: false } } }, false],
    ["flags without it", { Cloudflare: { compatibilityFlags: { nodejs_compat: true } } }, false],
    ["no flags exposed", { Cloudflare: {} }, true],
    ["not workerd (no Cloudflare global)", {}, true],
  ])("%s → %s", (_, scope, expected) => {
    expect(runtimeAbortsRequestSignal(scope)).toBe(expected);
  });
});
