/**
 * Stands in for a custom store driver when none is bundled. Workers cannot load code
 * at run time, so `externalStoreFilePath` is resolved at build time: the
 * `approuter-custom-store` alias in wrangler.toml names the driver module (see README).
 */
export const getStore = undefined;
export const isPlaceholder = true;
