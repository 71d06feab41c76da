// --log-dir through the process: the same JSON lines as stdout land in DIR/pdrouter.YYYY-MM-DD, and a
// directory that cannot be made stops start-up with a usage error.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand } from '@pdrouter/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { e2eFixture } from './fixture.ts';
import { PROXY_MAIN, type SimProcess } from './helpers.ts';

const e2e = e2eFixture();
let sim: SimProcess;
let dir: string;

beforeAll(async () => {
  sim = await e2e.sim({ plain: 1 });
  dir = mkdtempSync(join(tmpdir(), 'pdrouter-log-dir-'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('--log-dir', () => {
  it('writes the log lines stdout gets to the day’s file in the directory, creating it', async () => {
    const logs = join(dir, 'logs');
    const { child: proxy } = await e2e.proxyProcess([
      '--worker-urls',
      ...sim.urls('both'),
      '--port',
      '0',
      '--prometheus-port',
      '0',
      '--log-dir',
      logs,
    ]);
    expect(await proxy.stop('SIGTERM')).toBe(0);
    const files = readdirSync(logs);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^pdrouter\.\d{4}-\d{2}-\d{2}$/);
    const written = readFileSync(join(logs, files[0] as string), 'utf8')
      .trimEnd()
      .split('\n');
    const stdout = proxy.lines.filter((l) => l.startsWith('{'));
    expect(written).toEqual(stdout);
    expect(written.map((l) => (JSON.parse(l) as { msg: string }).msg)).toEqual(
      expect.arrayContaining(['listening', 'draining', 'stopped']),
    );
  });

  it('refuses a directory it cannot create (exit 2, naming the flag)', async () => {
    writeFileSync(join(dir, 'a-file'), '');
    const r = await runCommand(process.execPath, [
      PROXY_MAIN,
      '--worker-urls',
      'http://127.0.0.1:1',
      '--log-dir',
      join(dir, 'a-file', 'logs'),
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--log-dir .*a-file\/logs: .*(ENOTDIR|EEXIST)/);
  });
});
