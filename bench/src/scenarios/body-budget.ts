// `body-budget`: what request bodies cost the proxy. 32 concurrent bodies of the maximum size, in P/D mode
// against a pod that only drains bodies (so every millisecond measured is the proxy's), for the proxy of
// this checkout and for a baseline revision side by side (`--baseline <git rev>`: its apps/proxy/src,
// extracted with git archive next to this one so it resolves the same dependencies). Shapes:
//   prompt:  one text prompt of 8 MiB minus 1 KiB (this checkout's maximum body size, a long-context prompt)
//   objects: a prompt of `[{},{},...]`, 2 MiB (a body cheap to send and expensive to parse)
// Measured per run (fresh proxy each): event-loop delay p99 and max while the requests run (prom-client's
// nodejs_eventloop_lag_* gauges, reset by a scrape just before), peak RSS (VmHWM) and RSS after, statuses.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { request } from 'undici';
import { startProxyProcess } from '../harness/launchers.ts';
import { machineInfo, machineMarkdown, REPO_ROOT } from '../harness/machine.ts';
import { processMemoryMiB } from '../harness/process-stats.ts';
import { fetchMetricsText } from '../harness/prometheus.ts';
import { fmt, markdownTable, writeResults } from '../harness/results.ts';
import type { ScenarioContext } from './context.ts';

const MAX_BODY_BYTES = 8 * 1024 * 1024;
const SHAPES = {
  prompt: () => JSON.stringify({ model: 'm', prompt: 'x'.repeat(MAX_BODY_BYTES - 1024), max_tokens: 1 }),
  objects: () => `{"model":"m","max_tokens":1,"prompt":[${'{},'.repeat((2 * 1024 * 1024) / 3 - 20)}{}]}`,
} as const;
type Shape = keyof typeof SHAPES;
/** One request of a run; a proxy that stalls longer than this counts the request as failed. */
const REQUEST_TIMEOUT_MS = 120_000;
const KV = { remote_engine_id: 'e', remote_block_ids: [1], remote_host: '127.0.0.1', remote_port: 1 };

interface RunResult {
  variant: string;
  shape: Shape;
  round: number;
  statuses: Record<string, number>;
  wallSeconds: number;
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
  peakRssMiB: number;
  rssAfterMiB: number;
}

/** A pod that reads each body whole and answers the prefill leg with kv params and the decode leg with JSON. */
async function startDrainPod(): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const tail = Buffer.concat(chunks).subarray(-400).toString('latin1');
      const answer = tail.includes('"do_remote_decode":true')
        ? JSON.stringify({ choices: [{ text: '' }], kv_transfer_params: KV })
        : JSON.stringify({ choices: [{ text: 'ok' }] });
      // Content-Length, not chunked: the baseline relays a chunked JSON answer before its status line.
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(answer) });
      res.end(answer);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** apps/proxy/src of `rev`, extracted under apps/proxy/.baseline/<rev> (git-ignored); returns its main.ts. */
function baselineMain(rev: string): string {
  const sha = execFileSync('git', ['rev-parse', '--short=12', rev], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
  const dir = join(REPO_ROOT, 'apps', 'proxy', '.baseline', sha);
  if (!existsSync(join(dir, 'src', 'main.ts'))) {
    mkdirSync(dir, { recursive: true });
    const tar = execFileSync('git', ['archive', '--format=tar', sha, 'apps/proxy/src'], {
      cwd: REPO_ROOT,
      maxBuffer: 64 * 1024 * 1024,
    });
    execFileSync('tar', ['-x', '-C', dir, '--strip-components=2'], { input: tar });
  }
  return join(dir, 'src', 'main.ts');
}

function gauge(text: string, name: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? Number.NaN : Number(line.split(' ')[1]);
}

async function oneRun(
  variant: string,
  main: string,
  podUrl: string,
  shape: Shape,
  body: string,
  concurrency: number,
  round: number,
): Promise<RunResult> {
  const proxy = await startProxyProcess(
    ['--pd-disaggregation', '--prefill', podUrl, '--decode', podUrl, '--port', '0', '--prometheus-port', '0'],
    [],
    main,
  );
  try {
    await fetchMetricsText(proxy.metricsUrl);
    const started = performance.now();
    const statuses: Record<string, number> = {};
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        let key: string;
        try {
          const res = await request(`${proxy.url}/v1/completions`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body,
            signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
          });
          await res.body.dump();
          key = String(res.statusCode);
        } catch (err) {
          key = `error:${(err as { code?: string }).code ?? (err as Error).name}`;
        }
        statuses[key] = (statuses[key] ?? 0) + 1;
      }),
    );
    const wallSeconds = (performance.now() - started) / 1000;
    const text = await fetchMetricsText(proxy.metricsUrl);
    const mem = await processMemoryMiB(proxy.child.pid);
    return {
      variant,
      shape,
      round,
      statuses,
      wallSeconds,
      loopDelayP99Ms: gauge(text, 'nodejs_eventloop_lag_p99_seconds') * 1000,
      loopDelayMaxMs: gauge(text, 'nodejs_eventloop_lag_max_seconds') * 1000,
      peakRssMiB: mem.peakRssMiB,
      rssAfterMiB: mem.rssMiB,
    };
  } finally {
    await proxy.child.stop();
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

export async function runBodyBudgetScenario(ctx: ScenarioContext): Promise<void> {
  const concurrency = ctx.int('concurrency') ?? 32;
  const rounds = ctx.int('rounds') ?? (ctx.quick ? 1 : 3);
  const baseline = ctx.str('baseline');
  const variants: { name: string; main: string }[] = [
    { name: 'current', main: join(REPO_ROOT, 'apps', 'proxy', 'src', 'main.ts') },
  ];
  if (baseline !== undefined) variants.unshift({ name: `baseline ${baseline}`, main: baselineMain(baseline) });
  const machine = machineInfo();
  const pod = await startDrainPod();
  const results: RunResult[] = [];
  try {
    for (const shape of Object.keys(SHAPES) as Shape[]) {
      const body = SHAPES[shape]();
      for (let round = 0; round < rounds; round++) {
        // Interleaved, alternating which variant goes first.
        const order = round % 2 === 0 ? variants : [...variants].reverse();
        for (const v of order) {
          const r = await oneRun(v.name, v.main, pod.url, shape, body, concurrency, round);
          ctx.log(
            `${shape} ${v.name} #${round}: p99 ${fmt(r.loopDelayP99Ms, 0)} ms, max ${fmt(r.loopDelayMaxMs, 0)} ms, peak RSS ${fmt(r.peakRssMiB, 0)} MiB, ${JSON.stringify(r.statuses)}`,
          );
          results.push(r);
        }
      }
    }
  } finally {
    pod.server.closeAllConnections();
    await new Promise<void>((r) => pod.server.close(() => r()));
  }
  const rows: (string | number)[][] = [];
  const summary: Record<string, unknown>[] = [];
  for (const shape of Object.keys(SHAPES) as Shape[]) {
    for (const v of variants) {
      const runs = results.filter((r) => r.shape === shape && r.variant === v.name);
      const statuses: Record<string, number> = {};
      for (const r of runs) for (const [k, n] of Object.entries(r.statuses)) statuses[k] = (statuses[k] ?? 0) + n;
      const s = {
        shape,
        variant: v.name,
        runs: runs.length,
        loopDelayP99Ms: median(runs.map((r) => r.loopDelayP99Ms)),
        loopDelayMaxMs: median(runs.map((r) => r.loopDelayMaxMs)),
        peakRssMiB: median(runs.map((r) => r.peakRssMiB)),
        rssAfterMiB: median(runs.map((r) => r.rssAfterMiB)),
        wallSeconds: median(runs.map((r) => r.wallSeconds)),
        statuses,
      };
      summary.push(s);
      rows.push([
        shape,
        v.name,
        fmt(s.loopDelayP99Ms, 0),
        fmt(s.loopDelayMaxMs, 0),
        fmt(s.peakRssMiB, 0),
        fmt(s.rssAfterMiB, 0),
        fmt(s.wallSeconds, 2),
        Object.entries(statuses)
          .map(([k, n]) => `${n} x ${k}`)
          .join(', '),
      ]);
    }
  }
  const md = [
    `# body-budget: ${concurrency} concurrent maximum-size bodies`,
    '',
    machineMarkdown(machine, ctx.command),
    '',
    `Medians of ${rounds} interleaved runs per variant and shape, a fresh proxy per run (P/D mode, one pod that`,
    'drains bodies). prompt: one 8 MiB text prompt per request (the maximum body size of this checkout);',
    'objects: a 2 MiB prompt of `[{},{},...]`. Event-loop delay from prom-client (10 ms resolution) over the',
    'run; peak RSS is the process high-water mark (VmHWM); RSS after is read once the last answer arrived.',
    '',
    markdownTable(
      [
        'shape',
        'proxy',
        'loop delay p99 (ms)',
        'loop delay max (ms)',
        'peak RSS (MiB)',
        'RSS after (MiB)',
        'wall (s)',
        'answers',
      ],
      rows,
    ),
  ].join('\n');
  const files = await writeResults(
    ctx.name,
    { machine, command: ctx.command, concurrency, rounds, summary, runs: results },
    md,
  );
  ctx.log(`wrote ${files.join(', ')}`);
}
