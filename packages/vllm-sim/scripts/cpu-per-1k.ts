/**
 * Measures the simulator's own CPU per 1,000 streamed tokens: an in-process fleet of plain pods
 * streams to a load client running in a separate process, and process.cpuUsage() of this process
 * (the pods only) is divided by the tokens delivered.
 *
 *   node packages/vllm-sim/scripts/cpu-per-1k.ts [--pods 16] [--streams 16] [--tokens 1000] [--timed]
 *
 * --streams is per pod; --timed uses the calibrated timing model instead of zero-delay mode.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { startSimFleet } from '../src/index.ts';

/** Deadline of one measurement run. */
const RUN_TIMEOUT_MS = 300_000;

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i === -1) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v <= 0) throw new Error(`--${name} needs a positive integer`);
  return v;
}

const pods = flag('pods', 16);
const streams = flag('streams', 16);
const tokens = flag('tokens', 1000);
const timed = process.argv.includes('--timed');

const fleet = await startSimFleet({ plain: pods, timing: { zeroDelay: !timed } });
const urls = fleet.pods.map((p) => p.url);
const client = spawn(
  process.execPath,
  [join(import.meta.dirname, 'cpu-load-client.ts'), JSON.stringify(urls), String(streams), String(tokens)],
  {
    stdio: ['ignore', 'pipe', 'inherit'],
  },
);
let out = '';
client.stdout.on('data', (c: Buffer) => {
  out += c.toString('utf8');
});
const cpuBefore = process.cpuUsage();
const wallBefore = performance.now();
const code = await new Promise<number | null>((resolve, reject) => {
  const timer = setTimeout(() => {
    client.kill('SIGKILL');
    reject(new Error(`no result within ${RUN_TIMEOUT_MS} ms`));
  }, RUN_TIMEOUT_MS);
  client.on('exit', (c) => {
    clearTimeout(timer);
    resolve(c);
  });
});
const cpu = process.cpuUsage(cpuBefore);
const wallMs = performance.now() - wallBefore;
await fleet.close();
if (code !== 0) throw new Error(`load client exited with ${code}`);
const result = JSON.parse(out) as { tokens: number; wallMs: number; streams: number };
const cpuMs = (cpu.user + cpu.system) / 1000;
const generated = fleet.pods.reduce((a, p) => a + p.stats().generationTokens, 0);
process.stdout.write(
  `${JSON.stringify({
    mode: timed ? 'timed' : 'zero-delay',
    pods,
    streamsPerPod: streams,
    tokensPerStream: tokens,
    tokensDelivered: result.tokens,
    tokensGenerated: generated,
    wallMs: Math.round(wallMs),
    simCpuMs: Math.round(cpuMs),
    simCpuUserMs: Math.round(cpu.user / 1000),
    simCpuSystemMs: Math.round(cpu.system / 1000),
    simCpuMsPer1kTokens: Number(((cpuMs / result.tokens) * 1000).toFixed(2)),
    simCpuCoresBusy: Number((cpuMs / wallMs).toFixed(2)),
  })}\n`,
);
