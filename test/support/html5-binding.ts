/**
 * An HTML5 application repository runtime binding as VCAP_SERVICES holds one (service
 * html5-apps-repo, plan app-runtime), for tests that build configurations.
 */
export function html5RuntimeBinding(
  { uri, uaaUrl, secret }: { uri: string; uaaUrl: string; secret: string },
  credentials: Record<string, unknown> = {},
  extra: Record<string, unknown> = {},
) {
  return {
    label: "html5-apps-repo",
    plan: "app-runtime",
    name: "html5-rt",
    tags: ["html5-apps-repo-rt"],
    credentials: {
      "sap.cloud.service": "html5-apps-repo-rt",
      grant_type: "client_credentials",
      uri,
      uaa: { url: uaaUrl, clientid: "sb-html5", clientsecret: secret },
      ...credentials,
    },
    ...extra,
  };
}
