import { base64url } from "jose";
import { describe, expect, it } from "vitest";
import { newSessionId } from "../../src/session/id.js";
import { KeyRing } from "../../src/session/keyring.js";
import { newRecord } from "../../src/session/record.js";
import { namesNewerWrite, remember, SyncCookie, syncCookieName } from "../../src/session/sync-token.js";
import { SECRET_A, SECRET_B, SECRET_C } from "../support/secrets.js";

describe("sync cookie", () => {
  it("round-trips a token with the time of its write, bound to the session id", async () => {
    const cookie = new SyncCookie(await KeyRing.create([SECRET_A]));
    const id = newSessionId();
    const value = (await cookie.seal(id, "1234", 1_764_000_000_000))!;
    expect(value).toMatch(/^[0-9a-z]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    expect(await cookie.open(id, value)).toEqual({ after: "1234", at: 1_764_000_000_000 });
    expect(await cookie.open(newSessionId(), value)).toEqual({}); // another session's
    expect(syncCookieName("JSESSIONID")).toBe("JSESSIONID_SYNC");
  });

  it("opaque tokens of any text survive; empty or oversized ones are not carried", async () => {
    const cookie = new SyncCookie(await KeyRing.create([SECRET_A]));
    const id = newSessionId();
    for (const token of ["eyJ0IjoxfQ==", 'a b;c,d"é', "x".repeat(256)]) {
      expect(await cookie.open(id, await cookie.seal(id, token, 5))).toEqual({ after: token, at: 5 });
    }
    expect(await cookie.seal(id, "", 5)).toBeUndefined();
    expect(await cookie.seal(id, "x".repeat(257), 5)).toBeUndefined();
  });

  it("refuses every change: token, time, MAC, shape, and keys it does not hold", async () => {
    const ring = await KeyRing.create([SECRET_A]);
    const cookie = new SyncCookie(ring);
    const id = newSessionId();
    const value = (await cookie.seal(id, "1234", 1000))!;
    const [at, token, mac] = value.split(".") as [string, string, string];
    const forged = [
      `${at}.${base64url.encode("9999")}.${mac}`, // skip ahead
      `${(2000).toString(36)}.${token}.${mac}`, // claim a newer write
      `${at}.${token}.${mac.slice(0, -1)}${mac.endsWith("A") ? "B" : "A"}`,
      `${at}.${token}`,
      `${at}.${token}.${mac}.x`,
      "",
      "....",
      "x".repeat(600),
    ];
    for (const f of forged) expect(await cookie.open(id, f)).toEqual({});
    expect(await cookie.open(id, undefined)).toEqual({});
    expect(await new SyncCookie(await KeyRing.create([SECRET_C])).open(id, value)).toEqual({});
    // During a rotation a cookie sealed with the previous secret still opens.
    expect(await new SyncCookie(await KeyRing.create([SECRET_B, SECRET_A])).open(id, value)).toEqual({
      after: "1234",
      at: 1000,
    });
  });
});

describe("newest write wins in an isolate", () => {
  it("a request naming a newer write revalidates; an older one is moved up to what the copy reflects", () => {
    const record = newRecord(0, 1000);
    expect(namesNewerWrite(record, { after: "5", at: 10 })).toBe(true); // nothing known of this copy
    remember(record, { after: "5", at: 10 });
    expect(namesNewerWrite(record, { after: "5", at: 10 })).toBe(false);
    expect(namesNewerWrite(record, { after: "9", at: 20 })).toBe(true);
    const older = { after: "3", at: 5 };
    expect(namesNewerWrite(record, older)).toBe(false);
    expect(older).toEqual({ after: "5", at: 10 }); // its reads go no further back than the copy
    const none = {};
    expect(namesNewerWrite(record, none)).toBe(false);
    expect(none).toEqual({ after: "5", at: 10 });
    remember(record, { after: "3", at: 5 }); // an older write never replaces a newer one
    expect(namesNewerWrite(record, { after: "5", at: 10 })).toBe(false);
    expect(namesNewerWrite(record, undefined)).toBe(false);
  });
});
