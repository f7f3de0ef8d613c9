import fc from "fast-check";
import { parse } from "hono/utils/cookie";
import { describe, expect, it } from "vitest";
import { cookieValue } from "../../src/http/cookie-value.js";

/** What `parse(header, name)[name]` answers: `cookieValue` must answer the same, always. */
const oracle = (header: string, name: string) => parse(header, name)[name];

// Pieces that meet every rule: the name (also as a prefix or suffix of others), spaces and
// tabs, quotes, valid and malformed percent sequences, characters a value may not hold.
const piece = fc.constantFrom(
  "JSESSIONID",
  "JSESSIONID_sync",
  "XJSESSIONID",
  "a",
  "=",
  ";",
  " ",
  "\t",
  '"',
  "%41",
  "%E2%82%AC",
  "%",
  "%G1",
  "%E2%82",
  ",",
  "\\",
  "abc",
  "x-y.z",
  "ü",
  "\u00a0",
  "\u000b",
);
const header = fc.array(piece, { maxLength: 14 }).map((parts) => parts.join(""));

describe("cookieValue", () => {
  it("answers what Hono's parse answers, on generated headers", () => {
    fc.assert(
      fc.property(header, fc.constantFrom("JSESSIONID", "JSESSIONID_sync", "a"), (h, name) => {
        expect(cookieValue(h, name)).toBe(oracle(h, name));
      }),
      { numRuns: 20_000 },
    );
  });

  it.each([
    ["JSESSIONID=abc", "abc"],
    ["a=1; JSESSIONID=abc; b=2", "abc"],
    [" \tJSESSIONID = abc \t;", "abc"],
    ['JSESSIONID="abc"', "abc"],
    ["JSESSIONID=a%20b", "a b"],
    ["JSESSIONID=a%E2%82%ACb%G1", "a€b%G1"],
    ["JSESSIONID=bad\\value; JSESSIONID=good", "good"],
    ["JSESSIONID=first; JSESSIONID=second", "first"],
    ["XJSESSIONID=other", undefined],
    ["JSESSIONID", undefined],
    ["", undefined],
  ])("%j → %j", (h, expected) => {
    expect(cookieValue(h, "JSESSIONID")).toBe(expected);
    expect(oracle(h, "JSESSIONID")).toBe(expected);
  });
});
