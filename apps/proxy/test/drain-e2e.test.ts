// The proxy as a process (main.ts): start-up line, SIGTERM with a stream in flight (readiness false, new
// requests 503, the stream finishes, exit 0), a second SIGTERM and the drain timeout (exit 0 at once), and
// the command line's error path.
import { Agent, request } from 'undici';
import { beforeAll, describe, expect, it } from 'vitest';
import { e2eFixture } from './fixture.ts';
import { type HeldPod, startHeldPod } from './held-pod.ts';
import {
  jsonLines,
  LOCAL_LISTEN_FLAGS,
  MODEL,
  PROCESS_START_TIMEOUT_MS,
  type ProxyProcess,
  pdArgs,
  type SimProcess,
  waitFor,
} from './helpers.ts';

const e2e = e2eFixture();
let sim: SimProcess;
let held: HeldPod;

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

beforeAll(async () => {
  held = e2e.adopt('the held decode pod', await startHeldPod(), (h) => h.close());
  sim = await e2e.sim({ prefill: 1, decode: 1 });
});

describe('proxy process', () => {
  /** A proxy process with the sim's prefill pod and the held decode pod. */
  async function startHeld(extra: string[] = []): Promise<ProxyProcess> {
    return e2e.proxyProcess([
      '--pd-disaggregation',
      '--prefill',
      sim.urls('prefill')[0] as string,
      '--decode',
      held.url,
      ...LOCAL_LISTEN_FLAGS,
      ...extra,
    ]);
  }

  /** Starts a stream through the proxy and resolves once its first event arrived. */
  async function openStream(url: string): Promise<{ body: Promise<string> }> {
    const res = await request(`${url}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, prompt: 'a long story please', max_tokens: 60, stream: true }),
    });
    expect(res.statusCode).toBe(200);
    const chunks: Buffer[] = [];
    const body = new Promise<string>((resolve) => {
      res.body.on('data', (c: Buffer) => chunks.push(c));
      res.body.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      // A cut stream resolves with what arrived (the tests look for [DONE]).
      res.body.on('error', () => resolve(Buffer.concat(chunks).toString('utf8')));
    });
    await new Promise<void>((resolve) => res.body.once('data', () => resolve()));
    return { body };
  }

  it('drains on SIGTERM: readiness false, new requests 503, the in-flight stream completes, exit 0', async () => {
    const { child, url, metricsUrl } = await startHeld(['--drain-timeout-secs', '60']);
    expect(metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    expect((await fresh(`${url}/readiness`)).status).toBe(200);

    // The decode pod holds the stream after its first event until release(): in flight for as long as
    // the checks below take, however loaded the machine is.
    const stream = await openStream(url);
    expect(held.received.at(-1)?.body.kv_transfer_params).toMatchObject({ do_remote_prefill: true });
    child.proc.kill('SIGTERM');

    // While draining the listener still answers: not ready (as soon as the signal is handled), and new
    // work is refused.
    await waitFor('readiness to turn false', async () =>
      (await fresh(`${url}/readiness`)).status === 503 ? true : undefined,
    );
    const refused = await fresh(`${url}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, prompt: 'x', max_tokens: 2 }),
    });
    expect(refused.status).toBe(503);
    expect((JSON.parse(refused.body) as { error: { code: string } }).error.code).toBe('draining');
    expect(child.exited).toBe(false);

    held.release();
    const text = await stream.body;
    expect(text).toContain('" last"');
    expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true);
    expect(await child.waitForExit(20_000)).toBe(0);
    const logs = jsonLines(child);
    expect(logs.find((l) => l.msg === 'draining')).toMatchObject({ signal: 'SIGTERM', inFlight: 1 });
    expect(logs.find((l) => l.msg === 'drained')).toMatchObject({ inFlight: 0 });
    held.hold();
  });

  it('exits 0 at once on a second SIGTERM, without waiting for the stream', async () => {
    const { child, url } = await startHeld(['--drain-timeout-secs', '60']);
    const stream = await openStream(url);
    child.proc.kill('SIGTERM');
    await waitFor('readiness to turn false', async () =>
      (await fresh(`${url}/readiness`)).status === 503 ? true : undefined,
    );
    child.proc.kill('SIGTERM');
    expect(await child.waitForExit(10_000)).toBe(0);
    expect(await stream.body).not.toContain('[DONE]');
    expect(jsonLines(child).find((l) => l.msg === 'second signal: exiting now')).toBeDefined();
  });

  it('exits 0 when the drain timeout passes with a stream still in flight', async () => {
    const { child, url } = await startHeld(['--drain-timeout-secs', '1']);
    const stream = await openStream(url);
    child.proc.kill('SIGTERM');
    expect(await child.waitForExit(15_000)).toBe(0);
    expect(await stream.body).not.toContain('[DONE]');
    expect(jsonLines(child).find((l) => l.msg === 'drain timeout: closing with requests in flight')).toMatchObject({
      inFlight: 1,
    });
  });

  it('refuses unknown flags with a pointer to --help and exit code 2', async () => {
    const child = await e2e.spawnProxy(['--pd-disaggregation', '--prefil', 'http://127.0.0.1:1']);
    expect(await child.waitForExit(PROCESS_START_TIMEOUT_MS)).toBe(2);
    const stderr = child.errLines.join('\n');
    expect(stderr).toContain('unknown flag --prefil');
    expect(stderr).toContain('--help');
  });

  it('refuses a vllm-router policy it does not implement: exit 2, naming the value and why, before listening', async () => {
    for (const [flag, name, why] of [
      ['--policy', 'sico_sticky', "one router's memory"],
      ['--decode-policy', 'cache_aware_no_queue', 'no pod is idle'],
    ] as const) {
      const child = await e2e.spawnProxy([...pdArgs(sim), ...LOCAL_LISTEN_FLAGS, flag, name]);
      expect(await child.waitForExit(PROCESS_START_TIMEOUT_MS)).toBe(2);
      const stderr = child.errLines.join('\n');
      expect(stderr).toContain(`${flag} ${name} is refused: `);
      expect(stderr).toContain(why);
      expect(child.lines.some((l) => l.includes('listening'))).toBe(false);
    }
  });
});
