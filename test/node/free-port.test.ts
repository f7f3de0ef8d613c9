import { createServer } from "node:net";
import { expect, it, vi } from "vitest";
import { freePort as freePortUntyped } from "../../scripts/lib/free-port.mjs";

const freePort = freePortUntyped as (host?: string) => Promise<number>;

/**
 * The test scripts' loopback ports: below the kernel's ephemeral range, where no outgoing
 * connection of a parallel test can take one between the draw and the bind.
 */
it("draws a port below the ephemeral range that is free to listen on", async () => {
  const ports = await Promise.all(Array.from({ length: 10 }, () => freePort()));
  for (const port of ports) {
    expect(port).toBeGreaterThanOrEqual(20_000);
    expect(port).toBeLessThan(32_768);
    await new Promise<void>((resolve, reject) => {
      const server = createServer();
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => server.close(() => resolve()));
    });
  }
});

it("skips a drawn port that something listens on", async () => {
  const occupied = await freePort();
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(occupied, "127.0.0.1", () => resolve());
  });
  const free = await freePort();
  // The draws, in order: the occupied port first, then the free one.
  const draw = (port: number) => (port - 20_000 + 0.5) / (32_768 - 20_000);
  const random = vi.spyOn(Math, "random").mockReturnValueOnce(draw(occupied)).mockReturnValueOnce(draw(free));
  try {
    expect(await freePort()).toBe(free);
    expect(random).toHaveBeenCalledTimes(2);
  } finally {
    random.mockRestore();
    await new Promise((resolve) => server.close(resolve));
  }
});
