// `soak`: the proxy under mixed traffic for a while, sampled for leaks. 2 prefill + 2 decode simulated pods
// (one process), the proxy in its own process; 16 clients loop over streamed chat, plain completions,
// streams the client aborts at a random point, and malformed bodies. Pod faults change every 5 s (500s,
// 503s, streams dropped mid-way, stalls before headers, on a random pod; then healthy again). Every 2 s
// the proxy's RSS and open file descriptors are sampled. `--duration-secs N` (default 120, --quick 30).
import { readdir } from 'node:fs/promises';
import { request } from 'undici';
import { pdPodFlags, startProxyProcess, startSimFleetProcess } from '../harness/launchers.ts';
import { machineInfo, machineMarkdown } from '../harness/machine.ts';
import { processMemoryMiB } from '../harness/process-stats.ts';
import { fmt, markdownTable, writeResults } from '../harness/results.ts';
import type { ScenarioContext } from './context.ts';

const CLIENTS = 16;
const SAMPLE_EVERY_MS = 2000;
const FAULT_EVERY_MS = 5000;
/** A request silent for longer counts as hung (a failure of the run). */
const REQUEST_TIMEOUT_MS = 30_000;
const MODEL = 'meta-llama/Llama-3.1-8B-Instruct';

type Kind = 'stream' | 'completion' | 'abort' | 'malformed';
interface Sample {
  atS: number;
  rssMiB: number;
  fds: number;
}

async function openFds(pid: number): Promise<number> {
  return (await readdir(`/proc/${pid}/fd`)).length;
}

export async function runSoakScenario(ctx: ScenarioContext): Promise<void> {
  const durationS = ctx.int('duration-secs') ?? (ctx.quick ? 30 : 120);
  const machine = machineInfo();
  const sim = await startSimFleetProcess([
    '--prefill',
    '2',
    '--decode',
    '2',
    '--base-port',
    '0',
    '--control-port',
    '0',
  ]);
  const proxy = await startProxyProcess([
    '--pd-disaggregation',
    ...pdPodFlags(sim),
    '--port',
    '0',
    '--prometheus-port',
    '0',
  ]);
  const outcomes: Record<string, number> = {};
  const count = (k: string) => {
    outcomes[k] = (outcomes[k] ?? 0) + 1;
  };
  const samples: Sample[] = [];
  const started = Date.now();
  const endAt = started + durationS * 1000;
  let seed = 1;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const pods = sim.pods.map((p) => p.name);
  const setFaults = async (name: string, faults: Record<string, number>) => {
    const res = await request(`${sim.control}/pods/${encodeURIComponent(name)}/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(faults),
    });
    await res.body.dump();
  };
  const HEALTHY = { errorRate500: 0, errorRate503: 0, dropAfterTokens: -1, stallBeforeHeadersMs: 0 };
  const FAULTS = [{ errorRate500: 0.5 }, { errorRate503: 0.5 }, { dropAfterTokens: 3 }, { stallBeforeHeadersMs: 300 }];

  const one = async (kind: Kind): Promise<void> => {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new Error('hung')), REQUEST_TIMEOUT_MS);
    try {
      const chat = kind === 'stream' || kind === 'abort';
      const body =
        kind === 'malformed'
          ? ['{"prompt":', '[]', '{"messages":"x"}', `{"prompt":[${'{},'.repeat(200_000)}{}]}`][Math.floor(rand() * 4)]
          : JSON.stringify(
              chat
                ? {
                    model: MODEL,
                    messages: [{ role: 'user', content: `soak ${rand()}` }],
                    max_tokens: 24,
                    stream: true,
                  }
                : { model: MODEL, prompt: `soak ${rand()}`, max_tokens: 16 },
            );
      const res = await request(`${proxy.url}${chat ? '/v1/chat/completions' : '/v1/completions'}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
        signal: controller.signal,
      });
      if (kind === 'abort') {
        const after = Math.floor(rand() * 200);
        res.body.on('error', () => {});
        res.body.resume();
        await new Promise((r) => setTimeout(r, after));
        res.body.destroy();
        count('aborted by client');
        return;
      }
      await res.body.dump();
      count(`${kind} ${res.statusCode}`);
    } catch (err) {
      count(`${kind} error:${(err as { code?: string }).code ?? (err as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
  };

  const sampler = setInterval(() => {
    void (async () => {
      const mem = await processMemoryMiB(proxy.child.pid);
      samples.push({ atS: (Date.now() - started) / 1000, rssMiB: mem.rssMiB, fds: await openFds(proxy.child.pid) });
    })();
  }, SAMPLE_EVERY_MS);
  const faulter = setInterval(() => {
    void (async () => {
      for (const p of pods) await setFaults(p, HEALTHY);
      if (rand() < 0.75)
        await setFaults(pods[Math.floor(rand() * pods.length)] as string, {
          ...HEALTHY,
          ...FAULTS[Math.floor(rand() * FAULTS.length)],
        });
    })().catch(() => count('fault control failed'));
  }, FAULT_EVERY_MS);
  try {
    await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        while (Date.now() < endAt) {
          const x = rand();
          await one(x < 0.45 ? 'stream' : x < 0.75 ? 'completion' : x < 0.92 ? 'abort' : 'malformed');
        }
      }),
    );
  } finally {
    clearInterval(sampler);
    clearInterval(faulter);
  }
  // Settled: the last sample after the pods are healthy and the traffic stopped.
  for (const p of pods) await setFaults(p, HEALTHY).catch(() => {});
  await new Promise((r) => setTimeout(r, SAMPLE_EVERY_MS));
  const mem = await processMemoryMiB(proxy.child.pid);
  const settled = { rssMiB: mem.rssMiB, fds: await openFds(proxy.child.pid) };
  await proxy.child.stop();
  await sim.child.stop();

  const firstQuarter = samples.slice(0, Math.max(1, Math.floor(samples.length / 4)));
  const lastQuarter = samples.slice(-Math.max(1, Math.floor(samples.length / 4)));
  const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const summary = {
    durationS,
    requests: Object.values(outcomes).reduce((a, b) => a + b, 0),
    hung: Object.entries(outcomes)
      .filter(([k]) => k.includes('hung'))
      .reduce((a, [, n]) => a + n, 0),
    rssMiB: {
      firstQuarterAvg: avg(firstQuarter.map((s) => s.rssMiB)),
      lastQuarterAvg: avg(lastQuarter.map((s) => s.rssMiB)),
      max: Math.max(...samples.map((s) => s.rssMiB)),
      settled: settled.rssMiB,
    },
    fds: {
      firstQuarterAvg: avg(firstQuarter.map((s) => s.fds)),
      lastQuarterAvg: avg(lastQuarter.map((s) => s.fds)),
      max: Math.max(...samples.map((s) => s.fds)),
      settled: settled.fds,
    },
    outcomes,
  };
  const md = [
    `# soak: ${durationS} s of mixed traffic with aborts and pod faults`,
    '',
    machineMarkdown(machine, ctx.command),
    '',
    `${CLIENTS} clients in a loop (45% streamed chat, 30% completions, 17% streams aborted by the client within`,
    '200 ms, 8% malformed bodies) through the proxy in P/D mode to 2 + 2 simulated pods; every 5 s a random pod',
    'gets 500s, 503s, dropped streams or a stall before headers (or none). Proxy RSS and open fds sampled every 2 s.',
    '',
    markdownTable(
      ['', 'first quarter (avg)', 'last quarter (avg)', 'max', 'settled'],
      [
        [
          'RSS (MiB)',
          fmt(summary.rssMiB.firstQuarterAvg, 0),
          fmt(summary.rssMiB.lastQuarterAvg, 0),
          fmt(summary.rssMiB.max, 0),
          fmt(summary.rssMiB.settled, 0),
        ],
        [
          'open fds',
          fmt(summary.fds.firstQuarterAvg, 0),
          fmt(summary.fds.lastQuarterAvg, 0),
          fmt(summary.fds.max, 0),
          fmt(summary.fds.settled, 0),
        ],
      ],
    ),
    '',
    `${summary.requests} requests, ${summary.hung} hung.`,
    '',
    markdownTable(
      ['outcome', 'requests'],
      Object.entries(outcomes)
        .sort((a, b) => b[1] - a[1])
        .map(([k, n]) => [k, n]),
    ),
  ].join('\n');
  const files = await writeResults(ctx.name, { machine, command: ctx.command, summary, samples }, md);
  ctx.log(`wrote ${files.join(', ')}`);
}
