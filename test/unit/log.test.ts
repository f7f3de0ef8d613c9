import { describe, expect, it } from "vitest";
import { errorFields } from "../../src/log.js";

describe("errorFields", () => {
  it("keeps a library's stable code with the name", () => {
    const jose = Object.assign(new Error("signature verification failed for kid=k1"), {
      code: "ERR_JWS_SIGNATURE_VERIFICATION_FAILED",
    });
    expect(errorFields(jose)).toEqual({ name: "Error", code: "ERR_JWS_SIGNATURE_VERIFICATION_FAILED" });
    expect(errorFields(Object.assign(new TypeError("x"), { code: "OAUTH_RESPONSE_IS_NOT_JSON" }))).toEqual({
      name: "TypeError",
      code: "OAUTH_RESPONSE_IS_NOT_JSON",
    });
  });

  it("drops a code that is not one (free text, numbers, too long) and never returns the message", () => {
    for (const code of ["user alice not found", 401, "lower_case", `E${"X".repeat(70)}`, "", null]) {
      const fields = errorFields(Object.assign(new Error("message with data"), { code }));
      expect(fields).toEqual({ name: "Error" });
    }
  });

  it("names anything thrown that is not an Error 'unknown'", () => {
    expect(errorFields("a string")).toEqual({ name: "unknown" });
    expect(errorFields({ code: "ERR_X" })).toEqual({ name: "unknown" });
    expect(errorFields(undefined)).toEqual({ name: "unknown" });
  });
});
