// The shared pod-change run against the real Kubernetes API fake: after each change the pods the fake
// holds as members (Running, Ready, not terminating) are the plan's expected ones, and a terminated pod's
// server stops after the change and starts again before its recreate.
import { type KubeApiFake, type KubeObject, ROLE_LABEL, registerSimPods, startKubeApiFake } from '@pdrouter/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planChanges } from './convergence-plan.ts';
import { MEMBERS_PER_ROLE, runChangePlan, SPARES_PER_ROLE, splitMembers } from './pod-changes.ts';

interface Pod {
  name: string;
  role: 'prefill' | 'decode';
  port: number;
}

const pods: Pod[] = (['prefill', 'decode'] as const).flatMap((role, r) =>
  Array.from({ length: MEMBERS_PER_ROLE + SPARES_PER_ROLE }, (_, i) => ({
    name: `${role}-${i}`,
    role,
    port: 9000 + r * 100 + i,
  })),
);

function isMember(pod: KubeObject): boolean {
  const status = pod.status as { conditions?: { type: string; status: string }[] } | undefined;
  const ready = status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
  return ready && pod.metadata.deletionTimestamp === undefined;
}

let api: KubeApiFake;
beforeAll(async () => {
  api = await startKubeApiFake({ kubelet: false });
});
afterAll(async () => {
  await api?.close();
});

describe('runChangePlan', () => {
  it('makes every kind of change in the API fake, one at a time, with the expected members after each', async () => {
    const { members, spares } = splitMembers(pods);
    expect(members).toHaveLength(2 * MEMBERS_PER_ROLE);
    expect(spares.map((p) => p.name)).toEqual(['prefill-8', 'prefill-9', 'decode-8', 'decode-9']);
    registerSimPods(api, members);
    const plan = planChanges(8, members, spares);
    const events: string[] = [];
    const samples = await runChangePlan<Pod, { index: number; members: string[] }>({
      api,
      plan,
      pods: new Map(pods.map((p) => [p.name, p])),
      dwellMs: 0,
      register: (pod) => {
        events.push(`register ${pod.name}`);
        registerSimPods(api, [pod]);
      },
      setServing: async (pod, serving) => void events.push(`${serving ? 'start' : 'stop'} ${pod.name}`),
      watch(change, _pod, counts) {
        events.push(`${change.kind} ${change.pod.name}`);
        return async () => {
          const now = api.listPods().filter(isMember);
          const of = (role: string) => now.filter((p) => p.metadata.labels?.[ROLE_LABEL] === role).length;
          expect({ prefill: of('prefill'), decode: of('decode') }).toEqual(counts);
          return { index: change.index, members: now.map((p) => p.metadata.name as string).sort() };
        };
      },
    });
    expect(samples.map((s) => s.members)).toEqual(plan.map((c) => [...c.membersAfter].sort()));
    expect(new Set(plan.map((c) => c.kind))).toEqual(
      new Set(['unready', 'ready', 'delete', 'recreate', 'terminate', 'scale-up', 'scale-down']),
    );
    // A terminated pod stops serving after the change and serves again before it is created again.
    const terminated = plan.find((c) => c.kind === 'terminate')?.pod.name as string;
    const at = (e: string) => events.indexOf(e);
    expect(at(`stop ${terminated}`)).toBeGreaterThan(at(`terminate ${terminated}`));
    expect(at(`start ${terminated}`)).toBeGreaterThan(at(`stop ${terminated}`));
    expect(events.lastIndexOf(`register ${terminated}`)).toBeGreaterThan(at(`start ${terminated}`));
    expect(api.getPod(terminated)).toBeDefined();
  });
});
