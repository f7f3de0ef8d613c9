/**
 * What a client may send to pose as a proxy in front of the router (issue 9): none of it
 * may reach a backend. Values point at an attacker's choices.
 */
export const SPOOFED_PROXY_HEADERS: Readonly<Record<string, string>> = {
  forwarded: "for=198.51.100.1;host=evil.example;proto=http",
  "x-original-url": "/admin",
  "x-rewrite-url": "/admin",
  "x-real-ip": "198.51.100.1",
  "true-client-ip": "198.51.100.1",
  "x-client-ip": "198.51.100.1",
  "x-cluster-client-ip": "198.51.100.1",
  "x-forwarded-prefix": "/evil",
  "x-forwarded-port": "8443",
  "x-forwarded-server": "evil.example",
  "x-forwarded-host": "evil.example",
  "x-forwarded-proto": "gopher",
  "x-forwarded-ssl": "off",
  "x-forwarded-for": "198.51.100.1",
  "x-forwarded-path": "/admin",
};
