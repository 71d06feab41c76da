// cache_aware and selective P/D end to end: a real sim process (4 prefill + 4 decode pods), proxies on real
// ports, the openai SDK as the client. Which pod served is read from the pods' own counters.
import OpenAI from 'openai';
import { beforeAll, describe, expect, it } from 'vitest';
import { e2eFixture } from './fixture.ts';
import { adminState, MODEL, metricValue, type SimProcess, type SimStats, scrape, sumStat } from './helpers.ts';

const e2e = e2eFixture();
let sim: SimProcess;

beforeAll(async () => {
  sim = await e2e.sim({ prefill: 4, decode: 4 });
});

async function proxy(args: string[]): Promise<{ client: OpenAI; metricsUrl: string; url: string }> {
  const p = await e2e.pdProxy(sim, args);
  return {
    client: new OpenAI({ baseURL: `${p.url}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 20_000 }),
    metricsUrl: p.metricsUrl,
    url: p.url,
  };
}

/** Pods whose `key` counter grew between two stats reads. */
function grew(before: Record<string, SimStats>, after: Record<string, SimStats>, key: keyof SimStats): string[] {
  return Object.values(after)
    .filter((s) => Number(s[key]) > Number(before[s.name]?.[key] ?? 0))
    .map((s) => s.name);
}

const systemPrompt = (topic: string) =>
  `You are the assistant of the ${topic} desk. Follow the ${topic} handbook to the letter and cite its sections. `.repeat(
    12,
  );

describe('cache_aware through the proxy', () => {
  it('requests sharing a long prefix stick to one prefill and one decode pod; different prefixes spread', async () => {
    const { client, metricsUrl, url } = await proxy(['--policy', 'cache_aware']);
    const prefillPods = new Set<string>();
    for (const topic of ['billing', 'shipping', 'returns', 'warranty', 'payroll', 'travel']) {
      const before = await sim.stats();
      for (let i = 0; i < 4; i++) {
        // A different question each time: consistent hashing on the conversation start would move them.
        const res = await client.chat.completions.create({
          model: MODEL,
          messages: [
            { role: 'system', content: systemPrompt(topic) },
            { role: 'user', content: `Question ${i}: what does section ${i * 7 + 3} say?` },
          ],
          max_tokens: 4,
        });
        expect(res.choices[0]?.message.content?.length).toBeGreaterThan(0);
      }
      const after = await sim.stats();
      const prefill = grew(before, after, 'prefillRequests');
      expect(prefill, `${topic}: prefill pods`).toHaveLength(1);
      expect(sumStat(after, 'prefillRequests') - sumStat(before, 'prefillRequests')).toBe(4);
      const decode = grew(before, after, 'remotePrefillHits');
      expect(decode, `${topic}: decode pods`).toHaveLength(1);
      prefillPods.add(prefill[0] as string);
    }
    expect(prefillPods.size).toBeGreaterThanOrEqual(2);
    const text = await scrape(metricsUrl);
    // Per role: the first request of each topic had no match (cold: the ring owner of its first block, or a
    // less loaded pod when a pod's gauges still show the previous request), the 3 others matched.
    const cold = (reason: string) => metricValue(text, 'pdrouter_routing_decisions_total', { role: 'prefill', reason });
    expect(cold('ring_owner') + cold('least_loaded')).toBe(6);
    expect(metricValue(text, 'pdrouter_routing_decisions_total', { role: 'prefill', reason: 'prefix_match' })).toBe(18);
    expect(metricValue(text, 'pdrouter_prefix_index_entries', { role: 'prefill' })).toBeGreaterThan(0);
    const state = await adminState<{ prefixIndex: Record<string, { entries: number; bytes: number }> }>(url);
    expect(state.prefixIndex.prefill?.entries).toBeGreaterThan(0);
    expect(state.prefixIndex.decode?.bytes).toBeGreaterThan(0);
  });
});

describe('selective P/D', () => {
  it('a prompt shorter than --pd-min-prompt-tokens runs decode-only and is counted; a long one runs both legs', async () => {
    const { client, metricsUrl } = await proxy(['--policy', 'consistent_hash', '--pd-min-prompt-tokens', '32']);
    const before = await sim.stats();
    const short = await client.completions.create({ model: MODEL, prompt: 'Say hi.', max_tokens: 4 });
    expect(short.choices[0]?.text.length).toBeGreaterThan(0);
    const mid = await sim.stats();
    expect(sumStat(mid, 'prefillRequests') - sumStat(before, 'prefillRequests')).toBe(0);
    expect(sumStat(mid, 'localPrefillFallbacks') - sumStat(before, 'localPrefillFallbacks')).toBe(1);
    await client.completions.create({ model: MODEL, prompt: systemPrompt('long'), max_tokens: 4 });
    const after = await sim.stats();
    expect(sumStat(after, 'prefillRequests') - sumStat(mid, 'prefillRequests')).toBe(1);
    expect(sumStat(after, 'remotePrefillHits') - sumStat(mid, 'remotePrefillHits')).toBe(1);
    const text = await scrape(metricsUrl);
    expect(metricValue(text, 'pdrouter_pd_prefill_skipped_total', { reason: 'short_prompt' })).toBe(1);
    expect(metricValue(text, 'pdrouter_decode_only_fallbacks_total')).toBe(0);
  });

  it('a request whose text the chosen decode pod already served skips prefill (--pd-skip-prefill-cached-ratio)', async () => {
    const { client, metricsUrl } = await proxy([
      ...['--policy', 'cache_aware', '--pd-skip-prefill-cached-ratio', '0.9'],
    ]);
    const messages = [
      { role: 'system' as const, content: systemPrompt('archive') },
      { role: 'user' as const, content: 'Summarise the handbook.' },
    ];
    const before = await sim.stats();
    await client.chat.completions.create({ model: MODEL, messages, max_tokens: 4 });
    const mid = await sim.stats();
    expect(sumStat(mid, 'prefillRequests') - sumStat(before, 'prefillRequests')).toBe(1);
    const decodePod = grew(before, mid, 'remotePrefillHits');
    expect(decodePod).toHaveLength(1);
    await client.chat.completions.create({ model: MODEL, messages, max_tokens: 4 });
    const after = await sim.stats();
    expect(sumStat(after, 'prefillRequests') - sumStat(mid, 'prefillRequests')).toBe(0);
    expect(grew(mid, after, 'localPrefillFallbacks')).toEqual(decodePod);
    const text = await scrape(metricsUrl);
    expect(metricValue(text, 'pdrouter_pd_prefill_skipped_total', { reason: 'decode_prefix_cached' })).toBe(1);
  });
});
