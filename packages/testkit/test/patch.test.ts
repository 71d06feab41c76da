import { describe, expect, it } from 'vitest';
import { applyPatch, PATCH_CONTENT_TYPES } from '../src/kube-fake/patch.ts';
import { KubeApiError } from '../src/kube-fake/status.ts';

const base = () => ({
  metadata: { name: 'p', labels: { a: '1', b: '2' } },
  spec: {
    containers: [
      { name: 'vllm', image: 'v1', ports: [{ containerPort: 8000 }] },
      { name: 'side', image: 's1' },
    ],
  },
  status: {
    phase: 'Running',
    conditions: [
      { type: 'Ready', status: 'True' },
      { type: 'PodScheduled', status: 'True' },
    ],
  },
});

describe('merge patch (RFC 7386)', () => {
  it('merges objects, deletes with null and replaces lists', () => {
    const out = applyPatch(base(), PATCH_CONTENT_TYPES.merge, {
      metadata: { labels: { a: null, c: '3' } },
      status: { conditions: [{ type: 'Ready', status: 'False' }] },
    });
    expect(out.metadata).toEqual({ name: 'p', labels: { b: '2', c: '3' } });
    expect((out.status as { conditions: unknown[] }).conditions).toEqual([{ type: 'Ready', status: 'False' }]);
  });
});

describe('strategic merge patch', () => {
  it('merges lists of named things by key and keeps the others', () => {
    const out = applyPatch(base(), `${PATCH_CONTENT_TYPES.strategic}; charset=utf-8`, {
      status: { conditions: [{ type: 'Ready', status: 'False' }] },
      spec: { containers: [{ name: 'vllm', image: 'v2' }] },
    }) as ReturnType<typeof base>;
    expect(out.status.conditions).toEqual([
      { type: 'Ready', status: 'False' },
      { type: 'PodScheduled', status: 'True' },
    ]);
    expect(out.spec.containers).toEqual([
      { name: 'vllm', image: 'v2', ports: [{ containerPort: 8000 }] },
      { name: 'side', image: 's1' },
    ]);
  });

  it('honours $patch: delete in a list', () => {
    const out = applyPatch(base(), PATCH_CONTENT_TYPES.strategic, {
      spec: { containers: [{ name: 'side', $patch: 'delete' }] },
    }) as ReturnType<typeof base>;
    expect(out.spec.containers.map((c) => c.name)).toEqual(['vllm']);
  });
});

describe('JSON patch (RFC 6902)', () => {
  it('applies add, replace, remove, test, copy and move', () => {
    const out = applyPatch(base(), PATCH_CONTENT_TYPES.json, [
      { op: 'test', path: '/metadata/labels/a', value: '1' },
      { op: 'add', path: '/metadata/labels/llm-d.ai~1role', value: 'decode' },
      { op: 'replace', path: '/status/conditions/0/status', value: 'False' },
      { op: 'remove', path: '/metadata/labels/b' },
      { op: 'copy', from: '/metadata/labels/a', path: '/metadata/labels/copied' },
      { op: 'move', from: '/metadata/labels/a', path: '/metadata/labels/moved' },
      { op: 'add', path: '/status/conditions/-', value: { type: 'X', status: 'True' } },
    ]) as ReturnType<typeof base>;
    expect(out.metadata.labels).toEqual({ 'llm-d.ai/role': 'decode', copied: '1', moved: '1' });
    expect(out.status.conditions.map((c) => `${c.type}=${c.status}`)).toEqual([
      'Ready=False',
      'PodScheduled=True',
      'X=True',
    ]);
  });

  it('fails a test op or a missing path with 422, and never changes the input', () => {
    const input = base();
    const snapshot = JSON.stringify(input);
    for (const ops of [
      [{ op: 'test', path: '/metadata/name', value: 'q' }],
      [{ op: 'replace', path: '/nope/x', value: 1 }],
    ]) {
      try {
        applyPatch(input, PATCH_CONTENT_TYPES.json, ops);
        throw new Error('expected a failure');
      } catch (err) {
        expect(err).toBeInstanceOf(KubeApiError);
        expect((err as KubeApiError).code).toBe(422);
      }
    }
    expect(JSON.stringify(input)).toBe(snapshot);
  });

  it('refuses unknown patch content types with 415', () => {
    expect(() => applyPatch(base(), 'application/json', {})).toThrow(/unknown format/);
  });
});
