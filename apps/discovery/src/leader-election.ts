import { type V1Lease, V1MicroTime } from '@kubernetes/client-node';
import { type Clock, realClock, withTimeout } from './clock.ts';
import type { LeaseClient } from './kube-client.ts';

/** The leader renews every LEASE_RENEW_FRACTION of the lease duration: two renewals may fail before it expires. */
export const LEASE_RENEW_FRACTION = 1 / 3;
/** A follower re-checks the Lease every LEASE_RETRY_FRACTION of the duration, bounding takeover delay. */
export const LEASE_RETRY_FRACTION = 1 / 5;
/**
 * A leader that could not renew for this fraction of the duration stops publishing on its own, before
 * the Lease can expire and another replica take over, so two replicas never publish as leader at once.
 */
export const LEASE_RENEW_DEADLINE_FRACTION = 2 / 3;

export interface LeaderElectorOptions {
  readonly client: LeaseClient;
  readonly leaseName: string;
  readonly identity: string;
  readonly leaseDurationMs: number;
  readonly clock?: Clock;
  readonly onStartedLeading: () => void;
  readonly onStoppedLeading: () => void;
  readonly onError?: (err: unknown) => void;
}

/**
 * Leader election on a coordination.k8s.io/v1 Lease with optimistic concurrency: every write carries the
 * resourceVersion read just before, so of two replicas racing for the Lease the API accepts one and answers
 * 409 to the other. Expiry is judged from the Lease's renewTime (replicas' clocks are assumed NTP-synced, as
 * Kubernetes itself assumes for Leases).
 */
export class LeaderElector {
  readonly #o: LeaderElectorOptions;
  readonly #clock: Clock;
  readonly #stop = new AbortController();
  #leading = false;
  #lastRenewAt = 0;
  #campaignPausedUntil = 0;
  #running: Promise<void> | undefined;

  constructor(options: LeaderElectorOptions) {
    this.#o = options;
    this.#clock = options.clock ?? realClock;
  }

  get isLeader(): boolean {
    return this.#leading;
  }

  start(): void {
    this.#running ??= this.#run();
  }

  /**
   * Stops campaigning. A leader releases the Lease so another replica takes over at once; with
   * `release: false` it just goes silent, as a crashed process would, and the Lease runs out.
   */
  async stop(options: { release?: boolean } = {}): Promise<void> {
    this.#stop.abort();
    await this.#running;
    if (this.#leading) {
      this.#setLeading(false);
      if (options.release !== false) await this.#release().catch((err: unknown) => this.#o.onError?.(err));
    }
  }

  /**
   * Gives up leadership on purpose (this replica cannot do the leader's job): releases the Lease so a
   * standby takes over at its next retry, and stays out of the campaign for one lease duration.
   */
  async resign(): Promise<void> {
    if (!this.#leading) return;
    this.#campaignPausedUntil = this.#clock.now() + this.#o.leaseDurationMs;
    this.#setLeading(false);
    await this.#release().catch((err: unknown) => this.#o.onError?.(err));
  }

  async #run(): Promise<void> {
    const duration = this.#o.leaseDurationMs;
    // One Lease call may not outlast a renew period: a hung API request must not keep a leader leading.
    const callTimeoutMs = duration * LEASE_RENEW_FRACTION;
    while (!this.#stop.signal.aborted) {
      const attemptAt = this.#clock.now();
      if (attemptAt < this.#campaignPausedUntil) {
        await this.#clock.sleep(this.#campaignPausedUntil - attemptAt, this.#stop.signal);
        continue;
      }
      try {
        const holding = await withTimeout(
          this.#clock,
          this.tryAcquireOrRenew(attemptAt),
          callTimeoutMs,
          'Lease request',
        );
        if (holding) {
          this.#lastRenewAt = attemptAt;
          if (!this.#leading) this.#setLeading(true);
        } else if (this.#leading) {
          this.#setLeading(false);
        }
      } catch (err) {
        this.#o.onError?.(err);
      }
      let pause = duration * (this.#leading ? LEASE_RENEW_FRACTION : LEASE_RETRY_FRACTION);
      if (this.#leading) {
        const deadline = this.#lastRenewAt + duration * LEASE_RENEW_DEADLINE_FRACTION;
        const now = this.#clock.now();
        if (now >= deadline) {
          this.#setLeading(false);
          pause = duration * LEASE_RETRY_FRACTION;
        } else {
          // Wake up at the deadline at the latest, to step down on time if this renewal keeps failing.
          pause = Math.min(pause, deadline - now);
        }
      }
      if (this.#stop.signal.aborted) break;
      await this.#clock.sleep(pause, this.#stop.signal);
    }
  }

  #setLeading(leading: boolean): void {
    this.#leading = leading;
    if (leading) this.#o.onStartedLeading();
    else this.#o.onStoppedLeading();
  }

  /** One round: returns true when this replica holds the Lease afterwards. A 409 means someone else won. */
  async tryAcquireOrRenew(now: number = this.#clock.now()): Promise<boolean> {
    const me = this.#o.identity;
    const durationSecs = Math.max(1, Math.ceil(this.#o.leaseDurationMs / 1000));
    const existing = await this.#o.client.get();
    if (existing === undefined) {
      const lease: V1Lease = {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: this.#o.leaseName },
        spec: {
          holderIdentity: me,
          leaseDurationSeconds: durationSecs,
          acquireTime: micro(now),
          renewTime: micro(now),
          leaseTransitions: 0,
        },
      };
      return this.#write(() => this.#o.client.create(lease));
    }
    const spec = existing.spec ?? {};
    const holder = spec.holderIdentity ?? '';
    if (holder === me) {
      return this.#write(() =>
        this.#o.client.replace({
          ...existing,
          spec: { ...spec, leaseDurationSeconds: durationSecs, renewTime: micro(now) },
        }),
      );
    }
    const renewedAt = spec.renewTime === undefined ? 0 : new Date(spec.renewTime as unknown as string).getTime();
    const heldFor = (spec.leaseDurationSeconds ?? durationSecs) * 1000;
    const expired = holder === '' || !Number.isFinite(renewedAt) || renewedAt + heldFor < now;
    if (!expired) return false;
    return this.#write(() =>
      this.#o.client.replace({
        ...existing,
        spec: {
          ...spec,
          holderIdentity: me,
          leaseDurationSeconds: durationSecs,
          acquireTime: micro(now),
          renewTime: micro(now),
          leaseTransitions: (spec.leaseTransitions ?? 0) + 1,
        },
      }),
    );
  }

  async #write(op: () => Promise<V1Lease>): Promise<boolean> {
    try {
      await op();
      return true;
    } catch (err) {
      if ((err as { code?: number }).code === 409) return false;
      throw err;
    }
  }

  async #release(): Promise<void> {
    const existing = await this.#o.client.get();
    if (existing?.spec?.holderIdentity !== this.#o.identity) return;
    // An empty holder marks the Lease free: the next replica to look takes it without waiting for expiry.
    await this.#write(() => this.#o.client.replace({ ...existing, spec: { ...existing.spec, holderIdentity: '' } }));
  }
}

function micro(ms: number): V1MicroTime {
  return new V1MicroTime(ms);
}
