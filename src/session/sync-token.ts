import { base64url } from "jose";
import { timingSafeEqual } from "../security/constant-time.js";
import type { SyncSlot } from "../stores/types.js";
import type { KeyRing, SecretKeys } from "./keyring.js";
import type { SessionRecord } from "./record.js";

/**
 * Read-your-writes across isolates for stores whose reads may lag their writes (Upstash
 * with read replicas). The sync token of a session's last write travels with the session
 * in a second small cookie, with the time of that write; every isolate then reads the
 * session at least as new as that write, and an isolate whose first-tier copy is older
 * than the write the cookie names revalidates it at once instead of after its window.
 *
 * The cookie is MAC'd with a key derived from the session secret and bound to the session
 * id: a client cannot present a token the router never issued for this session (to make
 * readers wait for a state that never comes, or to skip ahead). It can only replay an older
 * cookie of its own session, and an isolate never goes back to an older state than one it
 * has seen (the newer of the cookie and its own copy wins); a destroyed session is never
 * read as alive (the store asks the primary whether it exists).
 *
 * Cookie value: base36(write time ms) "." base64url(token) "." base64url(HMAC-SHA-256(K_store,
 * "sync" ‖ 0x00 ‖ session id ‖ 0x00 ‖ the first two fields joined by ".")).
 */
export const MAX_SYNC_TOKEN_LENGTH = 256;

/** The second cookie's name: the session cookie's, suffixed. */
export function syncCookieName(sessionCookieName: string): string {
  return `${sessionCookieName}_SYNC`;
}

export class SyncCookie {
  constructor(private readonly keyring: KeyRing) {}

  /** The cookie value for the token of a write at `at`, or undefined for a token too long to carry. */
  async seal(sessionId: string, token: string, at: number): Promise<string | undefined> {
    if (token.length === 0 || token.length > MAX_SYNC_TOKEN_LENGTH || !Number.isSafeInteger(at) || at < 0)
      return undefined;
    const signed = `${at.toString(36)}.${base64url.encode(token)}`;
    return `${signed}.${await this.mac(this.keyring.current, sessionId, signed)}`;
  }

  /**
   * The slot a cookie value names, if the router issued it for this session (under any
   * configured secret); else an empty slot.
   */
  async open(sessionId: string, value: string | undefined): Promise<SyncSlot> {
    if (!value || value.length > 2 * MAX_SYNC_TOKEN_LENGTH) return {};
    const last = value.lastIndexOf(".");
    const signed = value.slice(0, last);
    const [at36, encoded, extra] = signed.split(".");
    if (last <= 0 || !at36 || !encoded || extra !== undefined || !/^[0-9a-z]{1,11}$/.test(at36)) return {};
    const mac = value.slice(last + 1);
    let valid = false;
    for (const secret of this.keyring.secrets) {
      if (timingSafeEqual(mac, await this.mac(secret, sessionId, signed))) valid = true;
    }
    if (!valid) return {};
    try {
      const after = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(
        base64url.decode(encoded),
      );
      return { after, at: parseInt(at36, 36) };
    } catch {
      return {};
    }
  }

  private async mac(secret: SecretKeys, sessionId: string, signed: string): Promise<string> {
    const key = await this.keyring.namedKey(secret, "sync", `${sessionId}\0${signed}`);
    return key.slice(key.lastIndexOf(":") + 1);
  }
}

/**
 * The write each first-tier record is known to reflect in this isolate, by record object
 * (records are frozen and replaced on every change, so the object is the version).
 */
const known = new WeakMap<SessionRecord, { after: string; at: number }>();

/** Notes that `record` reflects at least the write `slot` names (after a read or a write with it). */
export function remember(record: SessionRecord, slot: SyncSlot | undefined): void {
  if (slot?.after === undefined || slot.at === undefined) return;
  const previous = known.get(record);
  if (!previous || slot.at > previous.at) known.set(record, { after: slot.after, at: slot.at });
}

/**
 * Whether the request names a write newer than the one this isolate's copy reflects (then
 * the copy is revalidated now). When the copy reflects the newer write, the slot is moved
 * up to it: reads of this session here never go back to an older state.
 */
export function namesNewerWrite(record: SessionRecord, slot: SyncSlot | undefined): boolean {
  if (!slot) return false;
  const copy = known.get(record);
  if (slot.at === undefined || slot.after === undefined) {
    if (copy) Object.assign(slot, copy);
    return false;
  }
  if (!copy || slot.at > copy.at) return true;
  Object.assign(slot, copy);
  return false;
}
