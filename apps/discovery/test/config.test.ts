import { UsageError } from '@pdrouter/cli';
import { describe, expect, it } from 'vitest';
import { discoveryHelp, parseDiscoveryArgs } from '../src/index.ts';

const base = ['--prefill-selector', 'role=prefill', '--decode-selector', 'role=decode', '--nats-url', 'nats://n:4222'];

function config(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const parsed = parseDiscoveryArgs(argv, env);
  if (parsed.help) throw new Error('unexpected help');
  return parsed.config;
}

describe('parseDiscoveryArgs', () => {
  it('applies the documented defaults and freezes the result', () => {
    const c = config(base);
    expect(c).toMatchObject({
      namespace: 'default',
      selectors: { prefill: 'role=prefill', decode: 'role=decode' },
      targetPort: 8000,
      portAnnotation: 'vllm.ai/port',
      bootstrapPortAnnotation: 'vllm.ai/bootstrap-port',
      pool: 'default',
      leaseName: 'pdrouter-discovery',
      leaseNamespace: 'default',
      leaseDurationMs: 15_000,
      debounceMs: 250,
      heartbeatMs: 10_000,
      httpPort: 9090,
      watchBackoffMinMs: 1000,
      watchBackoffMaxMs: 30_000,
      watchTimeoutSecs: 20,
      listPageSize: 500,
      bucket: 'pdrouter-snapshots',
    });
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.selectors)).toBe(true);
  });

  it('reads --flag=value, environment fallbacks, and lets flags win over the environment', () => {
    const c = config(['--namespace=vllm', '--plain-selector', 'a=b', '--lease-duration-secs', '2.5'], {
      NATS_URL: 'nats://env:1',
      POD_NAME: 'disc-0',
      POD_NAMESPACE: 'ignored-because-flag',
    });
    expect(c.namespace).toBe('vllm');
    expect(c.natsUrl).toBe('nats://env:1');
    expect(c.identity).toBe('disc-0');
    expect(c.leaseDurationMs).toBe(2500);
    expect(c.selectors).toEqual({ plain: 'a=b' });
  });

  it.each([
    [['--nats-url', 'nats://x'], /at least one of/],
    [['--prefill-selector', 'a', '--nats-url', 'nats://x'], /go together/],
    [['--plain-selector', 'a'], /--nats-url/],
    [[...base, '--target-port', 'eighty'], /--target-port expects an integer/],
    [[...base, '--target-port', '0'], /must be >= 1/],
    [[...base, '--bogus'], /unknown flag --bogus/],
    [[...base, '--pool'], /--pool expects a value/],
    [[...base, 'stray'], /unexpected argument/],
    [[...base, '--pool='], /--pool may not be empty/],
    [[...base, '--help=maybe'], /--help expects true or false/],
    [[...base, '--log-level', 'loud'], /--log-level must be one of/],
    [[...base, '--watch-backoff-min-ms', '5000', '--watch-backoff-max-ms', '100'], /max-ms must be >=/],
  ])('rejects %j', (argv, message) => {
    expect(() => parseDiscoveryArgs(argv as string[], {})).toThrow(UsageError);
    expect(() => parseDiscoveryArgs(argv as string[], {})).toThrow(message);
  });

  it('keeps each watch shorter than client-node’s 30 s inactivity abort', () => {
    // A longer server-side watch on a quiet selector is cut by the client before the server's bookmark,
    // so it resumes from a stale resourceVersion (a relist once that was compacted).
    expect(config([...base, '--watch-timeout-secs', '25']).watchTimeoutSecs).toBe(25);
    expect(() => config([...base, '--watch-timeout-secs', '300'])).toThrow(UsageError);
    expect(() => config([...base, '--watch-timeout-secs', '30'])).toThrow(/watch-timeout-secs/);
  });

  it('collects the NATS TLS files and requires cert and key together', () => {
    expect(config([...base, '--nats-tls-ca', '/ca.pem']).natsTls).toEqual({ caFile: '/ca.pem' });
    expect(config([...base, '--nats-tls-cert', '/c.pem', '--nats-tls-key', '/k.pem']).natsTls).toEqual({
      certFile: '/c.pem',
      keyFile: '/k.pem',
    });
    expect(config(base).natsTls).toBeUndefined();
    expect(() => config([...base, '--nats-tls-cert', '/c.pem'])).toThrow(/go together/);
  });

  it('answers --help before validating anything', () => {
    expect(parseDiscoveryArgs(['--help'], {})).toEqual({ help: true });
  });
});

describe('discoveryHelp', () => {
  it('shows each flag with its value, default and env', () => {
    const text = discoveryHelp();
    expect(text).toContain(
      '  --debounce-ms INT\n      A burst of pod changes within this window becomes one snapshot. [default 250]\n',
    );
    expect(text).toContain('  --namespace NS\n');
    expect(text).toContain('[default default; env POD_NAMESPACE]');
    expect(text).toContain('  --help\n      Print this help and exit.\n');
  });
});
