// The custom store driver, aliased at build time (wrangler.toml [alias]).
declare module "approuter-custom-store" {
  export const getStore:
    | ((context: { instanceName: string; storageType: string; env: Record<string, unknown> }) => unknown)
    | undefined;
  export const isPlaceholder: boolean | undefined;
}
