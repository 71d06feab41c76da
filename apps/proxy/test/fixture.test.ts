// The end-to-end fixture's teardown: everything stops in the reverse order it started, one failing or
// hanging stop does not keep the others from running and fails the teardown naming what it was, a test
// may end what it started early, and stopProxies leaves the rest running.
import { WaitTimeoutError } from '@pdrouter/testkit';
import { describe, expect, it } from 'vitest';
import { e2eFixture } from './fixture.ts';
import { deadUrl } from './helpers.ts';

describe('e2eFixture teardown', () => {
  const e2e = e2eFixture({ stopDeadlineMs: 300 });

  it('stops what it adopted last first, and a failing or hanging stop after the others ran', async () => {
    const stopped: string[] = [];
    const stop = (name: string) => async () => void stopped.push(name);
    e2e.adopt('first', 'a', stop('first'));
    e2e.adopt('refusing', 'b', async () => {
      throw new Error('refused to stop');
    });
    e2e.adopt('hanging', 'c', () => new Promise(() => {}));
    e2e.adopt('last', 'd', stop('last'));
    const err = await e2e.close().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(stopped).toEqual(['last', 'first']);
    expect(err).toBeInstanceOf(AggregateError);
    const [hanging, refusing] = (err as AggregateError).errors as Error[];
    expect(hanging).toBeInstanceOf(WaitTimeoutError);
    expect(hanging?.message).toContain('stopping hanging');
    expect(refusing?.message).toBe('refused to stop');
    // Nothing is stopped twice.
    await e2e.close();
    expect(stopped).toEqual(['last', 'first']);
  });

  it('stopProxies stops the proxies only; a proxy closed by the test is not closed again', async () => {
    const stopped: string[] = [];
    e2e.adopt('a server', 'x', async () => void stopped.push('server'));
    const flags = ['--worker-urls', await deadUrl()];
    const early = await e2e.proxy(flags);
    const late = await e2e.proxy(flags);
    await early.close();
    await e2e.stopProxies();
    expect(stopped).toEqual([]);
    await expect(fetch(`${late.url}/health`)).rejects.toThrow();
    await e2e.close();
    expect(stopped).toEqual(['server']);
  });
});
