import type { Member, Snapshot } from '@pdrouter/core';
import { FakeClock } from '@pdrouter/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { buildConfig } from './config.ts';
import { parseFlags } from './flags.ts';
import { silentLogger } from './logger.ts';
import { ProxyMetrics } from './metrics.ts';
import { PodScraper } from './pod-scraper.ts';
import { PodRegistry } from './pods.ts';
import { REGISTRY_STEP_MEMBERS, RegistryUpdates, registryUpdate } from './registry-update.ts';
import { RouterState, type RoutingTable } from './router-state.ts';

// The registries' part of a table swap, in slices: whatever the size of the change and however the
// updates queue up, the registries end where setMembers with the last table's members puts them.

// The proxy's default health settings (only the registry's bookkeeping is under test here).
const HEALTH = buildConfig(parseFlags(['--snapshot-file', '/unused'])).health;

const member = (i: number): Member => ({
  name: `pod-${String(i).padStart(5, '0')}`,
  uid: `u-${i}`,
  url: `http://10.1.${i >> 8}.${i & 255}:8000`,
  ready: true,
});

let seq = 0;
const snapshot = (ids: readonly number[]): Snapshot => ({
  pool: 'p',
  epoch: 1,
  seq: ++seq,
  time: '2026-01-01T00:00:00.000Z',
  members: { prefill: [], decode: ids.map(member), plain: [] },
});

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

function registries() {
  const clock = new FakeClock();
  const metrics = new ProxyMetrics({ defaultMetrics: false });
  const pods = new PodRegistry({ config: HEALTH, metrics, logger: silentLogger, clock, random: () => 0.5 });
  const scraper = new PodScraper({
    settings: { intervalMs: 1000, timeoutMs: 500, staleMs: 5000 },
    // The fake clock never fires the scrape timers: no read is made.
    fetch: () => Promise.reject(new Error('not read in these tests')),
    clock,
    metrics,
    random: () => 0,
  });
  return { pods, scraper, metrics };
}

const states: RouterState[] = [];
afterEach(async () => {
  for (const s of states.splice(0)) await s.close();
});

async function tables(...memberships: number[][]): Promise<{ table: RoutingTable; merged: boolean }[]> {
  const state = new RouterState({ vnodes: 4 });
  states.push(state);
  const out: { table: RoutingTable; merged: boolean }[] = [];
  for (const ids of memberships) {
    const r = await state.apply(snapshot(ids));
    if (!r.ok) throw new Error(r.error);
    out.push({ table: r.table, merged: r.previous !== undefined && r.table.keyChanges !== undefined });
  }
  return out;
}

const keysOf = (t: RoutingTable) => [...t.members.prefill, ...t.members.decode, ...t.members.plain];
const sorted = (xs: Iterable<string>) => [...xs].sort();

describe('registry updates in slices', () => {
  it('a large first membership, then a mass change and a one-pod change queued at once, end as setMembers would', async () => {
    const [first, mass, one] = await tables(
      range(0, 3_000),
      [...range(900, 3_000), ...range(5_000, 5_900)],
      [...range(901, 3_000), ...range(5_000, 5_900)],
    );
    if (!first || !mass || !one) throw new Error('tables');
    expect(one.merged).toBe(true);
    const { pods, scraper } = registries();
    const updates = new RegistryUpdates((err) => {
      throw err;
    });
    for (const t of [first, mass, one]) updates.run(registryUpdate(t.table, t.merged, pods, scraper));
    await updates.settled();
    expect(sorted(pods.memberUrls())).toEqual(sorted(keysOf(one.table)));
    expect(sorted(scraper.views().map((v) => v.url))).toEqual(sorted(keysOf(one.table)));
    // Against the same registries fed in one call each.
    const direct = registries();
    for (const t of [first, mass, one]) {
      direct.pods.setMembers(keysOf(t.table));
      direct.scraper.setMembers(keysOf(t.table).map((k) => [k, k] as const));
    }
    expect(sorted(pods.memberUrls())).toEqual(sorted(direct.pods.memberUrls()));
    // Pods that left have no state (nothing was in flight): only members show in the gauges.
    expect(pods.isOut(member(0).url)).toBe(false);
    expect(pods.inFlight(member(0).url)).toBe(0);
  });

  it('lets the event loop run during a large change, and not during a small one', async () => {
    const [first, one] = await tables(range(0, 4_000), range(1, 4_000));
    if (!first || !one) throw new Error('tables');
    const { pods, scraper } = registries();
    // Slices of 0 ms: a pause after every step, whatever the machine's speed.
    const updates = new RegistryUpdates(
      (err) => {
        throw err;
      },
      { sliceMs: 0 },
    );
    let turns = 0;
    const ticker = setInterval(() => turns++, 0);
    try {
      updates.run(registryUpdate(first.table, first.merged, pods, scraper));
      // The first step is in: the update goes on between turns of the event loop.
      expect(pods.memberUrls().length).toBeLessThan(4_000);
      await updates.settled();
      expect(pods.memberUrls()).toHaveLength(4_000);
      // Timers fired while it went on: done in one go, the interval would not have run once.
      expect(turns).toBeGreaterThan(0);
      expect(one.table.keyChanges?.left).toEqual([member(0).url]);
      expect(one.table.keyChanges?.left.length).toBeLessThanOrEqual(REGISTRY_STEP_MEMBERS);
      // A one-pod change with nothing queued is in the registries when run() returns.
      updates.run(registryUpdate(one.table, one.merged, pods, scraper));
      expect(pods.memberUrls()).toHaveLength(3_999);
      expect(pods.memberUrls()).not.toContain(member(0).url);
    } finally {
      clearInterval(ticker);
    }
  });
});
