import { describe, expect, it } from 'vitest';
import { WaitTimeoutError, waitUntilSteady } from '../src/wait.ts';

describe('waitUntilSteady', () => {
  it('returns the value once it stops changing', async () => {
    let n = 0;
    const value = await waitUntilSteady(() => (n < 5 ? ++n : n), { steadyMs: 20, intervalMs: 2 });
    expect(value).toBe(5);
  });

  it('fails at the deadline when the value keeps changing', async () => {
    let n = 0;
    await expect(
      waitUntilSteady(() => ++n, { steadyMs: 20, intervalMs: 2, timeoutMs: 200, description: 'a counter' }),
    ).rejects.toThrow(WaitTimeoutError);
  });
});
