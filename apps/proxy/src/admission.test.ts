import type { RouterError } from '@pdrouter/core';
import { describe, expect, it } from 'vitest';
import { Admission, type AdmissionClock, type AdmissionConfig, type Release } from './admission.ts';

/** A clock the test moves by hand; timers fire in due order when it does. */
function fakeClock(): AdmissionClock & { advance(ms: number): void } {
  let now = 0;
  let seq = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  return {
    nowMs: () => now,
    setTimer(fn, ms) {
      seq++;
      timers.set(seq, { at: now + ms, fn });
      return seq;
    },
    clearTimer(handle) {
      timers.delete(handle as number);
    },
    advance(ms) {
      const end = now + ms;
      for (;;) {
        const due = [...timers.entries()].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
        if (!due) break;
        timers.delete(due[0]);
        now = due[1].at;
        due[1].fn();
      }
      now = end;
    },
  };
}

function setup(config: Partial<AdmissionConfig>) {
  const clock = fakeClock();
  const events = { depth: [] as number[], waited: [] as number[], rejected: [] as string[] };
  const admission = new Admission(
    { maxConcurrent: 2, queueSize: 2, queueTimeoutMs: 1000, ...config },
    {
      queueDepth: (n) => events.depth.push(n),
      waited: (s) => events.waited.push(s),
      rejected: (r) => events.rejected.push(r),
    },
    clock,
  );
  return { clock, events, admission };
}

function refusal(fn: () => unknown): RouterError {
  try {
    fn();
  } catch (err) {
    return err as RouterError;
  }
  throw new Error('not refused');
}

describe('admission control', () => {
  it('admits up to the limit at once, queues the rest in arrival order, refuses beyond the queue', async () => {
    const { admission, events } = setup({});
    const a = admission.admit() as Release;
    const b = admission.admit() as Release;
    expect(typeof a).toBe('function');
    expect(admission.running).toBe(2);
    const order: string[] = [];
    const noted = (name: string) => (r: Release) => {
      order.push(name);
      return r;
    };
    const c = (admission.admit() as Promise<Release>).then(noted('c'));
    const d = (admission.admit() as Promise<Release>).then(noted('d'));
    expect(admission.queued).toBe(2);
    const err = refusal(() => admission.admit());
    expect(err).toMatchObject({ code: 'rate_limited', status: 429, retryAfterSeconds: 1 });
    expect(events.rejected).toEqual(['queue_full']);
    b();
    b(); // a second call frees nothing more
    const releaseC = await c;
    expect(order).toEqual(['c']);
    expect(admission.running).toBe(2);
    a();
    (await d)();
    releaseC();
    expect(admission.running).toBe(0);
    expect(events.waited).toEqual([0, 0]);
  });

  it('refuses a queued request with 429 after the queue timeout, and counts its wait when admitted', async () => {
    const { admission, events, clock } = setup({ maxConcurrent: 1, queueTimeoutMs: 500 });
    const first = admission.admit() as Release;
    const late = admission.admit() as Promise<Release>;
    const lateRefusal = late.catch((err: RouterError) => err);
    clock.advance(499);
    const waits = admission.admit() as Promise<Release>;
    clock.advance(1);
    expect(await lateRefusal).toMatchObject({ code: 'rate_limited', status: 429 });
    expect(events.rejected).toEqual(['queue_timeout']);
    clock.advance(200);
    first();
    (await waits)();
    expect(events.waited).toEqual([0.201]); // queued at 499 ms, admitted at 700 ms
    expect(admission.queued).toBe(0);
  });

  it('gives a queued place up when the client leaves', async () => {
    const { admission, events } = setup({ maxConcurrent: 1 });
    admission.admit();
    let cancel: (() => void) | undefined;
    const queued = (
      admission.admit((c) => {
        cancel = c;
      }) as Promise<Release>
    ).catch((err: RouterError) => err);
    cancel?.();
    expect(((await queued) as RouterError).status).toBe(499);
    expect(events.rejected).toEqual(['client_gone']);
    expect(admission.queued).toBe(0);
  });

  it('rate limit: a bucket of one second, refilled at the rate; Retry-After is the time to the next token', async () => {
    const { admission, clock, events } = setup({ maxConcurrent: 100, queueSize: 0, ratePerSecond: 2 });
    (admission.admit() as Release)();
    (admission.admit() as Release)();
    const err = refusal(() => admission.admit());
    expect(err).toMatchObject({ status: 429, retryAfterSeconds: 1 });
    clock.advance(500);
    expect(typeof admission.admit()).toBe('function');
    expect(events.rejected).toEqual(['queue_full']);
  });

  it('rate limit with a queue: waiting requests are admitted as tokens arrive, in order', async () => {
    const { admission, clock } = setup({ maxConcurrent: 100, queueSize: 5, ratePerSecond: 10 });
    for (let i = 0; i < 10; i++) admission.admit();
    const admitted: number[] = [];
    const waiting = [0, 1, 2].map((i) => (admission.admit() as Promise<Release>).then(() => admitted.push(i)));
    clock.advance(100);
    await Promise.resolve();
    expect(admitted).toEqual([0]);
    clock.advance(200);
    await Promise.all(waiting);
    expect(admitted).toEqual([0, 1, 2]);
  });

  it('a request never passes one that queued before it', async () => {
    const { admission } = setup({ maxConcurrent: 1 });
    const first = admission.admit() as Release;
    const queued = admission.admit() as Promise<Release>;
    first();
    // The slot freed by `first` went to the queued request, not to a newcomer.
    expect(admission.admit()).toBeInstanceOf(Promise);
    (await queued)();
  });
});
