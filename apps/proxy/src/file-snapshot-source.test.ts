import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeSnapshot, type Snapshot, snapshotFromUrls } from '@pdrouter/core';
import { waitUntil } from '@pdrouter/testkit';
import { afterEach, describe, expect, it } from 'vitest';
import { fileSnapshotSource } from './file-snapshot-source.ts';
import type { SnapshotSource } from './snapshot-source.ts';

const DEADLINE_MS = 5000;

function until(what: string, check: () => boolean): Promise<boolean> {
  return waitUntil(check, { timeoutMs: DEADLINE_MS, intervalMs: 20, description: what });
}

function snap(seq: number, decode: string[]): Snapshot {
  return { ...snapshotFromUrls({ prefill: ['http://10.0.0.1:8000'], decode }), seq };
}

describe('fileSnapshotSource', () => {
  let source: SnapshotSource | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    await source?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('applies the file, then every change (atomic rename included); reports unreadable content', async () => {
    dir = mkdtempSync(join(tmpdir(), 'pdrouter-snap-'));
    const path = join(dir, 'pods.json');
    writeFileSync(path, encodeSnapshot(snap(1, ['http://10.0.1.1:8200'])));
    const applied: Snapshot[] = [];
    const rejected: string[] = [];
    source = fileSnapshotSource(path, { pollIntervalMs: 100 });
    await source.start(
      (s) => applied.push(s),
      (r) => rejected.push(r),
    );
    expect(applied.map((s) => s.seq)).toEqual([1]);

    writeFileSync(path, encodeSnapshot(snap(2, ['http://10.0.1.1:8200', 'http://10.0.1.2:8200'])));
    await until('the rewrite', () => applied.length === 2);
    expect(applied[1]?.members.decode).toHaveLength(2);

    writeFileSync(path, '{"pool": ');
    await until('the rejection', () => rejected.length === 1);
    expect(rejected[0]).toContain(path);

    const tmp = join(dir, 'pods.json.tmp');
    writeFileSync(tmp, encodeSnapshot(snap(3, ['http://10.0.1.3:8200'])));
    renameSync(tmp, path);
    await until('the renamed file', () => applied.length === 3);
    expect(applied[2]?.seq).toBe(3);
  });

  it('reports a missing file once and picks it up when it appears', async () => {
    dir = mkdtempSync(join(tmpdir(), 'pdrouter-snap-'));
    const path = join(dir, 'later.json');
    const applied: Snapshot[] = [];
    const rejected: string[] = [];
    let reads = 0;
    const readText = (p: string) => {
      reads += 1;
      return readFile(p, 'utf8');
    };
    source = fileSnapshotSource(path, { pollIntervalMs: 50, readText });
    await source.start(
      (s) => applied.push(s),
      (r) => rejected.push(r),
    );
    expect(rejected).toHaveLength(1);
    expect(rejected[0]).toContain('ENOENT');
    // Three more polls find it missing again: still one report.
    await until('three more polls', () => reads >= 4);
    expect(rejected).toHaveLength(1);
    writeFileSync(path, encodeSnapshot(snap(1, ['http://10.0.1.1:8200'])));
    await until('the new file', () => applied.length === 1);
  });
});
