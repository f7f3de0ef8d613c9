// Headless Chromium for login tests: Debian's `chromium` driven by playwright-core (which
// brings no browser of its own here). Each launch gets a fresh temporary profile
// (Playwright creates and deletes it), so no cookies leak between tests.
import { existsSync } from "node:fs";
import { chromium, type Browser, type LaunchOptions } from "playwright-core";

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/** Flags that work on these machines (root, no GPU, no outside network). */
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export function chromiumAvailable(): boolean {
  return existsSync(CHROMIUM_PATH);
}

/** Launch headless Chromium. Close it with `browser.close()` (in afterAll/finally). */
export async function launchBrowser(options: Omit<LaunchOptions, "executablePath"> = {}): Promise<Browser> {
  if (!chromiumAvailable()) {
    throw new Error(
      `Chromium not found at ${CHROMIUM_PATH}. Install it (as root): apt-get update && apt-get install -y chromium ` +
        `(.ci/run does this), or set CHROMIUM_PATH to a Chromium binary.`,
    );
  }
  return chromium.launch({
    headless: true,
    timeout: 30_000,
    ...options,
    executablePath: CHROMIUM_PATH,
    args: [...CHROMIUM_ARGS, ...(options.args ?? [])],
  });
}
