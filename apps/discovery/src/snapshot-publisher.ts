import { type Member, parseSnapshot, type Snapshot, snapshotFingerprint } from '@pdrouter/core';

/** Where snapshots go: the KV key of one pool (implemented over @pdrouter/nats-snapshots in discovery.ts). */
export interface SnapshotStore {
  /** The raw value currently stored for the pool, if any. */
  readCurrent(): Promise<string | undefined>;
  put(s: Snapshot): Promise<void>;
}

export interface Membership {
  readonly prefill: readonly Member[];
  readonly decode: readonly Member[];
  readonly plain: readonly Member[];
}

/** Pause before retrying a publication that failed (NATS down, bucket missing); changes meanwhile are merged. */
export const PUBLISH_RETRY_MS = 1_000;

export interface SnapshotPublisherOptions {
  readonly pool: string;
  readonly store: SnapshotStore;
  readonly heartbeatMs: number;
  readonly retryMs?: number;
  readonly now?: () => number;
  readonly onPublished?: (s: Snapshot, fingerprint: string) => void;
  readonly onError?: (err: unknown) => void;
}

export interface PublisherState {
  readonly leader: boolean;
  readonly epoch: number | undefined;
  readonly seq: number;
  readonly fingerprint: string | undefined;
  readonly lastPublishAt: number | undefined;
}

/**
 * Turns membership into published snapshots while this replica leads. Each leadership term gets a new
 * epoch, strictly greater than the epoch stored in the bucket (so a proxy never prefers an older leader's
 * view) and at least the current time in ms (so terms stay ordered even if the bucket was emptied); seq
 * counts publications within the term. A new snapshot is published when the membership fingerprint changes,
 * and the same membership again (next seq, new time) every heartbeat so readers can tell it is fresh.
 * Publications are serialized: seq order on the wire is seq order in the bucket.
 */
export class SnapshotPublisher {
  readonly #o: SnapshotPublisherOptions;
  readonly #now: () => number;
  #members: Membership | undefined;
  #leader = false;
  #epoch: number | undefined;
  #seq = 0;
  #publishedFingerprint: string | undefined;
  #lastPublishAt: number | undefined;
  #pending = false;
  #forceNext = false;
  #pumping: Promise<void> | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #retry: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(options: SnapshotPublisherOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  state(): PublisherState {
    return {
      leader: this.#leader,
      epoch: this.#epoch,
      seq: this.#seq,
      fingerprint: this.#publishedFingerprint,
      lastPublishAt: this.#lastPublishAt,
    };
  }

  /** The complete membership (all roles synced); publishes if it changed and this replica leads. */
  setMembers(members: Membership): void {
    this.#members = members;
    this.#request(false);
  }

  setLeader(leader: boolean): void {
    if (leader === this.#leader) return;
    this.#leader = leader;
    // A new term starts from the bucket again: its epoch must beat whatever was published meanwhile.
    this.#epoch = undefined;
    this.#seq = 0;
    this.#publishedFingerprint = undefined;
    clearInterval(this.#heartbeat);
    this.#heartbeat = undefined;
    if (leader && !this.#stopped) {
      this.#heartbeat = setInterval(() => this.#request(true), this.#o.heartbeatMs);
      this.#heartbeat.unref();
      this.#request(false);
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#heartbeat);
    clearTimeout(this.#retry);
    await this.#pumping;
  }

  #request(force: boolean): void {
    if (this.#stopped) return;
    this.#pending = true;
    if (force) this.#forceNext = true;
    this.#pumping ??= this.#pump().finally(() => {
      this.#pumping = undefined;
      // A request that arrived after the loop's last check but before this callback must not be lost.
      if (this.#pending && !this.#stopped) this.#request(false);
    });
  }

  async #pump(): Promise<void> {
    while (this.#pending && !this.#stopped) {
      this.#pending = false;
      if (!this.#leader || this.#members === undefined) return;
      const force = this.#forceNext;
      this.#forceNext = false;
      try {
        await this.#publishOnce(force);
      } catch (err) {
        this.#o.onError?.(err);
        if (force) this.#forceNext = true;
        clearTimeout(this.#retry);
        this.#retry = setTimeout(() => this.#request(false), this.#o.retryMs ?? PUBLISH_RETRY_MS);
        this.#retry.unref();
        return;
      }
    }
  }

  async #publishOnce(force: boolean): Promise<void> {
    const members = this.#members;
    if (members === undefined) return;
    if (this.#epoch === undefined) {
      const raw = await this.#o.store.readCurrent();
      const parsed = raw === undefined ? undefined : parseSnapshot(raw);
      const stored = parsed?.ok ? parsed.snapshot.epoch : 0;
      if (!this.#leader) return;
      this.#epoch = Math.max(this.#now(), stored + 1);
      this.#seq = 0;
    }
    const epoch = this.#epoch;
    const draft: Snapshot = {
      pool: this.#o.pool,
      epoch,
      seq: this.#seq + 1,
      time: new Date(this.#now()).toISOString(),
      members: { prefill: [...members.prefill], decode: [...members.decode], plain: [...members.plain] },
    };
    const fingerprint = snapshotFingerprint(draft);
    if (!force && fingerprint === this.#publishedFingerprint) return;
    await this.#o.store.put(draft);
    // Leadership may have moved while the put was in flight; the epoch check keeps the counters per term.
    if (this.#epoch !== epoch) return;
    this.#seq = draft.seq;
    this.#publishedFingerprint = fingerprint;
    this.#lastPublishAt = this.#now();
    this.#o.onPublished?.(draft, fingerprint);
  }
}
