// The proxy as a process (main.ts): start-up line, SIGTERM with a stream in flight (readiness false, new
// requests 503, the stream finishes, exit 0), and the command line's error path.
import { type ChildProcess, spawn } from 'node:child_process';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  PROCESS_START_TIMEOUT_MS,
  PROXY_MAIN,
  pdArgs,
  type SimProcess,
  startSimProcess,
  stopChild,
  waitFor,
  waitForLine,
} from './helpers.ts';

const MODEL = 'meta-llama/Llama-3.1-8B-Instruct';

let sim: SimProcess;
const children: ChildProcess[] = [];

const stdoutOf = new Map<ChildProcess, string[]>();

function spawnProxy(args: string[]): ChildProcess {
  const child = spawn(process.execPath, [PROXY_MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const chunks: string[] = [];
  stdoutOf.set(child, chunks);
  child.stdout?.on('data', (c: Buffer) => chunks.push(c.toString('utf8')));
  return child;
}

/** The JSON log lines the process wrote. */
function logLines(child: ChildProcess): Record<string, unknown>[] {
  return (stdoutOf.get(child) ?? [])
    .join('')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/**
 * One request on its own connection: a pooled keep-alive connection could be one the draining server
 * just closed as idle, and that race is the client's to retry, not what this test is about.
 */
async function fresh(
  url: string,
  options: Parameters<typeof request>[1] = {},
): Promise<{ status: number; body: string }> {
  const agent = new Agent();
  try {
    const res = await request(url, { ...options, dispatcher: agent });
    return { status: res.statusCode, body: await res.body.text() };
  } finally {
    await agent.close();
  }
}

function exitOf(child: ChildProcess, timeoutMs: number): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`process did not exit within ${timeoutMs} ms`)), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

beforeAll(async () => {
  sim = await startSimProcess(['--prefill', '1', '--decode', '1']);
});

afterAll(async () => {
  await Promise.all(children.map((c) => stopChild(c)));
  await sim?.close();
});

describe('proxy process', () => {
  it('drains on SIGTERM: readiness false, new requests 503, the in-flight stream completes, exit 0', async () => {
    const child = spawnProxy([
      ...pdArgs(sim),
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--prometheus-port',
      '0',
      '--drain-timeout-secs',
      '20',
    ]);
    const listening = await waitForLine(
      child,
      (o) => (o.msg === 'listening' ? (o as { url: string; metricsUrl: string }) : undefined),
      PROCESS_START_TIMEOUT_MS,
    );
    expect(listening.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    expect((await fresh(`${listening.url}/readiness`)).status).toBe(200);

    // 150 tokens at the sim's default ~6 ms per token: still in flight when the signal arrives.
    const res = await request(`${listening.url}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        model: MODEL,
        prompt: 'a long story please',
        max_tokens: 60,
        stream: true,
        ignore_eos: true,
      }),
    });
    expect(res.statusCode).toBe(200);
    const chunks: Buffer[] = [];
    const bodyDone = new Promise<string>((resolve, reject) => {
      res.body.on('data', (c: Buffer) => chunks.push(c));
      res.body.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      res.body.on('error', reject);
    });
    await new Promise<void>((resolve) => res.body.once('data', () => resolve()));
    child.kill('SIGTERM');

    // While draining the listener still answers: not ready (as soon as the signal is handled), and new
    // work is refused.
    await waitFor('readiness to turn false', async () =>
      (await fresh(`${listening.url}/readiness`)).status === 503 ? true : undefined,
    );
    const refused = await fresh(`${listening.url}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, prompt: 'x', max_tokens: 2 }),
    });
    expect(refused.status).toBe(503);
    expect((JSON.parse(refused.body) as { error: { code: string } }).error.code).toBe('draining');

    const text = await bodyDone;
    expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true);
    expect(await exitOf(child, 20_000)).toBe(0);
    const logs = logLines(child);
    expect(logs.find((l) => l.msg === 'draining')).toMatchObject({ signal: 'SIGTERM', inFlight: 1 });
    expect(logs.find((l) => l.msg === 'drained')).toMatchObject({ inFlight: 0 });
  });

  it('refuses unknown flags with a pointer to --help and exit code 2', async () => {
    const child = spawnProxy(['--pd-disaggregation', '--prefil', 'http://127.0.0.1:1']);
    let stderr = '';
    child.stderr?.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    expect(await exitOf(child, PROCESS_START_TIMEOUT_MS)).toBe(2);
    expect(stderr).toContain('unknown flag --prefil');
    expect(stderr).toContain('--help');
  });

  it('warns at start-up about flags it accepts but does not act on', async () => {
    const child = spawnProxy([
      ...pdArgs(sim),
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--prometheus-port',
      '0',
      '--cache-threshold',
      '0.5',
    ]);
    const warning = await waitForLine(
      child,
      (o) => (o.level === 'warn' && String(o.msg).includes('--cache-threshold') ? o : undefined),
      PROCESS_START_TIMEOUT_MS,
    );
    expect(warning.msg).toContain('not acted on');
    await stopChild(child);
  });
});
