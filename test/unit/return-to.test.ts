import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { safeReturnTo } from "../../src/auth/return-to.js";

describe("safeReturnTo", () => {
  it.each([
    ["/app/page?x=1#top", "/app/page?x=1#top"],
    ["/", "/"],
    [undefined, "/"],
    ["", "/"],
    ["https://evil.example/", "/"],
    ["//evil.example", "/"],
    ["/\\evil.example", "/"],
    ["/.//evil.example", "/"], // normalises to //evil.example
    ["/./\\evil.example", "/"],
    ["/a/..//evil.example/x", "/"],
    ["/%2e//evil.example", "/"],
    ["/a/../b", "/b"],
    ["/\t/evil.example", "/"],
    ["javascript:alert(1)", "/"],
  ])("%j → %j", (candidate, expected) => {
    expect(safeReturnTo(candidate)).toBe(expected);
  });

  it("never returns an absolute or protocol-relative URL, or anything a browser reads as another origin", () => {
    const piece = fc.constantFrom(
      "/",
      "//",
      "\\",
      ".",
      "..",
      "%2e",
      "%2f",
      "%5c",
      "evil.example",
      "a",
      "?",
      "#",
      ":",
      "@",
      "https:",
      "\t",
      " ",
      "%00",
    );
    const candidate = fc.oneof(
      fc.string(),
      fc.array(piece, { maxLength: 10 }).map((p) => p.join("")),
    );
    fc.assert(
      fc.property(candidate, (input) => {
        const out = safeReturnTo(input);
        expect(out.startsWith("/")).toBe(true);
        expect(out).not.toMatch(/^\/[/\\]/);
        expect(out).not.toMatch(/[\u0000-\u001f\u007f\\]/);
        // As a browser resolves a Location header against the router's origin.
        expect(new URL(out, "https://router.example").origin).toBe("https://router.example");
      }),
      { numRuns: 5000 },
    );
  });
});
