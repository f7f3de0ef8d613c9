import { describe, expect, it } from "vitest";
import { formatProblems, loadConfig } from "../../src/config/index.js";
import type { RouteConfig } from "../../src/config/types.js";
import { createHtml5Router } from "../../src/html5/index.js";
import { html5RuntimeBinding } from "../support/html5-binding.js";

/**
 * UIs of business services in the HTML5 application repository (SAP: an app key prefix that
 * names a bound business service; its `html5-apps-repo.app_host_id` goes along as
 * `x-app-host-id`, and `$XSAPPNAME` in its apps' scopes is the service's xsappname).
 */
const SECRET = "s3cret-VALUE-never-shown";
const TOKEN = "token-VALUE-never-logged";
const URI = "https://html5-apps-repo-rt.cfapps.eu10.hana.ondemand.com/applications/content";
const UAA = "https://sub.authentication.eu10.hana.ondemand.com";

const runtime = html5RuntimeBinding({ uri: URI, uaaUrl: UAA, secret: SECRET });
const businessService = (name: string, appHostId: unknown, extra: Record<string, unknown> = {}) => ({
  label: "books-service",
  name,
  tags: ["books"],
  credentials: {
    "sap.cloud.service": "com.sap.books",
    "html5-apps-repo": { app_host_id: appHostId },
    uaa: { xsappname: "books!b77", clientid: "sb-books", clientsecret: SECRET },
    ...extra,
  },
});
const CENTRAL = {
  routes: [{ source: "^(.*)$", target: "$1", service: "html5-apps-repo-rt", authenticationType: "none" }],
};

const xsuaa = {
  label: "xsuaa",
  name: "uaa",
  tags: ["xsuaa"],
  credentials: { url: UAA, clientid: "sb-app", clientsecret: SECRET, xsappname: "app!t1" },
};

function load(services: Record<string, unknown[]>, xsApp: unknown = CENTRAL) {
  return loadConfig({ VCAP_SERVICES: JSON.stringify({ xsuaa: [xsuaa], ...services }) } as never, xsApp);
}

/** The repository behind a fake fetch; every call with its x-app-host-id. */
function setup(answers: Record<string, Record<string, () => Response>>) {
  const loaded = load({
    "html5-apps-repo": [runtime],
    "books-service": [businessService("books", "host-1,host-2")],
  });
  if (!loaded.ok) throw new Error(formatProblems(loaded.problems));
  const calls: { path: string; appHostId: string | null }[] = [];
  const fetch = (async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    if (request.url === `${UAA}/oauth/token`)
      return Response.json({ access_token: TOKEN, token_type: "bearer", expires_in: 3600 });
    const path = request.url.slice(URI.length);
    const appHostId = request.headers.get("x-app-host-id");
    calls.push({ path, appHostId });
    const answer = answers[appHostId ?? ""]?.[path];
    return answer ? answer() : new Response("no such app", { status: 503 });
  }) as typeof globalThis.fetch;
  const router = createHtml5Router({
    binding: loaded.config.html5Repo!,
    config: loaded.config,
    fetch,
    now: Date.now,
    log: () => {},
  });
  return { router, calls };
}

const request = (path: string, headers: Record<string, string> = {}) =>
  new Request(`https://router.test${path}`, { headers });
const noWait = () => {};
const html5Route: RouteConfig = {
  source: /^(.*)$/,
  destination: "",
  authenticationType: "none",
  csrfProtection: false,
  service: "html5-apps-repo-rt",
};
const appXsApp = {
  routes: [
    {
      source: "^/admin/(.*)$",
      target: "/admin/$1",
      service: "html5-apps-repo-rt",
      authenticationType: "xsuaa",
      scope: "$XSAPPNAME.Admin",
    },
    { source: "^(.*)$", target: "$1", service: "html5-apps-repo-rt", authenticationType: "none" },
  ],
};

describe("business-service UIs in the HTML5 application repository", () => {
  it("the prefix names the bound business service: xs-app.json and files with its x-app-host-id", async () => {
    const { router, calls } = setup({
      "host-1,host-2": {
        "/manage/xs-app.json": () => Response.json(appXsApp),
        "/manage/index.html": () => new Response("business UI"),
      },
      "": { "/manage/xs-app.json": () => Response.json(CENTRAL) },
    });
    const selection = await router.select(request("/comsapbooks.manage/index.html"), noWait);
    expect(selection).toMatchObject({
      kind: "app",
      pathname: "/index.html",
      key: { appPrefix: "comsapbooks" },
    });
    const file = await router.serve(
      request("/comsapbooks.manage/index.html", { "x-app-host-id": "spoofed" }),
      html5Route,
      "/index.html",
      selection,
    );
    expect(await file.text()).toBe("business UI");
    // The tag names it too; an unprefixed key is the router's own app, without the header.
    await router.select(request("/books.manage/index.html"), noWait);
    await router.select(request("/manage/index.html"), noWait);
    expect(calls).toEqual([
      { path: "/manage/xs-app.json", appHostId: "host-1,host-2" },
      { path: "/manage/index.html", appHostId: "host-1,host-2" },
      { path: "/manage/xs-app.json", appHostId: null },
    ]);
  });

  it("$XSAPPNAME in the app's scopes is the business service's xsappname", async () => {
    const { router } = setup({ "host-1,host-2": { "/manage/xs-app.json": () => Response.json(appXsApp) } });
    const selection = await router.select(request("/comsapbooks.manage/admin/x"), noWait);
    expect(selection.kind === "app" && selection.routes[0]!.scope).toEqual({ default: ["books!b77.Admin"] });
  });

  it("a prefix no business service has routes centrally, without a call", async () => {
    const { router, calls } = setup({});
    expect(await router.select(request("/comsapother.manage/index.html"), noWait)).toEqual({
      kind: "central",
    });
    expect(calls).toEqual([]);
  });

  it("bindings: a missing or odd app_host_id and a name two services claim are named by path, without secrets", () => {
    const result = load({
      "html5-apps-repo": [runtime],
      "books-service": [
        businessService("books", "host-1"),
        businessService("books-again", "host-2"),
        businessService("broken", undefined, { "sap.cloud.service": "com.sap.broken" }),
        businessService("evil", "a\r\nb", { "sap.cloud.service": "com.sap.evil" }),
      ],
    });
    expect(result.ok).toBe(false);
    const text = result.ok ? "" : formatProblems(result.problems);
    expect(text.split("\n").sort()).toEqual(
      [
        'VCAP_SERVICES.books-service[1]: names the business service "comsapbooks" as VCAP_SERVICES.books-service[0] does (one is supported)',
        'VCAP_SERVICES.books-service[1]: names the business service "books" as VCAP_SERVICES.books-service[0] does (one is supported)',
        "VCAP_SERVICES.books-service[2].credentials.html5-apps-repo.app_host_id: must be the business service's app host id(s) (letters, digits, -, comma-separated)",
        "VCAP_SERVICES.books-service[3].credentials.html5-apps-repo.app_host_id: must be the business service's app host id(s) (letters, digits, -, comma-separated)",
      ].sort(),
    );
    expect(text).not.toContain(SECRET);
    // Without the repository bound, business services are not read.
    const unbound = load({ "books-service": [businessService("broken", undefined)] }, { routes: [] });
    expect(unbound.ok ? [] : formatProblems(unbound.problems)).toEqual([]);
  });
});
