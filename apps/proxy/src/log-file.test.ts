import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { logFileName, openLogFile } from './log-file.ts';

let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('--log-dir files', () => {
  it('writes to DIR/pdrouter.YYYY-MM-DD (UTC) and starts a new file at UTC midnight, keeping the old one', () => {
    dir = mkdtempSync(join(tmpdir(), 'pdrouter-logs-'));
    let now = Date.parse('2026-12-01T23:59:59.500Z');
    const file = openLogFile(join(dir, 'nested', 'logs'), { now: () => now });
    file.write('{"a":1}\n');
    now = Date.parse('2026-12-02T00:00:00.100Z');
    file.write('{"b":2}\n');
    file.close();
    const logs = join(dir, 'nested', 'logs');
    expect(readdirSync(logs).sort()).toEqual(['pdrouter.2026-12-01', 'pdrouter.2026-12-02']);
    expect(readFileSync(join(logs, 'pdrouter.2026-12-01'), 'utf8')).toBe('{"a":1}\n');
    expect(readFileSync(join(logs, 'pdrouter.2026-12-02'), 'utf8')).toBe('{"b":2}\n');
    expect(logFileName(Date.parse('2026-01-05T12:00:00+09:00'))).toBe('pdrouter.2026-01-05');
  });

  it('appends to the day’s file across restarts', () => {
    dir = mkdtempSync(join(tmpdir(), 'pdrouter-logs-'));
    const now = () => Date.parse('2026-12-01T10:00:00Z');
    for (const line of ['one\n', 'two\n']) {
      const f = openLogFile(dir, { now });
      f.write(line);
      f.close();
    }
    expect(readFileSync(join(dir, 'pdrouter.2026-12-01'), 'utf8')).toBe('one\ntwo\n');
  });

  it('refuses a directory it cannot create; a failing day is reported once and the next day is tried again', () => {
    dir = mkdtempSync(join(tmpdir(), 'pdrouter-logs-'));
    writeFileSync(join(dir, 'file'), '');
    expect(() => openLogFile(join(dir, 'file', 'logs'))).toThrow(/ENOTDIR|EEXIST/);
    let now = Date.parse('2026-12-01T10:00:00Z');
    const errors: string[] = [];
    const f = openLogFile(dir, { now: () => now, onError: (e) => errors.push(e.message) });
    // The next day's name is taken by a directory: that file cannot be opened (by root either).
    mkdirSync(join(dir, 'pdrouter.2026-12-02'));
    now = Date.parse('2026-12-02T10:00:00Z');
    f.write('lost\n');
    f.write('lost too\n');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/EISDIR/);
    now = Date.parse('2026-12-03T10:00:00Z');
    f.write('back\n');
    f.close();
    expect(readFileSync(join(dir, 'pdrouter.2026-12-03'), 'utf8')).toBe('back\n');
  });
});
