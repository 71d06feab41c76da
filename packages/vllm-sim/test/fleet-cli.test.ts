import { createServer } from 'node:net';
import { join } from 'node:path';
import { type SpawnedProcess, spawnProcess } from '@pdrouter/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { simHelpText, startControlServer } from '../src/index.ts';
import { getText, postJson, startFleet, startPod, stopAll, WAIT_DEADLINE_MS } from './helpers.ts';

const MAIN = join(import.meta.dirname, '..', 'src', 'main.ts');
/** Deadline for the CLI to print its ready line (process start + module load on a loaded machine). */
const READY_DEADLINE_MS = 20_000;

const children: SpawnedProcess[] = [];

afterEach(async () => {
  await Promise.all(children.splice(0).map((c) => c.stop('SIGKILL')));
  await stopAll();
});

interface ReadyLine {
  event: string;
  pods: { name: string; role: string; url: string }[];
  control: string;
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

/** A base below Linux's ephemeral range (32768+) with `count` free ports, so outgoing sockets cannot take them. */
async function freeConsecutivePorts(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 12_000 + Math.floor(Math.random() * 18_000);
    let free = true;
    for (let i = 0; i < count && free; i++) free = await portIsFree(base + i);
    if (free) return base;
  }
  throw new Error(`no ${count} consecutive free ports found below 30000`);
}

async function runCli(args: string[]) {
  const proc = await spawnProcess(process.execPath, [MAIN, ...args], { name: 'vllm-sim' });
  children.push(proc);
  const ready = proc
    .waitFor(() => true, { stream: 'stdout', timeoutMs: READY_DEADLINE_MS })
    .then((line) => JSON.parse(line) as ReadyLine);
  ready.catch(() => {});
  return {
    proc,
    ready,
    output: () => ({ stdout: proc.lines.join('\n'), stderr: proc.errLines.join('\n') }),
  };
}

describe('multi-pod CLI (subprocess)', () => {
  it('prints one ready line, serves every pod and its control server, stops on SIGTERM', async () => {
    const run = await runCli(['--prefill', '2', '--decode', '2', '--plain', '1', '--no-think', '--seed', '5']);
    const ready = await run.ready;
    expect(ready.event).toBe('ready');
    expect(ready.pods.map((p) => [p.name, p.role])).toEqual([
      ['prefill-0', 'prefill'],
      ['prefill-1', 'prefill'],
      ['decode-0', 'decode'],
      ['decode-1', 'decode'],
      ['plain-0', 'both'],
    ]);
    expect(Object.keys(ready)).toEqual(['event', 'pods', 'control']);
    for (const pod of ready.pods) {
      expect(pod.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect((await getText(`${pod.url}/health`)).status).toBe(200);
    }
    const plain = ready.pods[4]?.url as string;
    expect((await postJson(`${plain}/v1/completions`, { prompt: 'hi', max_tokens: 2 })).status).toBe(200);
    const pods = JSON.parse((await getText(`${ready.control}/pods`)).text) as {
      pods: { name: string; requests: number }[];
    };
    expect(pods.pods.find((p) => p.name === 'plain-0')?.requests).toBe(1);
    run.proc.proc.kill('SIGTERM');
    expect(await run.proc.waitForExit(WAIT_DEADLINE_MS)).toBe(0);
    expect(run.output().stdout.trim().split('\n')).toHaveLength(1);
  });

  it('takes consecutive ports from --base-port', async () => {
    const base = await freeConsecutivePorts(3);
    const run = await runCli(['--prefill', '1', '--decode', '2', `--base-port=${base}`]);
    const ready = await run.ready;
    expect(ready.pods.map((p) => p.url)).toEqual([0, 1, 2].map((i) => `http://127.0.0.1:${base + i}`));
    run.proc.proc.kill('SIGINT');
    expect(await run.proc.waitForExit(WAIT_DEADLINE_MS)).toBe(0);
  });

  it('exits 1 with the reason when a pod port is taken', async () => {
    const pod = await startPod();
    const run = await runCli(['--plain', '1', '--base-port', String(pod.port)]);
    expect(await run.proc.waitForExit(READY_DEADLINE_MS)).toBe(1);
    expect(run.output().stderr).toContain('EADDRINUSE');
    expect(run.output().stdout).toBe('');
  });

  it('--help prints the help of the flag table and exits 0 without starting a pod', async () => {
    const run = await runCli(['--plain', '1', '--help']);
    expect(await run.proc.waitForExit(READY_DEADLINE_MS)).toBe(0);
    // The output as lines: the text the table renders, less its final newline.
    expect(run.output().stdout).toBe(simHelpText().replace(/\n$/, ''));
    expect(run.output().stderr).toBe('');
  });

  it('exits 2 with a clear message on a bad flag', async () => {
    const run = await runCli(['--prefill', 'two']);
    expect(await run.proc.waitForExit(READY_DEADLINE_MS)).toBe(2);
    expect(run.output().stderr).toContain('--prefill expects an integer, got "two"');
  });
});

describe('control server', () => {
  it('reports stats and switches faults, stop and start per pod', async () => {
    const fleet = await startFleet({ prefill: 1, decode: 1 });
    const control = await startControlServer(fleet);
    try {
      const d = fleet.decode[0];
      if (!d) throw new Error('no decode pod');
      const all = JSON.parse((await getText(`${control.url}/pods`)).text) as { pods: { name: string }[] };
      expect(all.pods.map((p) => p.name)).toEqual(['prefill-0', 'decode-0']);
      const set = await postJson(`${control.url}/pods/decode-0/faults`, { errorRate503: 1 });
      expect(set.status).toBe(200);
      expect((await postJson(`${d.url}/v1/completions`, { prompt: 'a' })).status).toBe(503);
      const bad = await postJson(`${control.url}/pods/decode-0/faults`, { errorRate503: 2 });
      expect(bad.status).toBe(400);
      expect(bad.text).toContain("'errorRate503' must be between 0 and 1");
      expect((await postJson(`${control.url}/pods/decode-0/faults`, { nope: 1 })).status).toBe(400);
      expect((await postJson(`${control.url}/pods/decode-0/faults`, '{oops')).status).toBe(400);
      expect((await postJson(`${control.url}/pods/decode-9/stop`, {})).status).toBe(404);
      expect((await postJson(`${control.url}/pods/decode-0/stop`, {})).status).toBe(200);
      expect(d.up).toBe(false);
      await expect(getText(`${d.url}/health`)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
      const started = await postJson(`${control.url}/pods/decode-0/start`, {});
      expect((started.json() as { up: boolean }).up).toBe(true);
      expect((await getText(`${d.url}/health`)).status).toBe(200);
    } finally {
      await control.close();
    }
  });
});
