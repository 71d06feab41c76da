import { describe, expect, it } from 'vitest';
import { type PlanPod, planChanges } from './convergence-plan.ts';

const pods = (role: 'prefill' | 'decode', from: number, n: number): PlanPod[] =>
  Array.from({ length: n }, (_, i) => ({ name: `${role}-${from + i}`, role }));
const members = [...pods('prefill', 0, 3), ...pods('decode', 0, 3)];
const spares = [...pods('prefill', 3, 1), ...pods('decode', 3, 1)];

describe('planChanges', () => {
  it('makes exactly the requested number of changes, each moving one member', () => {
    const plan = planChanges(21, members, spares);
    expect(plan).toHaveLength(21);
    let before = members.map((p) => p.name).sort();
    for (const c of plan) {
      const after = c.membersAfter;
      if (c.joins) {
        expect(before).not.toContain(c.pod.name);
        expect([...before, c.pod.name].sort()).toEqual(after);
      } else {
        expect(before).toContain(c.pod.name);
        expect(before.filter((n) => n !== c.pod.name)).toEqual(after);
      }
      before = [...after];
    }
  });

  it('pairs every leave with the matching join of the same pod and cycles through every kind', () => {
    const plan = planChanges(16, members, spares);
    expect(plan.map((c) => c.kind)).toEqual([
      ...['unready', 'ready', 'delete', 'recreate', 'terminate', 'recreate', 'scale-up', 'scale-down'],
      ...['unready', 'ready', 'delete', 'recreate', 'terminate', 'recreate', 'scale-up', 'scale-down'],
    ]);
    for (let i = 0; i < plan.length; i += 2) expect(plan[i + 1]?.pod).toEqual(plan[i]?.pod);
    // After each pair the membership is the starting one again.
    expect(plan.at(-1)?.membersAfter).toEqual(members.map((p) => p.name).sort());
    // Members alternate roles; spares are only scaled.
    expect(plan.filter((c) => c.kind === 'unready').map((c) => c.pod.name)).toEqual(['prefill-0', 'decode-1']);
    expect(plan.filter((c) => c.kind === 'scale-up').map((c) => c.pod.name)).toEqual(['prefill-3', 'decode-3']);
  });

  it('scales members when there are no spares, and rejects a bad count or no members', () => {
    const plan = planChanges(8, members, []);
    expect(plan.map((c) => c.kind).slice(6)).toEqual(['delete', 'recreate']);
    expect(() => planChanges(0, members, spares)).toThrow(/>= 1/);
    expect(() => planChanges(3, [], spares)).toThrow(/member/);
  });
});
