import { describe, expect, it } from "vitest";
import {
  configurationInvalidPage,
  ERROR_CODES,
  errorPage,
  isLocalDevelopment,
} from "../../src/http/pages.js";

describe("errorPage", () => {
  it.each(ERROR_CODES)("%s: a heading, a sentence, what to try and the code; no bare code", async (code) => {
    const res = errorPage(400, code);
    const body = await res.text();
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(body).toMatch(/<h1>[A-Z][^<]{3,}<\/h1><p>[A-Z][^<]{15,}[.!]<\/p>/);
    expect(body).toMatch(/<\/p><p>[A-Z][^<]{5,}<\/p>/); // the hint
    expect(body).toContain(`Error code: <code>${code}</code>`);
    expect(body).not.toMatch(new RegExp(`<h1>${code}`));
  });

  it("LOGIN_FAILED says sign-in failed and links to try again", async () => {
    const body = await errorPage(401, "LOGIN_FAILED").text();
    expect(body).toContain("Sign-in was cancelled or failed.");
    expect(body).toMatch(/<a class="action" href="\/">Sign in again<\/a>/);
  });

  it("escapes what it shows", async () => {
    const body = await errorPage(
      503,
      "CONFIGURATION_INVALID",
      {},
      { details: ['XS_APP.routes[0]["<script>"]: unknown property'] },
    ).text();
    expect(body).not.toContain("<script>");
    expect(body).toContain("&#60;script&#62;");
  });
});

describe("CONFIGURATION_INVALID", () => {
  const problems = [
    "destinations[0].url: must be an absolute http(s) URL",
    'xs-app.json.routes[0].authenticationtype: unknown property; did you mean "authenticationType"?',
  ];

  it.each([
    "http://127.0.0.1:8787/x",
    "http://localhost:8787/",
    "http://[::1]:8787/",
    "http://app.localhost/",
  ])("lists the problems in local development (%s)", async (url) => {
    const body = await configurationInvalidPage(new Request(url), {}, problems).text();
    for (const p of problems) expect(body).toContain(p.replace(/"/g, "&#34;"));
    expect(body).toContain("CONFIGURATION_INVALID");
  });

  it("lists them when APPROUTER_DEV=true whatever the host", async () => {
    expect(isLocalDevelopment(new Request("https://router.example/"), { APPROUTER_DEV: "true" })).toBe(true);
    const body = await configurationInvalidPage(
      new Request("https://router.example/"),
      { APPROUTER_DEV: "true" },
      problems,
    ).text();
    expect(body).toContain("must be an absolute http(s) URL");
  });

  it.each(["https://router.example/", "https://127.0.0.1.example.com/", "http://10.0.0.1/"])(
    "deployed (%s): no problems on the page, a pointer to the log",
    async (url) => {
      const res = configurationInvalidPage(new Request(url), { APPROUTER_DEV: "false" }, problems);
      expect(res.status).toBe(503);
      const body = await res.text();
      expect(body).not.toContain("destinations[0]");
      expect(body).not.toContain("authenticationtype");
      expect(body).toContain("wrangler tail");
    },
  );
});
