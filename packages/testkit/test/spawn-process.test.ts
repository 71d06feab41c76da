import { afterEach, describe, expect, it } from 'vitest';
import { spawnProcess, stopAllProcesses } from '../src/spawn-process.ts';
import { WaitTimeoutError, waitUntil } from '../src/wait.ts';

const node = process.execPath;

afterEach(async () => {
  await stopAllProcesses('SIGKILL');
});

describe('spawnProcess', () => {
  it('waits for the ready line and finds later lines', async () => {
    const p = await spawnProcess(
      node,
      [
        '-e',
        'console.log("booting"); setTimeout(() => console.log(JSON.stringify({msg:"listening"})), 50); setInterval(() => console.error("tick"), 20);',
      ],
      { readyLine: (l) => l.includes('"listening"'), timeoutMs: 10_000 },
    );
    expect(p.lines).toEqual(['booting', '{"msg":"listening"}']);
    const from = p.errLines.length;
    expect(await p.waitFor((l) => l === 'tick', { stream: 'stderr', from, timeoutMs: 5_000 })).toBe('tick');
    await p.stop();
    expect(p.exited).toBe(true);
  });

  it('rejects with the output when the process exits before it is ready', async () => {
    await expect(
      spawnProcess(node, ['-e', 'console.error("bad flag --nope"); process.exit(3)'], {
        readyLine: (l) => l.includes('listening'),
        timeoutMs: 10_000,
      }),
    ).rejects.toThrow(/exited \(code 3\)[\s\S]*bad flag --nope/);
  });

  it('rejects when the ready line does not come before the deadline, and kills the process', async () => {
    const before = Date.now();
    await expect(
      spawnProcess(node, ['-e', 'setInterval(() => {}, 1000)'], { readyLine: () => false, timeoutMs: 300 }),
    ).rejects.toBeInstanceOf(WaitTimeoutError);
    expect(Date.now() - before).toBeLessThan(10_000);
  });

  it('SIGKILLs a process that ignores SIGTERM after the grace period', async () => {
    const p = await spawnProcess(
      node,
      ['-e', 'process.on("SIGTERM", () => console.log("ignored")); console.log("up"); setInterval(() => {}, 1000)'],
      {
        readyLine: (l) => l === 'up',
      },
    );
    await p.stop('SIGTERM', 300);
    expect(p.exited).toBe(true);
    expect(p.proc.signalCode).toBe('SIGKILL');
  });

  it('fails clearly for a missing program', async () => {
    await expect(spawnProcess('/nonexistent/program', [])).rejects.toThrow(/cannot start \/nonexistent\/program/);
  });
});

describe('waitUntil', () => {
  it('returns the first truthy value', async () => {
    let n = 0;
    expect(await waitUntil(() => (++n >= 3 ? n : undefined), { intervalMs: 1 })).toBe(3);
  });

  it('times out with the description and the last error', async () => {
    await expect(
      waitUntil(
        () => {
          throw new Error('not yet');
        },
        { timeoutMs: 50, description: 'the thing' },
      ),
    ).rejects.toThrow('timed out after 50 ms waiting for the thing (last error: not yet)');
  });
});
