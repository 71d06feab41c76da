import { join } from 'node:path';
import { type SpawnedProcess, spawnProcess } from '@pdrouter/testkit';
import { freePort } from '../harness/free-port.ts';
import {
  localListenFlags,
  runLoadgenProcess,
  runWarmUpLoad,
  startProxyProcess,
  startSimFleetProcess,
} from '../harness/launchers.ts';
import { machineInfo, machineMarkdown, REPO_ROOT } from '../harness/machine.ts';
import { ensureNginx, nginxVersion, startNginx } from '../harness/nginx.ts';
import { ensurePortkey, PORTKEY_PACKAGE, PORTKEY_VERSION, portkeyHeaders, startPortkey } from '../harness/portkey.ts';
import { processTreeCpuSeconds, processTreeMemoryMiB } from '../harness/process-stats.ts';
import { fmt, markdownTable, writeResults } from '../harness/results.ts';
import type { ScenarioContext } from './context.ts';

/** Plain mode (no P/D), zero-think-time pods: what each proxy costs per relayed token. */
const PLAIN_PODS = 4;
const CONCURRENCIES = [1, 64, 256];
const INPUT_LEN = 1000;
const OUTPUT_LEN = 1000;
const QUICK_OUTPUT_LEN = 200;
/** Prompts per run: enough rounds that start-up and tail are small next to the steady state. */
const PROMPTS_PER_SLOT = 2;
const MIN_PROMPTS = 64;
const NODE_RELAY_READY_TIMEOUT_MS = 30_000;
/** Targets: CPU per 1k relayed tokens at most 2x nginx's, and below the TypeScript gateway's. */
const TARGET_CPU_VS_NGINX = 2;

type PathName = 'direct' | 'pdrouter' | 'node-relay' | 'nginx' | 'portkey';

interface PathHandle {
  readonly name: PathName;
  readonly description: string;
  readonly args: string[];
  readonly child?: SpawnedProcess;
}

interface Measurement {
  readonly path: PathName;
  readonly concurrency: number;
  readonly result: Record<string, unknown>;
  readonly routerCpuS: number | null;
  readonly routerRssMiB: number | null;
  readonly simCpuS: number;
}

const n = (r: Record<string, unknown>, key: string): number => Number(r[key]);

export async function runOverheadScenario(ctx: ScenarioContext): Promise<void> {
  const machine = machineInfo();
  const concurrencies = ctx.ints('concurrency') ?? CONCURRENCIES;
  const outputLen = ctx.int('output-len') ?? (ctx.quick ? QUICK_OUTPUT_LEN : OUTPUT_LEN);
  const skip = new Set(ctx.list('skip') ?? []);
  // --timing seed: the pods pace tokens like the seed's GPUs (one chunk per ~6 ms step) instead of streaming as
  // fast as sockets drain, so every token is its own read and write on each hop (per-chunk cost, not batching).
  const timing = ctx.str('timing') ?? 'zero';
  if (timing !== 'zero' && timing !== 'seed') throw new Error(`--timing must be zero or seed, got '${timing}'`);
  const resultName = timing === 'seed' ? `${ctx.name}-seed-timing` : ctx.name;
  const notes: string[] = [];

  ctx.log(
    `starting ${PLAIN_PODS} plain simulated pods (${timing === 'zero' ? 'zero think time, --no-think' : 'seed timing'})`,
  );
  const sim = await startSimFleetProcess(['--plain', String(PLAIN_PODS), ...(timing === 'zero' ? ['--no-think'] : [])]);
  const model = sim.pods.length > 0 ? await firstModel(sim.plain[0] as string) : 'unknown';
  const paths: PathHandle[] = [];
  try {
    paths.push({
      name: 'direct',
      description: 'the load generator picks the pod itself (consistent hash on x-request-id), no proxy',
      args: ['--backend-mode', 'oracle-plain', ...sim.plain.flatMap((u) => ['--worker-url', u])],
    });
    const proxy = await startProxyProcess([
      '--worker-urls',
      ...sim.plain,
      '--policy',
      'consistent_hash',
      ...localListenFlags(await freePort()),
    ]);
    paths.push({
      name: 'pdrouter',
      description: 'pdrouter proxy, plain mode, consistent_hash (vllm-router keys: x-request-id)',
      args: ['--base-url', proxy.url],
      child: proxy.child,
    });
    if (!skip.has('node-relay')) {
      const relayPort = await freePort();
      const child = await spawnProcess(
        process.execPath,
        [
          join(REPO_ROOT, 'bench/src/baselines/minimal-relay.ts'),
          '--port',
          String(relayPort),
          ...sim.plain.flatMap((u) => ['--worker-url', u]),
        ],
        {
          name: 'node-relay',
          readyLine: (line) => line.includes('"msg":"listening"'),
          timeoutMs: NODE_RELAY_READY_TIMEOUT_MS,
        },
      );
      paths.push({
        name: 'node-relay',
        description:
          'the floor for a Node proxy: node:http + undici, same ring, each chunk written as it comes, nothing else (bench/src/baselines/minimal-relay.ts)',
        args: ['--base-url', `http://127.0.0.1:${relayPort}`],
        child,
      });
    }
    if (!skip.has('nginx')) {
      try {
        const binary = await ensureNginx(ctx.log);
        const nginx = await startNginx(binary, await freePort(), sim.plain);
        const version = nginxVersion(binary);
        paths.push({
          name: 'nginx',
          description: `${version}, 1 worker, hash $http_x_request_id consistent, proxy_buffering off, keepalive upstreams`,
          args: ['--base-url', nginx.url],
          child: nginx.child,
        });
      } catch (err) {
        notes.push(`nginx not measured: ${(err as Error).message}`);
      }
    }
    if (!skip.has('portkey')) {
      try {
        const install = await ensurePortkey(ctx.log);
        // First as shipped, to record whether the known failure still happens, then with the preload fix.
        const bare = await startPortkey(install, await freePort(), false);
        try {
          const probe = await runLoadgenProcess([
            '--base-url',
            bare.url,
            '--model',
            model,
            ...portkeyHeaders(sim.plain),
            '--num-prompts',
            '2',
            '--random-input-len',
            '10',
            '--random-output-len',
            '4',
            '--save-detailed',
          ]).catch((err: Error) => ({ result: { completed: 0, errors: [err.message] } as Record<string, unknown> }));
          const errors = (probe.result.errors as string[] | undefined)?.filter(Boolean) ?? [];
          notes.push(
            n(probe.result, 'completed') === 0
              ? `${PORTKEY_PACKAGE}@${PORTKEY_VERSION} as shipped on Node ${process.version}: every streamed request failed (${(errors[0] ?? 'no detail').slice(0, 160)}). ` +
                  'Cause: it appends headers to the Response returned by fetch(), whose headers are immutable. ' +
                  'Measured with a 5-line `node --import` preload that copies each upstream response into a Response with mutable headers (bench/src/harness/portkey.ts).'
              : `${PORTKEY_PACKAGE}@${PORTKEY_VERSION} streamed as shipped on Node ${process.version}; the preload is still used for the measured runs.`,
          );
        } finally {
          await bare.child.stop();
        }
        const gateway = await startPortkey(install, await freePort(), true);
        paths.push({
          name: 'portkey',
          description: `${PORTKEY_PACKAGE}@${PORTKEY_VERSION} (Hono on Node), loadbalance over the pods as OpenAI custom hosts, mutable-fetch preload`,
          args: ['--base-url', gateway.url, ...portkeyHeaders(sim.plain)],
          child: gateway.child,
        });
      } catch (err) {
        notes.push(`${PORTKEY_PACKAGE} not measured: ${(err as Error).message.slice(0, 400)}`);
      }
    }

    const base = ['--model', model, '--random-input-len', String(INPUT_LEN)];
    for (const p of paths) {
      await runWarmUpLoad([...p.args, ...base]);
    }
    ctx.log(`warm-up done (${paths.map((p) => p.name).join(', ')})`);

    const measurements: Measurement[] = [];
    let seed = 0;
    for (const [i, c] of concurrencies.entries()) {
      // Rotate the order per concurrency so no path always runs first.
      const order = [...paths.slice(i % paths.length), ...paths.slice(0, i % paths.length)];
      for (const p of order) {
        seed++;
        const cpu0 = p.child ? await processTreeCpuSeconds(p.child.pid) : 0;
        const sim0 = await processTreeCpuSeconds(sim.child.pid);
        const { result } = await runLoadgenProcess([
          ...p.args,
          ...base,
          '--num-prompts',
          String(ctx.int('num-prompts') ?? Math.max(MIN_PROMPTS, PROMPTS_PER_SLOT * c)),
          '--random-output-len',
          String(outputLen),
          '--max-concurrency',
          String(c),
          '--seed',
          String(seed),
        ]);
        const routerCpuS = p.child ? (await processTreeCpuSeconds(p.child.pid)) - cpu0 : null;
        const routerRssMiB = p.child ? (await processTreeMemoryMiB(p.child.pid)).rssMiB : null;
        const simCpuS = (await processTreeCpuSeconds(sim.child.pid)) - sim0;
        measurements.push({ path: p.name, concurrency: c, result, routerCpuS, routerRssMiB, simCpuS });
        ctx.log(
          `c=${c} ${p.name}: ${fmt(n(result, 'output_throughput'), 0)} tok/s, median TTFT ${fmt(n(result, 'median_ttft_ms'))} ms` +
            `${routerCpuS === null ? '' : `, router CPU ${fmt(routerCpuS)} s`}, failed ${result.failed}`,
        );
      }
    }
    await writeOverheadResults({ ...ctx, name: resultName }, machine, paths, measurements, notes, outputLen, timing);
  } finally {
    for (const p of paths) await p.child?.stop();
    await sim.child.stop();
  }
}

async function firstModel(podUrl: string): Promise<string> {
  const res = await fetch(`${podUrl}/v1/models`, { signal: AbortSignal.timeout(10_000) });
  const body = (await res.json()) as { data?: { id?: string }[] };
  return body.data?.[0]?.id ?? 'unknown';
}

async function writeOverheadResults(
  ctx: ScenarioContext,
  machine: ReturnType<typeof machineInfo>,
  paths: PathHandle[],
  measurements: Measurement[],
  notes: string[],
  outputLen: number,
  timing: 'zero' | 'seed',
): Promise<void> {
  const direct = (c: number) => measurements.find((m) => m.path === 'direct' && m.concurrency === c)?.result;
  const rows = measurements.map((m) => {
    const d = direct(m.concurrency);
    const tokensK = n(m.result, 'total_output_tokens') / 1000;
    return {
      path: m.path,
      concurrency: m.concurrency,
      relayed_tokens_per_s: n(m.result, 'output_throughput'),
      vs_direct_throughput: d ? n(m.result, 'output_throughput') / n(d, 'output_throughput') : null,
      median_ttft_ms: n(m.result, 'median_ttft_ms'),
      p99_ttft_ms: n(m.result, 'p99_ttft_ms'),
      added_median_ttft_ms: d ? n(m.result, 'median_ttft_ms') - n(d, 'median_ttft_ms') : null,
      added_p99_ttft_ms: d ? n(m.result, 'p99_ttft_ms') - n(d, 'p99_ttft_ms') : null,
      router_cpu_s: m.routerCpuS,
      router_cpu_ms_per_1k_tokens: m.routerCpuS === null || tokensK === 0 ? null : (m.routerCpuS * 1000) / tokensK,
      router_rss_mib: m.routerRssMiB,
      sim_cpu_cores: m.simCpuS / n(m.result, 'duration'),
      client_cpu_cores: n(m.result, 'client_cpu_utilization'),
      failed: n(m.result, 'failed'),
      result: m.result,
    };
  });
  // CPU per 1k tokens over every concurrency together (total CPU / total tokens).
  const totals = Object.fromEntries(
    paths
      .filter((p) => p.name !== 'direct')
      .map((p) => {
        const mine = measurements.filter((m) => m.path === p.name);
        const cpu = mine.reduce((a, m) => a + (m.routerCpuS ?? 0), 0);
        const tokens = mine.reduce((a, m) => a + n(m.result, 'total_output_tokens'), 0);
        return [p.name, tokens > 0 ? (cpu * 1000) / (tokens / 1000) : null];
      }),
  ) as Partial<Record<PathName, number | null>>;
  const pd = totals.pdrouter ?? null;
  const ng = totals.nginx ?? null;
  const pk = totals.portkey ?? null;
  const targets = {
    cpu_per_1k_tokens_at_most_2x_nginx: pd !== null && ng !== null ? pd <= TARGET_CPU_VS_NGINX * ng : null,
    pdrouter_vs_nginx_cpu_ratio: pd !== null && ng !== null && ng > 0 ? pd / ng : null,
    cpu_per_1k_tokens_below_ts_gateway: pd !== null && pk !== null ? pd < pk : null,
    pdrouter_vs_gateway_cpu_ratio: pd !== null && pk !== null && pk > 0 ? pd / pk : null,
  };
  const json = {
    scenario: 'overhead',
    quick: ctx.quick,
    machine,
    command: ctx.command,
    setup: {
      plain_pods: PLAIN_PODS,
      sim_mode: timing === 'zero' ? 'zero think time (--no-think)' : 'seed timing (one token per engine step)',
      input_len: INPUT_LEN,
      output_len: outputLen,
      paths: paths.map((p) => ({ name: p.name, description: p.description })),
    },
    cpu_ms_per_1k_tokens_all_concurrencies: totals,
    targets,
    notes,
    rows,
  };
  const yes = (v: boolean | null): string => (v === true ? 'met' : v === false ? '**missed**' : 'not measured');
  const md = [
    `# overhead: what a proxy costs per relayed token${timing === 'seed' ? ', seed-paced tokens' : ''}${ctx.quick ? ' (--quick)' : ''}`,
    '',
    machineMarkdown(machine, ctx.command),
    '',
    `${PLAIN_PODS} plain simulated pods ${
      timing === 'zero'
        ? 'with zero think time (tokens as fast as sockets take them)'
        : 'with the seed timing (one token per ~6-8 ms engine step: every token is its own chunk on every hop)'
    }, ${INPUT_LEN} tokens in / ` +
      `${outputLen} out, streamed /v1/completions. Every process on its own (pods, proxy, load generator); router CPU from ` +
      '/proc/<pid>/stat (user + system, whole process tree) before and after each run; RSS after the run. ' +
      '"direct" is the load generator choosing the pod itself (same consistent hash), the zero-cost baseline.',
    '',
    ...paths.map((p) => `- **${p.name}**: ${p.description}`),
    '',
    markdownTable(
      [
        'Concurrency',
        'Path',
        'Relayed tok/s',
        'vs direct',
        'Median TTFT (ms)',
        'Added median TTFT (ms)',
        'P99 TTFT (ms)',
        'Added P99 TTFT (ms)',
        'Router CPU (s)',
        'CPU ms / 1k tokens',
        'RSS (MiB)',
        'Pods CPU (cores)',
        'Failed',
      ],
      rows.map((r) => [
        r.concurrency,
        r.path,
        fmt(r.relayed_tokens_per_s, 0),
        r.vs_direct_throughput === null ? '' : `${fmt(100 * r.vs_direct_throughput, 1)}%`,
        fmt(r.median_ttft_ms),
        r.path === 'direct' || r.added_median_ttft_ms === null ? '' : fmt(r.added_median_ttft_ms),
        fmt(r.p99_ttft_ms),
        r.path === 'direct' || r.added_p99_ttft_ms === null ? '' : fmt(r.added_p99_ttft_ms),
        r.router_cpu_s === null ? '' : fmt(r.router_cpu_s),
        r.router_cpu_ms_per_1k_tokens === null ? '' : fmt(r.router_cpu_ms_per_1k_tokens),
        r.router_rss_mib === null ? '' : fmt(r.router_rss_mib, 0),
        fmt(r.sim_cpu_cores),
        r.failed,
      ]),
    ),
    '',
    '## CPU per 1k relayed tokens, all concurrencies together',
    '',
    markdownTable(
      ['Path', 'CPU ms / 1k tokens'],
      Object.entries(totals).map(([k, v]) => [k, v === null || v === undefined ? 'n/a' : fmt(v)]),
    ),
    '',
    '## Targets',
    '',
    `- pdrouter CPU per 1k relayed tokens <= ${TARGET_CPU_VS_NGINX}x nginx's: ${yes(targets.cpu_per_1k_tokens_at_most_2x_nginx)}` +
      (targets.pdrouter_vs_nginx_cpu_ratio === null ? '' : ` (${fmt(targets.pdrouter_vs_nginx_cpu_ratio)}x)`),
    `- pdrouter ahead of the TypeScript gateway: ${yes(targets.cpu_per_1k_tokens_below_ts_gateway)}` +
      (targets.pdrouter_vs_gateway_cpu_ratio === null
        ? ''
        : ` (${fmt(targets.pdrouter_vs_gateway_cpu_ratio)}x its CPU)`),
    '',
    ...(notes.length > 0 ? ['## Notes', '', ...notes.map((note) => `- ${note}`)] : []),
  ].join('\n');
  const files = await writeResults(ctx.name, json, md);
  ctx.log(`wrote ${files.join(', ')}`);
}
