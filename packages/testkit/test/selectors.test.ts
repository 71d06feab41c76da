import { describe, expect, it } from 'vitest';
import { parseFieldSelector, parseLabelSelector } from '../src/kube-fake/selectors.ts';
import { KubeApiError } from '../src/kube-fake/status.ts';
import type { KubeObject } from '../src/kube-fake/types.ts';

const pod = (labels: Record<string, string>, extra: Partial<KubeObject> = {}): KubeObject => ({
  metadata: { name: 'p', namespace: 'ns', labels },
  ...extra,
});

describe('label selectors', () => {
  const cases: [string, Record<string, string>, boolean][] = [
    ['', {}, true],
    ['role=prefill', { role: 'prefill' }, true],
    ['role==prefill', { role: 'prefill' }, true],
    ['role=prefill', { role: 'decode' }, false],
    ['role!=prefill', { role: 'decode' }, true],
    ['role!=prefill', {}, true], // != matches objects without the label
    ['role in (prefill, decode)', { role: 'decode' }, true],
    ['role in (prefill,decode)', {}, false],
    ['role notin (prefill)', {}, true],
    ['role notin (prefill)', { role: 'prefill' }, false],
    ['llm-d.ai/role', { 'llm-d.ai/role': '' }, true],
    ['!llm-d.ai/role', { 'llm-d.ai/role': 'x' }, false],
    ['!canary', {}, true],
    ['app=vllm,role in (decode),!canary', { app: 'vllm', role: 'decode' }, true],
    ['app=vllm,role in (decode),!canary', { app: 'vllm', role: 'decode', canary: 'y' }, false],
    ['rank>2', { rank: '3' }, true],
    ['rank<2', { rank: '3' }, false],
    ['empty=', { empty: '' }, true],
  ];
  for (const [selector, labels, expected] of cases) {
    it(`${JSON.stringify(selector)} on ${JSON.stringify(labels)} -> ${expected}`, () => {
      expect(parseLabelSelector(selector)(pod(labels))).toBe(expected);
    });
  }

  it('rejects malformed selectors with a 400 Status', () => {
    for (const bad of ['a in (b', 'a=b=c', '=x', 'a in (b c)', 'rank>x']) {
      expect(() => parseLabelSelector(bad), bad).toThrow(KubeApiError);
      try {
        parseLabelSelector(bad);
      } catch (err) {
        expect((err as KubeApiError).code).toBe(400);
      }
    }
  });
});

describe('field selectors', () => {
  const fields = ['metadata.name', 'metadata.namespace', 'status.phase'];
  const running = pod({}, { status: { phase: 'Running' } });

  it('matches =, == and != on supported fields', () => {
    expect(parseFieldSelector('metadata.name=p', fields)(running)).toBe(true);
    expect(parseFieldSelector('metadata.name==q', fields)(running)).toBe(false);
    expect(parseFieldSelector('status.phase!=Running', fields)(running)).toBe(false);
    expect(parseFieldSelector('metadata.namespace=ns,status.phase=Running', fields)(running)).toBe(true);
  });

  it('refuses unsupported fields like the real server', () => {
    expect(() => parseFieldSelector('spec.bogus=1', fields)).toThrow('field label not supported: spec.bogus');
  });
});
