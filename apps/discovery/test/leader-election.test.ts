// Leader election against the Kubernetes API fake, on a fake clock: the Lease calls are real HTTP through
// client-node, time moves only when every campaigning replica is asleep between rounds, so a 15 s lease
// (the default) takes milliseconds and every timing assertion is exact.
import type { KubeConfig } from '@kubernetes/client-node';
import { FakeClock, type KubeApiFake, StopWaiting, startKubeApiFake, waitUntil } from '@pdrouter/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DISCOVERY_LEASE, discoveryKubeconfig } from '../scripts/deploy-rbac.ts';
import { LEASE_RENEW_DEADLINE_FRACTION, LeaderElector, leaseClient, loadKubeConfig } from '../src/index.ts';

const LEASE_MS = 15_000;
let fake: KubeApiFake;
let clock: FakeClock;
const running = new Set<LeaderElector>();

beforeAll(async () => {
  fake = await startKubeApiFake();
});
afterEach(async () => {
  for (const e of [...running]) await stop(e, false);
});
afterAll(async () => {
  await fake?.close();
});

interface LeaseSpec {
  holderIdentity?: string;
  renewTime?: string;
  leaseDurationSeconds?: number;
  leaseTransitions?: number;
}

/**
 * Each test elects in a namespace of its own, on the Lease deploy/'s Role names, as discovery's
 * ServiceAccount with exactly that Role's permissions.
 */
function leaseSpec(namespace: string): LeaseSpec {
  return (fake.getLease(DISCOVERY_LEASE, namespace)?.spec ?? {}) as LeaseSpec;
}

function kubeConfigIn(namespace: string): KubeConfig {
  return loadKubeConfig(discoveryKubeconfig(fake, namespace));
}

interface Candidate {
  elector: LeaderElector;
  /** Fake times at which it started / stopped leading. */
  started: number[];
  stopped: number[];
  leading: () => boolean;
}

function candidate(namespace: string, identity: string): Candidate {
  const started: number[] = [];
  const stopped: number[] = [];
  let leading = false;
  const elector = new LeaderElector({
    client: leaseClient(kubeConfigIn(namespace), namespace, DISCOVERY_LEASE),
    leaseName: DISCOVERY_LEASE,
    identity,
    leaseDurationMs: LEASE_MS,
    clock,
    onStartedLeading: () => {
      leading = true;
      started.push(clock.now());
    },
    onStoppedLeading: () => {
      leading = false;
      stopped.push(clock.now());
    },
  });
  return { elector, started, stopped, leading: () => leading };
}

function start(c: Candidate): void {
  running.add(c.elector);
  c.elector.start();
}

async function stop(e: LeaderElector, release: boolean): Promise<void> {
  running.delete(e);
  await e.stop({ release });
}

/**
 * Lets the replicas run until `pred` holds: whenever all of them sleep between rounds, fake time jumps
 * to the next wake-up. `each` runs after every step (to check an invariant at every instant).
 */
async function runUntil(
  pred: () => boolean,
  description: string,
  options: { maxFakeMs?: number; each?: () => void } = {},
): Promise<void> {
  const startedAt = clock.now();
  const maxFakeMs = options.maxFakeMs ?? LEASE_MS * 4;
  await waitUntil(
    () => {
      options.each?.();
      if (pred()) return true;
      if (clock.now() - startedAt > maxFakeMs) throw new StopWaiting(`${description}: not within ${maxFakeMs} fake ms`);
      if (clock.sleepers >= running.size) clock.advanceToNext();
      return false;
    },
    { intervalMs: 1, description },
  );
}

function runFor(fakeMs: number, each?: () => void): Promise<void> {
  const until = clock.now() + fakeMs;
  return runUntil(() => clock.now() >= until, `${fakeMs} fake ms`, {
    maxFakeMs: fakeMs * 2,
    ...(each ? { each } : {}),
  });
}

describe('LeaderElector on a coordination.k8s.io/v1 Lease (fake clock)', () => {
  beforeAll(() => {
    clock = new FakeClock();
  });

  it('elects exactly one of two replicas racing for a new Lease, and it stays the only one', async () => {
    const a = candidate('race', 'a');
    const b = candidate('race', 'b');
    start(a);
    start(b);
    await runUntil(() => a.leading() || b.leading(), 'a leader');
    await runFor(LEASE_MS * 3, () => expect(Number(a.leading()) + Number(b.leading())).toBe(1));
    expect(leaseSpec('race').holderIdentity).toBe(a.leading() ? 'a' : 'b');
    // The leader renewed all along: never stepped down, the follower never led.
    const [leader, follower] = a.leading() ? [a, b] : [b, a];
    expect(leader.stopped).toEqual([]);
    expect(follower.started).toEqual([]);
  });

  it('hands over at the next retry when the leader stops cleanly (releases the Lease)', async () => {
    const a = candidate('release', 'a');
    start(a);
    await runUntil(() => a.leading(), 'a to lead');
    const b = candidate('release', 'b');
    start(b);
    await runFor(LEASE_MS);
    expect(b.leading()).toBe(false);
    await stop(a.elector, true);
    const stoppedAt = clock.now();
    await runUntil(() => b.leading(), 'b to take over');
    // A released Lease is taken on the follower's next retry (a fifth of the duration), not at expiry.
    expect((b.started[0] as number) - stoppedAt).toBeLessThanOrEqual(LEASE_MS / 5);
    expect(leaseSpec('release').leaseTransitions).toBe(1);
  });

  it('takes over a crashed leader only after its Lease expired, and counts the transition', async () => {
    const a = candidate('crash', 'a');
    start(a);
    await runUntil(() => a.leading(), 'a to lead');
    const b = candidate('crash', 'b');
    start(b);
    await runFor(LEASE_MS / 2);
    expect(b.leading()).toBe(false);
    await stop(a.elector, false);
    const spec = leaseSpec('crash');
    const expiresAt = new Date(spec.renewTime ?? 0).getTime() + (spec.leaseDurationSeconds ?? 0) * 1000;
    await runUntil(() => b.leading(), 'b to take over the expired Lease');
    const tookOverAt = b.started[0] as number;
    expect(tookOverAt).toBeGreaterThan(expiresAt);
    // ... and within one retry period after expiry.
    expect(tookOverAt - expiresAt).toBeLessThanOrEqual(LEASE_MS / 5);
    const after = leaseSpec('crash');
    expect(after.holderIdentity).toBe('b');
    expect(after.leaseTransitions).toBe(1);
  });

  it('a leader that cannot renew steps down at the renew deadline, before its Lease can expire', async () => {
    const a = candidate('cut-off', 'a');
    start(a);
    await runUntil(() => a.leading(), 'a to lead');
    await runFor(LEASE_MS);
    await fake.setUnreachable(true);
    try {
      await runUntil(() => !a.leading(), 'a to step down');
    } finally {
      await fake.setUnreachable(false);
    }
    const lastRenew = new Date(leaseSpec('cut-off').renewTime ?? 0).getTime();
    const steppedDownAt = a.stopped[0] as number;
    expect(steppedDownAt).toBeLessThan(lastRenew + LEASE_MS);
    expect(steppedDownAt).toBe(lastRenew + LEASE_MS * LEASE_RENEW_DEADLINE_FRACTION);
  });
});
