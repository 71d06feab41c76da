import type { KubeConfig } from '@kubernetes/client-node';
import { type KubeApiFake, startKubeApiFake, waitUntil } from '@pdrouter/testkit';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LeaderElector, leaseClient, loadKubeConfig } from '../src/index.ts';

const LEASE_MS = 1_500;
let fake: KubeApiFake;
let kc: KubeConfig;
const electors: LeaderElector[] = [];

beforeAll(async () => {
  fake = await startKubeApiFake();
  kc = loadKubeConfig(fake.kubeconfigPath);
});
afterEach(async () => {
  for (const e of electors.splice(0)) await e.stop({ release: false });
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

function leaseSpec(name: string): LeaseSpec {
  return (fake.getLease(name)?.spec ?? {}) as LeaseSpec;
}

interface Candidate {
  elector: LeaderElector;
  events: string[];
  leading: () => boolean;
}

function candidate(leaseName: string, identity: string): Candidate {
  const events: string[] = [];
  let leading = false;
  const elector = new LeaderElector({
    client: leaseClient(kc, fake.namespace, leaseName),
    leaseName,
    identity,
    leaseDurationMs: LEASE_MS,
    onStartedLeading: () => {
      leading = true;
      events.push(`start@${Date.now()}`);
    },
    onStoppedLeading: () => {
      leading = false;
      events.push(`stop@${Date.now()}`);
    },
  });
  electors.push(elector);
  return { elector, events, leading: () => leading };
}

describe('LeaderElector on a coordination.k8s.io/v1 Lease', () => {
  it('elects exactly one of two replicas racing for a new Lease', async () => {
    const a = candidate('race', 'a');
    const b = candidate('race', 'b');
    a.elector.start();
    b.elector.start();
    await waitUntil(() => a.leading() || b.leading(), { description: 'a leader' });
    // Several renew periods later still exactly one leads.
    const until = Date.now() + LEASE_MS * 2;
    while (Date.now() < until) {
      expect(Number(a.leading()) + Number(b.leading())).toBe(1);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(leaseSpec('race').holderIdentity).toBe(a.leading() ? 'a' : 'b');
  });

  it('hands over at once when the leader stops cleanly (releases the Lease)', async () => {
    const a = candidate('release', 'a');
    a.elector.start();
    await waitUntil(() => a.leading(), { description: 'a to lead' });
    const b = candidate('release', 'b');
    b.elector.start();
    await a.elector.stop();
    const stoppedAt = Date.now();
    await waitUntil(() => b.leading(), { timeoutMs: LEASE_MS * 3, description: 'b to take over' });
    // A released Lease is taken on the next retry, well before it would have expired.
    expect(Date.now() - stoppedAt).toBeLessThan(LEASE_MS * 3);
    expect(leaseSpec('release').leaseTransitions).toBe(1);
  });

  it('takes over a crashed leader only after its Lease expired, and counts the transition', async () => {
    const a = candidate('crash', 'a');
    a.elector.start();
    await waitUntil(() => a.leading(), { description: 'a to lead' });
    const b = candidate('crash', 'b');
    b.elector.start();
    await new Promise((r) => setTimeout(r, LEASE_MS / 2));
    expect(b.leading()).toBe(false);
    await a.elector.stop({ release: false });
    const spec = leaseSpec('crash');
    const expiresAt = new Date(spec.renewTime ?? 0).getTime() + (spec.leaseDurationSeconds ?? 0) * 1000;
    await waitUntil(() => b.leading(), { timeoutMs: 10_000, description: 'b to take over the expired Lease' });
    const tookOverAt = Number(b.events[0]?.split('@')[1]);
    expect(tookOverAt).toBeGreaterThanOrEqual(expiresAt);
    const after = leaseSpec('crash');
    expect(after.holderIdentity).toBe('b');
    expect(after.leaseTransitions).toBe(1);
  });

  it('a leader that cannot renew steps down before its Lease can expire', async () => {
    const a = candidate('cut-off', 'a');
    a.elector.start();
    await waitUntil(() => a.leading(), { description: 'a to lead' });
    await fake.setUnreachable(true);
    try {
      await waitUntil(() => !a.leading(), { timeoutMs: 10_000, description: 'a to step down' });
      const lastRenew = new Date(leaseSpec('cut-off').renewTime ?? 0).getTime();
      const steppedDownAt = Number(a.events.find((e) => e.startsWith('stop'))?.split('@')[1]);
      // Stepped down no later than the Lease's expiry (renewTime + duration), so no two leaders overlap.
      expect(steppedDownAt).toBeLessThanOrEqual(lastRenew + LEASE_MS + 250);
    } finally {
      await fake.setUnreachable(false);
    }
  });
});
