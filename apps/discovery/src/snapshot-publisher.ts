import { isPlausibleEpoch, type Member, parseStoredValue, type Snapshot, snapshotFingerprint } from '@pdrouter/core';

/** Where snapshots go: the KV key of one pool (implemented over @pdrouter/nats-snapshots in discovery.ts). */
export interface SnapshotStore {
  /** The raw value currently stored for the pool and its revision, if any. */
  readCurrent(): Promise<{ raw: string; revision: number } | undefined>;
  /**
   * Compare-and-set: writes only if the key is still at `previousRevision` (0: absent). Returns the new
   * revision, or `conflict` when someone else wrote in between.
   */
  put(s: Snapshot, previousRevision: number): Promise<{ revision: number } | 'conflict'>;
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
  /** Someone else wrote the key: this leader starts a new epoch over it. */
  readonly onForeignWrite?: (found: { revision: number; epoch: number | undefined }, newEpoch: number) => void;
  /**
   * This leader cannot keep the key current (writes failing for `stepDownAfterMs`, or another writer
   * keeps changing it): it must give up the Lease rather than hold it while silent.
   */
  readonly onCannotWrite?: (reason: string) => void;
  /** How long publication may fail in a row before onCannotWrite (default: never). */
  readonly stepDownAfterMs?: number;
}

/** Foreign writes tolerated per term before the leader steps down: a fight between writers must end. */
export const MAX_FOREIGN_WRITES_PER_TERM = 3;

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
 *
 * Writes are compare-and-set on the KV revision this term last read or wrote (a revision only the server
 * assigns, not a field a writer controls). A write that lost the race means a foreign write: the leader
 * starts a new epoch above it and rewrites. A leader that cannot write (errors for stepDownAfterMs, or
 * more than MAX_FOREIGN_WRITES_PER_TERM foreign writes) reports it through onCannotWrite, and steps down.
 */
export class SnapshotPublisher {
  readonly #o: SnapshotPublisherOptions;
  readonly #now: () => number;
  #members: Membership | undefined;
  #leader = false;
  #epoch: number | undefined;
  #revision = 0;
  #foreignWrites = 0;
  #failingSince: number | undefined;
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
    this.#foreignWrites = 0;
    this.#failingSince = undefined;
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
        this.#failingSince = undefined;
      } catch (err) {
        this.#o.onError?.(err);
        this.#failingSince ??= this.#now();
        const failingMs = this.#now() - this.#failingSince;
        const limit = this.#o.stepDownAfterMs;
        if (limit !== undefined && failingMs >= limit) {
          this.#o.onCannotWrite?.(
            `publication failing for ${failingMs} ms (last error: ${err instanceof Error ? err.message : String(err)})`,
          );
        }
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
      const current = await this.#o.store.readCurrent();
      if (!this.#leader) return;
      this.#revision = current?.revision ?? 0;
      this.#epoch = Math.max(this.#now(), (plausibleStoredEpoch(current?.raw, this.#now()) ?? 0) + 1);
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
    const result = await this.#o.store.put(draft, this.#revision);
    // Leadership may have moved while the put was in flight; the epoch check keeps the counters per term.
    if (this.#epoch !== epoch) return;
    if (result === 'conflict') {
      // The leader is the only writer: a revision it did not write is a foreign value (an operator, a
      // bug, a stale replica). Never defer to it: start a new epoch above anything plausible and rewrite,
      // so proxies that took the foreign value move on at once. A bogus far-future epoch is not followed
      // (proxies reject it anyway).
      const current = await this.#o.store.readCurrent();
      if (this.#epoch !== epoch) return;
      this.#foreignWrites++;
      if (this.#foreignWrites > MAX_FOREIGN_WRITES_PER_TERM) {
        this.#o.onCannotWrite?.(
          `another writer changed the key ${this.#foreignWrites} times this term (last at revision ${current?.revision ?? 0})`,
        );
        return;
      }
      const theirs = plausibleStoredEpoch(current?.raw, this.#now());
      const next = Math.max(this.#now(), epoch + 1, (theirs ?? 0) + 1);
      this.#o.onForeignWrite?.({ revision: current?.revision ?? 0, epoch: storedEpoch(current?.raw) }, next);
      this.#epoch = next;
      this.#seq = 0;
      this.#revision = current?.revision ?? 0;
      this.#pending = true;
      this.#forceNext = true;
      return;
    }
    this.#revision = result.revision;
    this.#seq = draft.seq;
    this.#publishedFingerprint = fingerprint;
    this.#lastPublishAt = this.#now();
    this.#o.onPublished?.(draft, fingerprint);
  }
}

/** The stored epoch when it is one a leader could have written (not implausibly far ahead). */
function plausibleStoredEpoch(raw: string | undefined, nowMs: number): number | undefined {
  const epoch = storedEpoch(raw);
  return epoch !== undefined && isPlausibleEpoch(epoch, nowMs) ? epoch : undefined;
}

/** The epoch of a stored value (a manifest or a single-value snapshot), or undefined when it is missing or invalid. */
function storedEpoch(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const value = parseStoredValue(raw);
  if (value.kind === 'manifest') return value.manifest.epoch;
  return value.kind === 'snapshot' ? value.snapshot.epoch : undefined;
}
