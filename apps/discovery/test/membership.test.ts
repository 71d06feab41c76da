import type { V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { exclusionReason, membersOf, parsePort, podToMember } from '../src/index.ts';

const options = { targetPort: 8000, portAnnotation: 'vllm.ai/port', bootstrapPortAnnotation: 'vllm.ai/bootstrap-port' };

function pod(
  overrides: {
    name?: string;
    ip?: string;
    ready?: string;
    phase?: string;
    deleting?: boolean;
    annotations?: Record<string, string>;
  } = {},
): V1Pod {
  return {
    metadata: {
      name: overrides.name ?? 'p-0',
      uid: `uid-${overrides.name ?? 'p-0'}`,
      annotations: overrides.annotations ?? {},
      ...(overrides.deleting ? { deletionTimestamp: new Date() } : {}),
    },
    status: {
      phase: overrides.phase ?? 'Running',
      podIP: overrides.ip ?? '10.0.0.5',
      conditions: [{ type: 'Ready', status: overrides.ready ?? 'True' }],
    },
  };
}

describe('membership rule', () => {
  it('admits a Running, Ready pod with an IP at the target port', () => {
    expect(podToMember(pod(), options)).toEqual({
      name: 'p-0',
      uid: 'uid-p-0',
      url: 'http://10.0.0.5:8000',
      ready: true,
    });
  });

  it('takes the port and bootstrap port from annotations, ignoring invalid ones', () => {
    const m = podToMember(pod({ annotations: { 'vllm.ai/port': '8200', 'vllm.ai/bootstrap-port': '8998' } }), options);
    expect(m).toMatchObject({ url: 'http://10.0.0.5:8200', bootstrapPort: 8998 });
    const bad = podToMember(pod({ annotations: { 'vllm.ai/port': '99999', 'vllm.ai/bootstrap-port': 'x' } }), options);
    expect(bad?.url).toBe('http://10.0.0.5:8000');
    expect(bad).not.toHaveProperty('bootstrapPort');
  });

  it('brackets IPv6 pod IPs', () => {
    expect(podToMember(pod({ ip: 'fd00::5' }), options)?.url).toBe('http://[fd00::5]:8000');
  });

  it.each([
    [{ ready: 'False' }, 'not ready'],
    [{ phase: 'Pending' }, 'phase Pending'],
    [{ deleting: true }, 'terminating'],
    [{ ip: '' }, 'no pod IP'],
  ])('excludes %j (%s)', (o, reason) => {
    expect(exclusionReason(pod(o))).toBe(reason);
    expect(podToMember(pod(o), options)).toBeUndefined();
  });

  it('membersOf sorts by name and drops non-members', () => {
    const list = membersOf(
      [pod({ name: 'b', ip: '10.0.0.2' }), pod({ name: 'a', ip: '10.0.0.1' }), pod({ name: 'c', ready: 'False' })],
      options,
    );
    expect(list.map((m) => m.name)).toEqual(['a', 'b']);
  });

  it('membersOf keeps URLs unique within a role (first by name wins)', () => {
    const list = membersOf([pod({ name: 'z' }), pod({ name: 'y' })], options);
    expect(list.map((m) => m.name)).toEqual(['y']);
  });

  it('parsePort accepts 1..65535 only', () => {
    expect(parsePort('1')).toBe(1);
    expect(parsePort('65535')).toBe(65535);
    expect(parsePort('0')).toBeUndefined();
    expect(parsePort('65536')).toBeUndefined();
    expect(parsePort('80a')).toBeUndefined();
    expect(parsePort(undefined)).toBeUndefined();
  });
});

describe('membersOf across recomputes', () => {
  const versioned = (name: string, rv: string, ip = '10.0.0.5'): V1Pod => {
    const p = pod({ name, ip });
    return { ...p, metadata: { ...p.metadata, resourceVersion: rv } };
  };

  it('maps an unchanged pod object to the same Member, a replaced or re-versioned one afresh', () => {
    const pods = [versioned('a', '1', '10.0.0.1'), versioned('b', '2', '10.0.0.2'), versioned('c', '3', '10.0.0.3')];
    const first = membersOf(pods, options);
    // The informer replaces b's object (a watch event); a and c keep theirs.
    pods[1] = versioned('b', '4', '10.0.0.22');
    const second = membersOf(pods, options);
    expect(second[0]).toBe(first[0]);
    expect(second[2]).toBe(first[2]);
    expect(second[1]).not.toBe(first[1]);
    expect(second[1]?.url).toBe('http://10.0.0.22:8000');
    // The same object with a new resourceVersion (changed in place) is mapped again.
    const a = pods[0] as V1Pod;
    a.status = { ...a.status, conditions: [{ type: 'Ready', status: 'False' }] };
    (a.metadata as { resourceVersion?: string }).resourceVersion = '5';
    expect(membersOf(pods, options).map((m) => m.name)).toEqual(['b', 'c']);
  });

  it('maps a pod without a resourceVersion afresh every time', () => {
    const p = pod({ name: 'x' });
    const [m1] = membersOf([p], options);
    (p.status as { podIP?: string }).podIP = '10.0.0.9';
    const [m2] = membersOf([p], options);
    expect(m2).not.toBe(m1);
    expect(m2?.url).toBe('http://10.0.0.9:8000');
  });
});
