import { UsageError } from '@pdrouter/cli';
import { DEFAULT_CACHE_AWARE_OPTIONS, DEFAULT_LOAD_AWARE_WEIGHTS } from '@pdrouter/core';
import { describe, expect, it } from 'vitest';
import { buildConfig } from './config.ts';
import { helpText, POLICIES, PROXY_FLAG_GROUPS, PROXY_FLAGS, parseFlags, REFUSED_POLICIES } from './flags.ts';

const config = (argv: string[], env: Record<string, string> = {}, files: Record<string, string> = {}) =>
  buildConfig(parseFlags(argv, env), {
    readFile: (p) => {
      const text = files[p];
      if (text === undefined) throw new Error(`ENOENT: no such file ${p}`);
      return text;
    },
  });

describe('parseFlags', () => {
  it("runs the seed's vllm-router arguments unchanged", () => {
    const c = config([
      '--pd-disaggregation',
      '--prefill',
      'http://10.2.1.131:8000',
      'none',
      '--prefill',
      'http://10.2.1.132:8000',
      '9001',
      '--prefill',
      'http://10.2.1.133:8000',
      '--decode',
      'http://10.2.1.179:8200',
      '--decode',
      'http://10.2.1.180:8200',
      '--intra-node-data-parallel-size',
      '1',
      '--policy',
      'consistent_hash',
      '--host',
      '0.0.0.0',
      '--port',
      '10001',
    ]);
    expect(c.mode).toBe('pd');
    expect(c.membership).toEqual({
      kind: 'static',
      prefill: [
        { url: 'http://10.2.1.131:8000' },
        { url: 'http://10.2.1.132:8000', bootstrapPort: 9001 },
        { url: 'http://10.2.1.133:8000' },
      ],
      decode: ['http://10.2.1.179:8200', 'http://10.2.1.180:8200'],
      plain: [],
    });
    expect(c.prefillPolicy).toBe('consistent_hash');
    expect(c.decodePolicy).toBe('consistent_hash');
    expect(c.host).toBe('0.0.0.0');
    expect(c.port).toBe(10001);
    expect(c.prometheusPort).toBe(29000);
    expect(c.virtualNodes).toBe(160);
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('accepts --vllm-pd-disaggregation and per-role policies', () => {
    const c = config([
      '--vllm-pd-disaggregation',
      '--prefill',
      'http://a:1',
      '--decode',
      'http://b:2',
      '--policy',
      'round_robin',
      '--decode-policy',
      'power_of_two',
    ]);
    expect(c.mode).toBe('pd');
    expect(c.prefillPolicy).toBe('round_robin');
    expect(c.decodePolicy).toBe('power_of_two');
  });

  it('takes --worker-urls as a space-separated list for plain mode', () => {
    const c = config(['--worker-urls', 'http://a:1', 'http://b:2/', '--policy', 'random']);
    expect(c.mode).toBe('plain');
    expect(c.membership).toEqual({ kind: 'static', prefill: [], decode: [], plain: ['http://a:1', 'http://b:2'] });
    expect(c.plainPolicy).toBe('random');
  });

  it('supports --flag=value', () => {
    const c = config(['--worker-urls=http://a:1,http://b:2', '--port=9000', '--log-level=debug']);
    expect(c.port).toBe(9000);
    expect(c.logLevel).toBe('debug');
    expect(c.membership.kind === 'static' && c.membership.plain).toEqual(['http://a:1', 'http://b:2']);
  });

  it('rejects unknown flags with a pointer to --help', () => {
    expect(() => parseFlags(['--prefil', 'http://a:1'])).toThrow(/unknown flag --prefil \(see --help/);
    expect(() => parseFlags(['stray'])).toThrow(UsageError);
  });

  it('rejects bad values with the flag named', () => {
    expect(() => parseFlags(['--port', 'abc'])).toThrow(/--port expects an integer/);
    expect(() => parseFlags(['--policy', 'fastest'])).toThrow(/--policy must be one of/);
    expect(() => parseFlags(['--prefill', 'http://a:1', 'notaport'])).toThrow(/a port \(1-65535\) or "none"/);
    expect(() => parseFlags(['--decode'])).toThrow(/--decode expects a value/);
    expect(() => config(['--pd-disaggregation', '--prefill', 'ftp://a', '--decode', 'http://b:1'])).toThrow(
      /http:\/\/ or https:\/\//,
    );
    expect(() => config(['--pd-disaggregation', '--prefill', 'http://a:1'])).toThrow(
      /at least one --prefill URL and one --decode URL/,
    );
    expect(() => config([])).toThrow(/no pods given/);
    expect(() => config(['--bounded-load-factor', '0.5', '--worker-urls', 'http://a:1'])).toThrow(/>= 1/);
  });

  it('refuses the vllm-router policies it does not implement, on each policy flag, naming the value and why', () => {
    const reasons: Record<string, RegExp> = {
      cache_aware_no_queue: /503 at once when no pod is idle.*--max-concurrent-requests/,
      sico_sticky: /one router's memory.*--hash-key-mode affinity/,
      sticky_least_loaded: /\/finish_session.*--hash-key-mode affinity/,
      kv_aware: /KV-cache block events.*cache_aware/,
      precise_cache_aware: /KV-cache block events.*cache_aware/,
      ttft_aware: /time to first token.*load_aware/,
    };
    expect(Object.keys(REFUSED_POLICIES).sort()).toEqual(Object.keys(reasons).sort());
    for (const [name, why] of Object.entries(reasons)) {
      for (const flag of ['--policy', '--prefill-policy', '--decode-policy']) {
        const err = (() => {
          try {
            config(['--pd-disaggregation', '--prefill', 'http://a:1', '--decode', 'http://b:1', flag, name]);
          } catch (e) {
            return e;
          }
          return undefined;
        })();
        expect(err, `${flag} ${name}`).toBeInstanceOf(UsageError);
        expect((err as UsageError).exitCode).toBe(2);
        expect((err as UsageError).message).toMatch(new RegExp(`^${flag} ${name} is refused: `));
        expect((err as UsageError).message).toMatch(why);
      }
    }
    // No policy is substituted: every accepted name routes as itself.
    for (const name of POLICIES)
      expect(config(['--worker-urls', 'http://a:1', '--policy', name]).plainPolicy).toBe(name);
  });

  it('cache_aware is a policy of its own, with vllm-router’s knobs and defaults', () => {
    const c = config(['--worker-urls', 'http://a:1', '--policy', 'cache_aware']);
    expect(c.plainPolicy).toBe('cache_aware');
    expect(c.routing.cacheAware).toEqual({ cacheThreshold: 0.3, balanceAbsThreshold: 64, balanceRelThreshold: 1.5 });
    // pdrouterctl explain scores with core's copies of these defaults.
    expect(c.routing.cacheAware).toEqual(DEFAULT_CACHE_AWARE_OPTIONS);
    expect(c.routing.loadAware).toEqual(DEFAULT_LOAD_AWARE_WEIGHTS);
    expect(c.routing.evictionIntervalMs).toBe(120_000);
    expect(c.routing.maxTreeChars).toBe(67108864);
    const t = config([
      ...['--worker-urls', 'http://a:1', '--policy', 'load_aware', '--cache-threshold', '0.5'],
      ...['--balance-abs-threshold', '8', '--balance-rel-threshold', '2', '--eviction-interval', '0'],
      ...['--max-tree-size', '1000', '--load-aware-load-weight', '2', '--load-aware-ring-weight', '0'],
    ]);
    expect(t.routing.cacheAware).toEqual({ cacheThreshold: 0.5, balanceAbsThreshold: 8, balanceRelThreshold: 2 });
    expect(t.routing.loadAware).toEqual({ prefix: 1, load: 2, ring: 0 });
    expect(t.routing.evictionIntervalMs).toBe(0);
    expect(t.routing.maxTreeChars).toBe(1000);
  });

  it('refuses scoring and selective P/D settings that would do nothing or make no sense', () => {
    const w = ['--worker-urls', 'http://a:1'];
    const pd = ['--pd-disaggregation', '--prefill', 'http://p:1', '--decode', 'http://d:1'];
    expect(() => config([...w, '--cache-threshold', '1.5'])).toThrow(/--cache-threshold must be 0-1/);
    expect(() => config([...w, '--max-tree-size', '0'])).toThrow(/--max-tree-size must be >= 1/);
    expect(() => config([...w, '--load-aware-prefix-weight', '-1'])).toThrow(/>= 0/);
    expect(() => config([...w, '--pd-min-prompt-tokens', '10'])).toThrow(/needs P\/D mode/);
    expect(() => config([...pd, '--pd-skip-prefill-cached-ratio', '0.8'])).toThrow(/--decode-policy cache_aware/);
    const ok = config([...pd, '--decode-policy', 'cache_aware', '--pd-skip-prefill-cached-ratio', '0.8']);
    expect(ok.routing.skipPrefillCachedRatio).toBe(0.8);
    expect(config([...pd, '--pd-min-prompt-tokens', '64']).routing.pdMinPromptTokens).toBe(64);
  });

  it('reads pod gauges only for the scoring policies, and refuses --pod-metrics-* where nothing reads them', () => {
    const w = ['--worker-urls', 'http://a:1'];
    const pd = ['--pd-disaggregation', '--prefill', 'http://p:1', '--decode', 'http://d:1'];
    expect(config([...w, '--policy', 'load_aware']).podMetrics).toEqual({
      intervalMs: 1000,
      timeoutMs: 500,
      staleMs: 5000,
    });
    expect(config([...pd, '--decode-policy', 'cache_aware']).podMetrics?.intervalMs).toBe(1000);
    expect(config(w).podMetrics).toBeUndefined();
    expect(config([...w, '--policy', 'load_aware', '--pod-metrics-interval-ms', '0']).podMetrics).toBeUndefined();
    expect(() => config([...w, '--policy', 'bounded_load', '--pod-metrics-interval-ms', '200'])).toThrow(
      /--pod-metrics-interval-ms needs a policy that reads pod gauges.*bounded_load read in-flight counts only/,
    );
    expect(() => config([...w, '--policy', 'load_aware', '--pod-metrics-stale-ms', '500'])).toThrow(
      /--pod-metrics-stale-ms \(500\) must be >= --pod-metrics-interval-ms \(1000\)/,
    );
    expect(() => config([...w, '--policy', 'load_aware', '--pod-metrics-timeout-ms', '0'])).toThrow(/>= 1/);
  });

  it('shares load in distributed mode only, on the pool subject of the bucket', () => {
    const nats = ['--pd-disaggregation', '--nats-url', 'nats://n:4222', '--pool', 'blue'];
    expect(config(nats).loadShare).toEqual({
      subject: 'pdrouter.load.pdrouter-snapshots.blue',
      intervalMs: 200,
      staleMs: 1000,
      prefixMaxBlocks: 0,
    });
    expect(config([...nats, '--load-share-interval-ms', '0']).loadShare).toBeUndefined();
    expect(() => config([...nats, '--load-share-interval-ms', '600'])).toThrow(/at least twice/);
    expect(config(['--worker-urls', 'http://a:1']).loadShare).toBeUndefined();
    expect(() => config(['--worker-urls', 'http://a:1', '--load-share-stale-ms', '900'])).toThrow(
      /--load-share-stale-ms needs distributed mode \(--nats-url\)/,
    );
  });

  it('shares prefix-index blocks with the load when a policy keeps an index', () => {
    const nats = ['--pd-disaggregation', '--nats-url', 'nats://n:4222'];
    expect(config([...nats, '--policy', 'cache_aware']).loadShare?.prefixMaxBlocks).toBe(16384);
    expect(config([...nats, '--decode-policy', 'load_aware']).loadShare?.prefixMaxBlocks).toBe(16384);
    expect(
      config([...nats, '--policy', 'cache_aware', '--prefix-share-max-blocks', '0']).loadShare?.prefixMaxBlocks,
    ).toBe(0);
    expect(
      config([...nats, '--policy', 'cache_aware', '--prefix-share-max-blocks', '65536']).loadShare?.prefixMaxBlocks,
    ).toBe(65536);
    expect(() => config([...nats, '--policy', 'cache_aware', '--prefix-share-max-blocks', '65537'])).toThrow(
      /--prefix-share-max-blocks must be at most 65536, got 65537/,
    );
    expect(() => config([...nats, '--policy', 'cache_aware', '--prefix-share-max-blocks', '-1'])).toThrow(/>= 0/);
    expect(() => config([...nats, '--policy', 'bounded_load', '--prefix-share-max-blocks', '100'])).toThrow(
      /--prefix-share-max-blocks needs a policy that keeps a prefix index.*bounded_load keep none/,
    );
    expect(() =>
      config([...nats, '--policy', 'cache_aware', '--load-share-interval-ms', '0', '--prefix-share-max-blocks', '100']),
    ).toThrow(/--prefix-share-max-blocks needs --load-share-interval-ms > 0/);
    expect(() =>
      config(['--worker-urls', 'http://a:1', '--policy', 'cache_aware', '--prefix-share-max-blocks', '100']),
    ).toThrow(/--prefix-share-max-blocks needs distributed mode \(--nats-url\)/);
  });

  it('reads env vars for flags that have one, flags winning', () => {
    const c = config(['--worker-urls', 'http://a:1'], {
      OPENAI_API_KEY: 'sk-env',
      PDROUTER_INGRESS_API_KEYS: 'k1, k2',
      PDROUTER_HASH_KEY_MODE: 'affinity',
    });
    expect(c.backendApiKey).toBe('sk-env');
    expect(c.ingressApiKeys).toEqual(['k1', 'k2']);
    expect(c.hashKeyMode).toBe('affinity');
    const d = config(['--worker-urls', 'http://a:1', '--api-key', 'sk-flag'], { OPENAI_API_KEY: 'sk-env' });
    expect(d.backendApiKey).toBe('sk-flag');
  });

  it('reads ingress keys from a file, skipping comments', () => {
    const c = config(
      ['--worker-urls', 'http://a:1', '--ingress-api-key', 'inline', '--ingress-api-key-file', '/keys'],
      {},
      { '/keys': '# ops\nfile-key\n\n' },
    );
    expect(c.ingressApiKeys).toEqual(['inline', 'file-key']);
    expect(() => config(['--worker-urls', 'http://a:1', '--ingress-api-key-file', '/missing'])).toThrow(
      /--ingress-api-key-file \/missing/,
    );
  });

  it('takes members from a snapshot file instead of URLs', () => {
    const c = config(['--pd-disaggregation', '--snapshot-file', '/etc/pods.json']);
    expect(c.membership).toEqual({ kind: 'file', path: '/etc/pods.json' });
    expect(() => config(['--pd-disaggregation', '--snapshot-file', '/x', '--prefill', 'http://a:1'])).toThrow(
      /drop --prefill/,
    );
  });

  it('takes NATS credentials and TLS files for distributed mode', () => {
    const c = config([
      '--pd-disaggregation',
      '--nats-url',
      'tls://nats:4222',
      '--nats-creds',
      '/c',
      '--nats-tls-ca',
      '/ca.pem',
      '--nats-tls-cert',
      '/c.pem',
      '--nats-tls-key',
      '/k.pem',
    ]);
    expect(c.membership).toEqual({
      kind: 'nats',
      url: 'tls://nats:4222',
      bucket: 'pdrouter-snapshots',
      credsFile: '/c',
      tls: { caFile: '/ca.pem', certFile: '/c.pem', keyFile: '/k.pem' },
    });
    expect(() => config(['--pd-disaggregation', '--nats-url', 'tls://nats:4222', '--nats-tls-cert', '/c.pem'])).toThrow(
      /go together/,
    );
  });

  it('maps timeouts and retries to named settings', () => {
    const c = config([
      '--worker-urls',
      'http://a:1',
      '--request-timeout-secs',
      '2.5',
      '--connect-timeout-ms',
      '100',
      '--client-body-timeout-ms',
      '700',
      '--disable-retries',
    ]);
    expect(c.timeouts.totalMs).toBe(2500);
    expect(c.timeouts.clientBodyMs).toBe(700);
    expect(c.timeouts.connectMs).toBe(100);
    expect(c.retry.maxAttempts).toBe(1);
  });

  it('maps admission control flags: vllm-router defaults, a rate only when given', () => {
    expect(config(['--worker-urls', 'http://a:1']).admission).toEqual({
      maxConcurrent: 32768,
      queueSize: 100,
      queueTimeoutMs: 60_000,
    });
    const c = config([
      '--worker-urls',
      'http://a:1',
      '--max-concurrent-requests',
      '8',
      '--queue-size',
      '0',
      '--queue-timeout-secs',
      '1.5',
      '--rate-limit-tokens-per-second',
      '20',
    ]);
    expect(c.admission).toEqual({ maxConcurrent: 8, queueSize: 0, queueTimeoutMs: 1500, ratePerSecond: 20 });
    expect(() => config(['--worker-urls', 'http://a:1', '--max-concurrent-requests', '0'])).toThrow(
      /--max-concurrent-requests must be > 0/,
    );
  });
});

describe('helpText', () => {
  it('lists each flag once under its heading, with its value, default and env', () => {
    const help = helpText();
    const lines = help.split('\n');
    const flagLine = (name: string) => (l: string) =>
      l === `  --${name}` || l.startsWith(`  --${name} `) || l.startsWith(`  --${name},`);
    for (const spec of PROXY_FLAGS) {
      expect(lines.filter(flagLine(spec.name)).length, spec.name).toBe(1);
    }
    expect(help).toContain('  --port INT\n      Port the router listens on. [default 30000]');
    expect(help).toContain('  --prefill URL [BOOTSTRAP_PORT|none]\n');
    expect(help).toContain('  --backend, --runtime vllm\n');
    expect(help).toContain('[default info; env PDROUTER_LOG_LEVEL]');
    // No flag is accepted and left without effect: there is no such heading.
    expect(help).not.toMatch(/not acted on/);
  });
});

describe('flag statuses', () => {
  it('every flag is implemented or refused; the groups cover every flag once', () => {
    const { vllmRouter, pdrouter, refused } = PROXY_FLAG_GROUPS;
    const grouped = [...vllmRouter, ...pdrouter, ...refused].map((f) => f.name);
    expect(grouped.sort()).toEqual(PROXY_FLAGS.map((f) => f.name).sort());
  });

  it('refuses vllm-router flags it does not implement, naming the flag and why', () => {
    const refusals: [string[], RegExp][] = [
      [['--dp-aware'], /--dp-aware is not supported: .*\/get_server_info.*--intra-node-data-parallel-size/],
      [['--vllm-discovery-address', '0.0.0.0:30001'], /--vllm-discovery-address is not supported/],
      [['--enable-igw'], /--enable-igw is not supported/],
      [['--model-path', 'm'], /--model-path is not supported/],
      [['--tokenizer-path', 't'], /--tokenizer-path is not supported/],
      [['--history-backend', 'none'], /--history-backend is not supported/],
      [['--profile'], /--profile is not supported/],
    ];
    for (const [argv, message] of refusals) {
      expect(() => config(['--worker-urls', 'http://a:1', ...argv])).toThrow(message);
    }
    expect(() => config(['--worker-urls', 'http://a:1', '--backend', 'openai'])).toThrow(/--backend openai is refused/);
    expect(() => config(['--worker-urls', 'http://a:1', '--runtime', 'trtllm'])).toThrow(/--backend trtllm is refused/);
    expect(() => config(['--worker-urls', 'http://a:1', '--kv-connector', 'moriio'])).toThrow(
      /--kv-connector moriio is refused: .*NixlConnector/,
    );
    expect(() => config(['--worker-urls', 'http://a:1', '--kv-connector', 'mooncake'])).toThrow(
      /--kv-connector mooncake is refused: .*NixlConnector/,
    );
    const accepted = config(['--worker-urls', 'http://a:1', '--backend', 'vllm', '--kv-connector', 'nixl']);
    expect(accepted.plainPolicy).toBe('consistent_hash');
  });

  it('maps the tracing flags; tracing is off without --enable-trace', () => {
    expect(config(['--worker-urls', 'http://a:1', '--otel-sampling-ratio', '0.5']).tracing).toBeUndefined();
    const c = config([
      '--worker-urls',
      'http://a:1',
      '--enable-trace',
      '--otlp-traces-endpoint',
      'collector:4318',
      '--otel-sampling-ratio',
      '0.25',
      '--otel-excluded-paths',
      '/v1/models',
      '/v1/responses',
    ]);
    expect(c.tracing).toEqual({
      endpoint: 'collector:4318',
      samplingRatio: 0.25,
      excludedPaths: ['/v1/models', '/v1/responses'],
    });
    expect(() => config(['--worker-urls', 'http://a:1', '--enable-trace', '--otel-sampling-ratio', '2'])).toThrow(
      /between 0 and 1/,
    );
  });

  it('a flag given twice keeps the last value; lists and repeats accumulate', () => {
    const p = parseFlags(['--port', '1', '--port', '2', '--decode', 'http://a:1', '--decode', 'http://b:1']);
    expect(p.values.port).toBe(2);
    expect(p.values.decode).toEqual(['http://a:1', 'http://b:1']);
  });
});
