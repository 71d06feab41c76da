// `pdrouterctl explain` against the proxy's actual routing: a real proxy process in P/D mode in front of
// simulated pods, and for each request the pods whose counters moved are the ones explain named.
import { join } from 'node:path';
import { type SpawnedProcess, spawnProcess } from '@pdrouter/testkit';
import { type SimFleet, startSimFleet } from '@pdrouter/vllm-sim';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { REPO_ROOT, runCli } from './run-cli.ts';

const PROXY_MAIN = join(REPO_ROOT, 'apps/proxy/src/main.ts');
/** One tiny generation through the proxy (zero-delay pods; generous for a loaded machine). */
const REQUEST_TIMEOUT_MS = 10_000;
const MODEL = 'sim-model';

const PROMPTS = [
  'Explain what machine learning is in simple terms.',
  'Write a haiku about consistent hashing.',
  'What is the capital of France?',
  'Summarise the plot of Hamlet in one sentence.',
  'List three prime numbers above one hundred.',
  'Why is the sky blue?',
];

describe('explain names the pods the proxy routes to', () => {
  let fleet: SimFleet;
  let proxy: SpawnedProcess;
  let proxyUrl: string;
  let podArgs: string[];

  beforeAll(async () => {
    fleet = await startSimFleet({
      prefill: 4,
      decode: 3,
      host: '127.0.0.1',
      basePort: 0,
      model: MODEL,
      timing: { zeroDelay: true },
    });
    podArgs = [
      ...fleet.prefill.flatMap((p) => ['--prefill', p.url]),
      ...fleet.decode.flatMap((p) => ['--decode', p.url]),
    ];
    proxy = await spawnProcess(
      process.execPath,
      [PROXY_MAIN, '--pd-disaggregation', ...podArgs, '--host', '127.0.0.1', '--port', '0', '--prometheus-port', '0'],
      { name: 'proxy', readyLine: (l) => l.includes('"listening"') },
    );
    const line = await proxy.waitFor((l) => l.includes('"listening"'));
    proxyUrl = (JSON.parse(line) as { url: string }).url;
  });
  afterAll(async () => {
    await proxy?.stop();
    await fleet?.close();
  });

  test.each(PROMPTS)('%s', async (prompt) => {
    const body = { model: MODEL, prompt, max_tokens: 2 };
    const r = await runCli(['explain', ...podArgs, '--body', JSON.stringify(body)]);
    expect(r.stderr).toBe('');
    const explained = JSON.parse(r.stdout) as { prefill: { owner: string }; decode: { owner: string } };

    const before = new Map(fleet.pods.map((p) => [p.url, p.stats().requests]));
    const res = await fetch(`${proxyUrl}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    expect(res.status, await res.clone().text()).toBe(200);
    await res.arrayBuffer();
    const served = (pods: SimFleet['prefill']) =>
      pods.filter((p) => p.stats().requests > (before.get(p.url) ?? 0)).map((p) => p.url);
    expect(served(fleet.prefill)).toEqual([explained.prefill.owner]);
    expect(served(fleet.decode)).toEqual([explained.decode.owner]);
  });

  test('the prompts do not all land on one pod (the comparison can tell pods apart)', async () => {
    const owners = new Set<string>();
    for (const prompt of PROMPTS) {
      const r = await runCli([
        'explain',
        ...podArgs,
        '--body',
        JSON.stringify({ model: MODEL, prompt, max_tokens: 2 }),
      ]);
      owners.add((JSON.parse(r.stdout) as { prefill: { owner: string } }).prefill.owner);
    }
    expect(owners.size).toBeGreaterThan(1);
  });
});
