// The first-tier copy's shortcuts with sync tokens (sync-token.ts), for the manager: apart from
// sync-token.ts, which the external tier imports, so that neither imports the other.
import type { SyncSlot } from "../stores/types.js";
import type { ExternalTier, ReadResult } from "./external-tier.js";
import type { MemoryEntry } from "./memory-tier.js";

/**
 * Revalidation of a copy that already reflects the session's last write this request
 * knows of: whether the session still exists is all there is to ask, and a PEXPIRE (a
 * write, so answered by the primary, and the TTL slide) asks it in one command without
 * waiting for a replica. Only when it finds no session is the full read made (the session
 * may have moved to a newer secret's key; if not, it has ended).
 */
export async function revalidateCopy(
  external: ExternalTier,
  id: string,
  entry: MemoryEntry,
  touchMs: number,
  sync: SyncSlot,
): Promise<ReadResult> {
  const stored = entry.stored!;
  const touched = await external.touch(id, stored.kid, touchMs, sync);
  if (touched === "touched") return { kind: "found", record: entry.record, kid: stored.kid, tag: stored.tag };
  if (touched === "unavailable") return { kind: "unavailable" };
  return external.read(id, touchMs, sync);
}

/** Whether a revalidation of `entry` can be a `revalidateCopy` (see there). */
export function copyIsCurrent(
  external: ExternalTier,
  entry: MemoryEntry,
  newerWrite: boolean,
  sync: SyncSlot | undefined,
): sync is SyncSlot {
  return (
    external.syncCookie !== undefined &&
    !newerWrite &&
    sync?.after !== undefined &&
    entry.stored !== undefined
  );
}
