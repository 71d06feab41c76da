// `npm start` end to end: the launcher starts the simulated pods and the router as two child processes,
// the router answers through the pods, and a SIGTERM stops everything.
import { join } from 'node:path';
import { type SpawnedProcess, spawnProcess } from '@pdrouter/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { DEMO_PODS_PER_ROLE } from '../src/index.ts';

const MAIN = join(import.meta.dirname, '..', 'src', 'main.ts');
/** Two cold Node starts in a row on a loaded machine. */
const START_TIMEOUT_MS = 40_000;
const REQUEST_TIMEOUT_MS = 10_000;

let demo: SpawnedProcess | undefined;
afterEach(async () => {
  await demo?.stop('SIGKILL');
});

interface AdminState {
  rings?: { prefill?: unknown[]; decode?: unknown[] };
}

describe('demo', () => {
  it('routes through pods in their own process; SIGTERM stops it cleanly', async () => {
    demo = await spawnProcess(process.execPath, [MAIN, '--', '--port', '0', '--prometheus-port', '0'], {
      name: 'demo',
      readyLine: (l) => l.includes('"listening"'),
      timeoutMs: START_TIMEOUT_MS,
    });
    const listening = JSON.parse(await demo.waitFor((l) => l.includes('"listening"'))) as { url: string; mode: string };
    expect(listening.mode).toBe('pd');
    const state = (await (await fetch(`${listening.url}/admin/state`)).json()) as AdminState;
    expect(JSON.stringify(state)).toContain('prefill');
    const res = await fetch(`${listening.url}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ prompt: 'Explain what machine learning is in simple terms.', max_tokens: 4 }),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const text = await res.text();
    expect(res.status, text).toBe(200);
    expect((JSON.parse(text) as { usage: { completion_tokens: number } }).usage.completion_tokens).toBe(4);
    await demo.waitFor((l) => l.includes(`${2 * DEMO_PODS_PER_ROLE} simulated pods (their own process)`), {
      stream: 'stderr',
    });
    expect(await demo.stop('SIGTERM', START_TIMEOUT_MS)).toBe(0);
  });

  it('passes a bad router flag through: the router refuses it with exit 2', async () => {
    demo = await spawnProcess(process.execPath, [MAIN, '--no-such-flag'], { name: 'demo' });
    expect(await demo.waitForExit(START_TIMEOUT_MS)).toBe(2);
    expect(demo.output()).toMatch(/no-such-flag/);
  });
});
