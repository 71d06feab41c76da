import { describe, expect, it } from 'vitest';
import { loopbackIp, MAX_PODS, SPARE_PODS_PER_ROLE, scalePods } from './scale-plan.ts';

describe('loopbackIp', () => {
  it('counts through 127.1.1.1 .. 127.250.250.250 without .0 octets', () => {
    expect(loopbackIp(0)).toBe('127.1.1.1');
    expect(loopbackIp(249)).toBe('127.1.1.250');
    expect(loopbackIp(250)).toBe('127.1.2.1');
    expect(loopbackIp(250 * 250)).toBe('127.2.1.1');
    expect(loopbackIp(MAX_PODS - 1)).toBe('127.250.250.250');
    expect(() => loopbackIp(MAX_PODS)).toThrow(/out of range/);
  });
});

describe('scalePods', () => {
  const ports = { prefill: [8000, 8001], decode: [9000, 9001, 9002] };

  it('splits the members between the roles, each at its own URL on a real pod of its role', () => {
    const { members, spares } = scalePods(10_001, ports);
    expect(members).toHaveLength(10_001);
    expect(members.filter((p) => p.role === 'prefill')).toHaveLength(5_000);
    expect(spares).toHaveLength(2 * SPARE_PODS_PER_ROLE);
    const all = [...members, ...spares];
    expect(new Set(all.map((p) => p.url)).size).toBe(all.length);
    expect(new Set(all.map((p) => p.name)).size).toBe(all.length);
    for (const p of all) {
      expect(ports[p.role]).toContain(p.port);
      expect(p.url).toBe(`http://${p.ip}:${p.port}`);
    }
    // Every real pod serves members.
    expect(new Set(members.map((p) => p.port))).toEqual(new Set([...ports.prefill, ...ports.decode]));
  });

  it('refuses a pool it cannot lay out', () => {
    expect(() => scalePods(1, ports)).toThrow(/at least 2/);
    expect(() => scalePods(10, { prefill: [], decode: [1] })).toThrow(/real pod/);
  });
});
