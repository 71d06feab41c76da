/**
 * A prefill pod's finished KV blocks, kept for a decode pod to pull (NixlConnector's delayed free):
 * an entry lives until a decode pod takes it or its TTL passes. Expired ids are remembered for a while
 * so a late fetch can tell "expired" from "never existed".
 */

export interface KvEntry {
  readonly remoteRequestId: string;
  readonly engineId: string;
  readonly blockIds: readonly number[];
  readonly promptTokens: number;
  /** Hash of the prompt the blocks were computed for: a decode pod with another prompt must not use them. */
  readonly promptHash: number;
  readonly expiresAt: number;
}

export type KvTakeResult = { ok: true; entry: KvEntry } | { ok: false; reason: 'missing' | 'expired' };

/** How many expired ids are remembered to answer "expired" instead of "missing". */
const EXPIRED_IDS_REMEMBERED = 10_000;

export class KvStore {
  private readonly entries = new Map<string, KvEntry>();
  private readonly expired = new Set<string>();
  private readonly onRelease: (entry: KvEntry) => void;

  /** `onRelease` runs when an entry leaves the store (taken, expired, or cleared): its blocks are free. */
  constructor(onRelease: (entry: KvEntry) => void) {
    this.onRelease = onRelease;
  }

  get size(): number {
    return this.entries.size;
  }

  put(entry: KvEntry, now: number): void {
    this.sweep(now);
    const old = this.entries.get(entry.remoteRequestId);
    if (old !== undefined) this.onRelease(old);
    this.entries.delete(entry.remoteRequestId);
    this.entries.set(entry.remoteRequestId, entry);
  }

  /** Removes and returns the entry (blocks are read once, then freed). */
  take(remoteRequestId: string, now: number): KvTakeResult {
    this.sweep(now);
    const entry = this.entries.get(remoteRequestId);
    if (entry === undefined) {
      return { ok: false, reason: this.expired.has(remoteRequestId) ? 'expired' : 'missing' };
    }
    this.entries.delete(remoteRequestId);
    this.onRelease(entry);
    return { ok: true, entry };
  }

  /** Drops expired entries. Entries are kept in insertion order and share one TTL, so expiry is FIFO. */
  sweep(now: number): void {
    for (const [id, entry] of this.entries) {
      if (entry.expiresAt > now) break;
      this.entries.delete(id);
      this.onRelease(entry);
      this.expired.add(id);
    }
    while (this.expired.size > EXPIRED_IDS_REMEMBERED) {
      const oldest = this.expired.values().next();
      if (oldest.done) break;
      this.expired.delete(oldest.value);
    }
  }

  clear(): void {
    for (const entry of this.entries.values()) this.onRelease(entry);
    this.entries.clear();
    this.expired.clear();
  }
}
