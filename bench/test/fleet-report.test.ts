import { describe, expect, it } from 'vitest';
import { type FleetJson, type FleetRow, slowPodsShare, targets } from '../src/fleet/report.ts';
import { CACHE_AWARE, CONSISTENT_HASH_VLLM, LOAD_AWARE } from '../src/fleet/variants.ts';
import { fleetWorkloads } from '../src/fleet/workloads.ts';

const role = (hitRate: number, busiest: number, perPod: Record<string, number> = {}) => ({
  prefix_cache_hits: 0,
  prefix_cache_queries: 0,
  hit_rate: hitRate,
  requests_per_pod: perPod,
  busiest_over_mean: busiest,
});

function row(
  workload: string,
  variant: string,
  replicas: number,
  o: Partial<{ hit: number; busiest: number; p99: number; tput: number; perPod: Record<string, number> }>,
): FleetRow {
  return {
    workload,
    variant,
    replicas,
    proxy_args: [],
    ideal_hit_rate: 0.8,
    prefill: role(o.hit ?? 0, o.busiest ?? 1),
    decode: role(o.hit ?? 0, o.busiest ?? 1, o.perPod),
    agreement: undefined,
    proxy_cpu_s: 0,
    proxy_cpu_ms_per_1k_output_tokens: undefined,
    result: {
      completed: 1,
      failed: 0,
      duration_s: 1,
      output_throughput: o.tput ?? 1000,
      request_throughput: 1,
      total_input_tokens: 1,
      total_output_tokens: 1,
      median_ttft_ms: 1,
      p99_ttft_ms: o.p99 ?? 100,
      mean_ttft_ms: 1,
      median_tpot_ms: 1,
      p99_tpot_ms: 1,
      client_cpu_ms_per_1k_output_tokens: 1,
    },
  };
}

function json(rows: FleetRow[], decision: FleetJson['decision_cost'] = []): FleetJson {
  return {
    quick: false,
    machine: { cpuModel: 'x', cores: 2, memoryGiB: 1, node: 'v24', commit: 'c', date: 'd' },
    command: 'cmd',
    wall_s: 1,
    variants_not_implemented: [],
    decision_cost: decision,
    workloads: fleetWorkloads(false).map((w) => ({
      workload: w,
      ideal: { requests: 1, queryTokens: 10, hitTokens: 8, rate: 0.8 },
      prompt_tokens: 10,
      rows: rows.filter((r) => r.workload === w.name),
    })),
  };
}

describe('fleet targets', () => {
  it('says not measured for every target when nothing ran, never met', () => {
    const t = targets(json([]));
    expect(t).toHaveLength(6);
    expect(t.every((x) => x.met === undefined && x.measured === 'not measured')).toBe(true);
  });

  it('checks hit rate against 95% of the ideal and the spread against 1.2, and 2 replicas within 3 points', () => {
    const good = targets(
      json([
        row('multi-turn', CACHE_AWARE.name, 1, { hit: 0.77, busiest: 1.15 }),
        row('multi-turn', CACHE_AWARE.name, 2, { hit: 0.75 }),
      ]),
    );
    expect(good[0]?.met).toBe(true); // 0.77 / 0.8 = 96%
    expect(good[1]?.met).toBe(true); // 2 points apart
    const bad = targets(
      json([
        row('multi-turn', CACHE_AWARE.name, 1, { hit: 0.77, busiest: 1.3 }),
        row('multi-turn', CACHE_AWARE.name, 2, { hit: 0.7 }),
      ]),
    );
    expect(bad[0]?.met).toBe(false);
    expect(bad[1]?.met).toBe(false);
  });

  it('needs a 30% lower p99 TTFT at equal throughput on the heterogeneous fleet, and 2% of throughput on random', () => {
    const t = targets(
      json([
        row('heterogeneous', CONSISTENT_HASH_VLLM.name, 1, { p99: 1000, tput: 1000 }),
        row('heterogeneous', LOAD_AWARE.name, 1, { p99: 650, tput: 1010 }),
        row('random', CONSISTENT_HASH_VLLM.name, 1, { tput: 1000 }),
        row('random', CACHE_AWARE.name, 1, { tput: 985 }),
        row('random', LOAD_AWARE.name, 1, { tput: 970 }),
      ]),
    );
    expect(t[2]?.met).toBe(true);
    expect(t[3]?.met).toBe(true);
    expect(t[4]?.met).toBe(false);
    const slower = targets(
      json([
        row('heterogeneous', CONSISTENT_HASH_VLLM.name, 1, { p99: 1000, tput: 1000 }),
        row('heterogeneous', LOAD_AWARE.name, 1, { p99: 650, tput: 900 }),
      ]),
    );
    expect(slower[2]?.met).toBe(false); // not at equal throughput
  });

  it('takes the worst policy at 16 pods for the decision cost', () => {
    const cost = (policy: string, pods: number, p99: number) => ({
      policy,
      pods,
      requests: 1,
      mean_us: 1,
      p50_us: 1,
      p99_us: p99,
      pick_p50_us: 1,
      pick_p99_us: 1,
    });
    const t = targets(json([], [cost('a', 16, 10), cost('b', 16, 60), cost('a', 1000, 500)]));
    expect(t[5]?.met).toBe(false);
    expect(t[5]?.measured).toContain('b');
    expect(targets(json([], [cost('a', 16, 10), cost('a', 1000, 500)]))[5]?.met).toBe(true);
  });

  it("counts the slow decode pods' share of decode requests", () => {
    const r = row('heterogeneous', LOAD_AWARE.name, 1, { perPod: { 'decode-0': 30, 'decode-6': 5, 'decode-7': 5 } });
    expect(slowPodsShare(r)).toBeCloseTo(10 / 40, 12);
  });
});
