/**
 * Measures the simulator's own CPU per 1,000 streamed tokens: an in-process fleet of plain pods
 * streams to a load client running in a separate process, and process.cpuUsage() of this process
 * (the pods only) is divided by the tokens delivered.
 *
 *   node packages/vllm-sim/scripts/cpu-per-1k.ts [--pods 16] [--streams 16] [--tokens 1000] [--timed]
 *
 * --streams is per pod; --timed uses the calibrated timing model instead of zero-delay mode.
 */
import { join } from 'node:path';
import { type FlagSpec, parseScriptFlags } from '@pdrouter/cli';
import { runCommand } from '@pdrouter/testkit';
import { startSimFleet } from '../src/index.ts';

/** Deadline of one measurement run. */
const RUN_TIMEOUT_MS = 300_000;

const FLAGS = [
  { name: 'pods', type: 'int', min: 1, default: 16, help: 'Plain pods in the fleet.' },
  { name: 'streams', type: 'int', min: 1, default: 16, help: 'Streams per pod.' },
  { name: 'tokens', type: 'int', min: 1, default: 1000, help: 'Tokens per stream.' },
  { name: 'timed', type: 'bool', help: 'The calibrated timing model instead of zero-delay mode.' },
] as const satisfies readonly FlagSpec[];
const { pods, streams, tokens, timed } = parseScriptFlags(
  {
    program: 'node packages/vllm-sim/scripts/cpu-per-1k.ts',
    intro: ["The simulator's own CPU per 1,000 streamed tokens (the load client runs in its own process)."],
  },
  FLAGS,
);

const fleet = await startSimFleet({ plain: pods, timing: { zeroDelay: !timed } });
const urls = fleet.pods.map((p) => p.url);
const cpuBefore = process.cpuUsage();
const wallBefore = performance.now();
const client = await runCommand(
  process.execPath,
  [
    join(import.meta.dirname, 'cpu-load-client.ts'),
    '--urls',
    ...urls,
    '--streams',
    String(streams),
    '--tokens',
    String(tokens),
  ],
  { timeoutMs: RUN_TIMEOUT_MS },
);
const cpu = process.cpuUsage(cpuBefore);
const wallMs = performance.now() - wallBefore;
await fleet.close();
if (client.code !== 0) throw new Error(`load client exited with ${client.code}: ${client.stderr}`);
const result = JSON.parse(client.stdout) as { tokens: number; wallMs: number; streams: number };
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
