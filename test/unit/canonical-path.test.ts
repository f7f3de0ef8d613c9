import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { canonicalizePath, canonicalizeSegments } from "../../src/routing/canonical-path.js";

describe("canonicalizePath: accepted spellings", () => {
  it.each([
    ["/", "/"],
    ["/api/admin/users", "/api/admin/users"],
    ["/api/%61dmin/users", "/api/admin/users"], // unreserved decoded
    ["/api/%41%5a%30%2D%2e%5F%7E", "/api/AZ0-._~"],
    ["/a/%2e%2e%2e", "/a/..."], // three dots are a name, not a dot segment
    ["/a/b%20c", "/a/b%20c"], // reserved or other: kept encoded
    ["/a/%3f%23%25%3b%2c", "/a/%3F%23%25%3B%2C"], // hex case normalised
    ["/a/%c3%a4", "/a/%C3%A4"], // valid UTF-8 kept encoded, upper-case
    ["/a/%F0%9F%98%80", "/a/%F0%9F%98%80"],
    ["/a//b///c", "/a/b/c"], // empty segments merged
    ["//evil.example/x", "/evil.example/x"],
    ["/a/", "/a/"], // trailing slash kept
    ["//", "/"],
    ["/a/b c", "/a/b%20c"], // raw characters a URL parser encodes: encoded the same way
    ["/a/ä", "/a/%C3%A4"],
    ["/a/|[]!$&'()*+,=:@", "/a/|[]!$&'()*+,=:@"], // sub-delims and the rest stay raw
    ["/%252e%252e/x", "/%252e%252e/x"], // an encoded '%' stays encoded (no double decoding)
  ])("%j → %j", (raw, path) => {
    expect(canonicalizePath(raw)).toEqual({ ok: true, path });
  });

  it.each([
    [
      "/sap/opu/odata/sap/ZSRV;v=2/Items",
      "/sap/opu/odata/sap/ZSRV;v=2/Items",
      "/sap/opu/odata/sap/ZSRV/Items",
    ],
    ["/api/admin;a=b/users", "/api/admin;a=b/users", "/api/admin/users"],
    ["/a/;x/b", "/a/;x/b", "/a/b"],
    ["/a;x/", "/a;x/", "/a/"],
    ["/;x", "/;x", "/"],
  ])("path parameters: %j → %j (read as %j by a backend that strips them)", (raw, path, withoutParams) => {
    expect(canonicalizePath(raw)).toEqual({ ok: true, path, withoutParams });
  });
});

describe("canonicalizePath: refused spellings", () => {
  it.each([
    ["a/b", "not-absolute"],
    ["", "not-absolute"],
    ["/public/..;/admin/users", "dot-segment"],
    ["/public/.;x/admin", "dot-segment"],
    ["/public/..%3Bx/admin", "dot-segment"],
    ["/a/../b", "dot-segment"],
    ["/a/./b", "dot-segment"],
    ["/a/..", "dot-segment"],
    ["/a/%2e%2e/b", "dot-segment"],
    ["/a/%2E%2e/b", "dot-segment"],
    ["/a/.%2e/b", "dot-segment"],
    ["/a/%2e./b", "dot-segment"],
    ["/a/%2e/b", "dot-segment"],
    ["/api/admin%2Fusers", "encoded-slash"],
    ["/api/admin%2fusers", "encoded-slash"],
    ["/a/..%2fb", "encoded-slash"],
    ["/a%5Cb", "backslash"],
    ["/a%5cb", "backslash"],
    ["/a\\b", "backslash"],
    ["/a/%zz", "malformed-escape"],
    ["/a/%2", "malformed-escape"],
    ["/a/%", "malformed-escape"],
    ["/a/%u002e", "malformed-escape"],
    ["/a/%C0%AE%C0%AE/b", "invalid-utf8"], // overlong '.'
    ["/a/%E0%80%AE", "invalid-utf8"], // overlong '.'
    ["/a/%C0%AF", "invalid-utf8"], // overlong '/'
    ["/a/%C3", "invalid-utf8"], // truncated
    ["/a/%C3%41", "invalid-utf8"],
    ["/a/%ED%A0%80", "invalid-utf8"], // a surrogate
    ["/a/%F4%90%80%80", "invalid-utf8"], // beyond U+10FFFF
    ["/a/%FF", "invalid-utf8"],
    ["/a/\ud800", "invalid-utf8"],
    ["/a/%00", "control-character"],
    ["/a/%0d%0a", "control-character"],
    ["/a/%7F", "control-character"],
    ["/a/%C2%85", "control-character"], // C1 (NEL)
    ["/a/\u0000", "control-character"],
    ["/a/\t", "control-character"],
    ["/a/\u0085", "control-character"],
  ])("%j is refused (%s)", (raw, reason) => {
    expect(canonicalizePath(raw)).toEqual({ ok: false, reason });
  });
});

/** Path characters and escapes an attacker would try, in any mix. */
const pathPiece = fc.oneof(
  fc.constantFrom(
    "/",
    "//",
    ".",
    "..",
    ";",
    ";a=b",
    "%2e",
    "%2E",
    "%2f",
    "%5c",
    "\\",
    "%61",
    "%41",
    "%7e",
    "%25",
    "%3b",
    "%00",
    "%c3%a4",
    "%C0%AE",
    "%e2%82",
    "%",
    "~",
    "-",
    " ",
    "ä",
    "|",
    "^",
    "{",
  ),
  fc.stringMatching(/^[a-z0-9]{1,4}$/),
);
const rawPath = fc.array(pathPiece, { maxLength: 12 }).map((pieces) => `/${pieces.join("")}`);

describe("canonicalizePath: properties", () => {
  it("is idempotent, and its output is a URL path workerd's parser leaves unchanged", () => {
    fc.assert(
      fc.property(rawPath, (raw) => {
        const first = canonicalizePath(raw);
        if (!first.ok) return;
        expect(canonicalizePath(first.path)).toEqual(first);
        expect(new URL(`https://router.test${first.path}`).pathname).toBe(first.path);
      }),
      { numRuns: 2000 },
    );
  });

  it("the fast path for plain paths agrees with the full reading", () => {
    fc.assert(
      fc.property(
        fc.oneof(rawPath, fc.stringMatching(/^(\/[a-z.;%~!$&'()*+,=:@-]{0,4}){0,6}\/?$/)),
        (raw) => {
          expect(canonicalizePath(raw)).toEqual(canonicalizeSegments(raw));
        },
      ),
      { numRuns: 3000 },
    );
  });

  it("never outputs a dot segment, an encoded slash or backslash, a control character or a malformed escape", () => {
    fc.assert(
      fc.property(rawPath, (raw) => {
        const result = canonicalizePath(raw);
        if (!result.ok) return;
        const decodedSegments = result.path.split("/").map((s) => decodeURIComponent(s));
        for (const s of decodedSegments) {
          expect(s).not.toMatch(/^\.\.?(;.*)?$/);
          expect(s).not.toMatch(/[\\/\u0000-\u001f\u007f-\u009f]/);
        }
        expect(result.path).not.toMatch(/\/\/|%(?![0-9A-F]{2})/);
      }),
      { numRuns: 2000 },
    );
  });
});

/** What workerd's own URL parser does before the router sees a path (docs/path-canonicalization.md). */
describe("workerd's URL parser (measured, not relied on)", () => {
  it.each([
    ["/a/../b", "/b"],
    ["/a/%2e%2e/b", "/b"], // %2e-spelled dot segments are resolved too
    ["/a/.%2E/b", "/b"],
    ["/a/%2e/b", "/a/b"],
    ["/a\\b", "/a/b"], // raw backslash is a separator
    ["/a/..;/b", "/a/..;/b"], // not a dot segment to the parser
    ["/a//b", "/a//b"],
    ["/a/%61%2F%5C%zz", "/a/%61%2F%5C%zz"], // escapes left alone, malformed ones included
    ["/a/b c^{}`", "/a/b%20c%5E%7B%7D%60"],
    ["/a/\u0000b", "/a/%00b"], // a trailing one would be stripped with the URL's surrounding C0 and spaces
  ])("new URL(…%s).pathname is %s", (path, pathname) => {
    expect(new URL(`https://router.test${path}`).pathname).toBe(pathname);
  });
});
