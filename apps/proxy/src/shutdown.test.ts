// The shutdown sequence main.ts runs on SIGTERM: a drain, then close(); a failure in either is logged and
// never becomes an unhandled rejection (which would end the process with code 1 instead of 0).
import { describe, expect, it } from 'vitest';
import { Lifecycle } from './lifecycle.ts';
import { createLogger } from './logger.ts';
import { shutdown } from './main.ts';

function recordingLogger(): { logger: ReturnType<typeof createLogger>; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  return { logger: createLogger('info', (l) => lines.push(JSON.parse(l))), lines };
}

const config = { drainTimeoutMs: 1000 } as Parameters<typeof shutdown>[0]['config'];

describe('shutdown', () => {
  it('drains, closes and logs each step', async () => {
    const { logger, lines } = recordingLogger();
    const steps: string[] = [];
    await shutdown(
      {
        config,
        lifecycle: new Lifecycle(),
        drain: async () => {
          steps.push('drain');
          return true;
        },
        close: async () => void steps.push('close'),
      },
      logger,
      'SIGTERM',
    );
    expect(steps).toEqual(['drain', 'close']);
    expect(lines.map((l) => l.msg)).toEqual(['draining', 'drained', 'stopped']);
  });

  it('resolves when closing fails (a snapshot source that cannot stop cleanly), logging the error', async () => {
    const { logger, lines } = recordingLogger();
    await expect(
      shutdown(
        {
          config,
          lifecycle: new Lifecycle(),
          drain: async () => false,
          close: async () => {
            throw new Error('watch stop failed: connection closed');
          },
        },
        logger,
        'SIGTERM',
      ),
    ).resolves.toBeUndefined();
    expect(lines.find((l) => l.msg === 'closing failed')).toMatchObject({
      level: 'error',
      error: 'watch stop failed: connection closed',
    });
    expect(lines.some((l) => l.msg === 'drain timeout: closing with requests in flight')).toBe(true);
  });
});
