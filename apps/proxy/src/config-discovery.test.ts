import { describe, expect, it } from 'vitest';
import { buildConfig } from './config.ts';
import { labelSelectorOf } from './config-discovery.ts';
import { parseFlags } from './flags.ts';

const config = (argv: string[]) => buildConfig(parseFlags(argv));
const PD = ['--pd-disaggregation', '--service-discovery'];

describe('--service-discovery flags', () => {
  it('maps vllm-router’s selectors, port and namespace onto label selectors per role', () => {
    const c = config([
      ...PD,
      '--prefill-selector',
      'app=vllm',
      'component=prefill',
      '--decode-selector',
      'app=vllm',
      'component=decode',
      '--service-discovery-port',
      '8000',
      '--service-discovery-namespace',
      'inference',
    ]);
    expect(c.membership).toEqual({
      kind: 'kubernetes',
      namespace: 'inference',
      port: 8000,
      selectors: { prefill: 'app=vllm,component=prefill', decode: 'app=vllm,component=decode' },
    });
  });

  it('defaults as vllm-router does: every namespace, port 80; plain mode takes --selector', () => {
    const c = config(['--service-discovery', '--selector', 'app=vllm']);
    expect(c.membership).toEqual({ kind: 'kubernetes', port: 80, selectors: { plain: 'app=vllm' } });
  });

  it('refuses what would be ignored or would change the selector’s meaning', () => {
    const cases: [string[], RegExp][] = [
      [[...PD, '--prefill-selector', 'a=b'], /needs both --prefill-selector and --decode-selector/],
      [
        [...PD, '--prefill-selector', 'a=b', '--decode-selector', 'a=c', '--selector', 'x=y'],
        /--selector is for plain/,
      ],
      [['--service-discovery'], /needs --selector/],
      [['--service-discovery', '--selector', 'a=b', '--prefill-selector', 'a=c'], /need --pd-disaggregation/],
      [['--worker-urls', 'http://a:1', '--selector', 'a=b'], /--selector needs --service-discovery/],
      [['--worker-urls', 'http://a:1', '--service-discovery-namespace', 'x'], /needs --service-discovery/],
      [['--service-discovery', '--selector', 'a=b', '--worker-urls', 'http://a:1'], /drop --prefill/],
      [['--service-discovery', '--selector', 'a=b', '--snapshot-file', '/x'], /drop --snapshot-file/],
      [['--service-discovery', '--selector', 'a=b', '--service-discovery-port', '0'], /1-65535/],
      [['--service-discovery', '--selector', 'a=b', '--service-discovery-namespace', 'Bad_NS'], /not a namespace/],
    ];
    for (const [argv, message] of cases) expect(() => config(argv), argv.join(' ')).toThrow(message);
  });

  it('parses label items strictly: KEY=VALUE with Kubernetes label syntax, the last of a repeated key wins', () => {
    expect(labelSelectorOf('selector', ['app.kubernetes.io/name=vllm', 'tier=', 'app.kubernetes.io/name=x'])).toBe(
      'app.kubernetes.io/name=x,tier=',
    );
    expect(labelSelectorOf('selector', [])).toBeUndefined();
    for (const bad of ['novalue', '=v', 'a=b,c=d', 'a!=b', 'a=b c', 'a=in(b)']) {
      expect(() => labelSelectorOf('selector', [bad]), bad).toThrow(/--selector: .* is not KEY=VALUE/);
    }
  });
});
