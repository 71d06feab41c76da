import { join } from 'node:path';
import { runCommand } from '@pdrouter/testkit';
import { describe, expect, it } from 'vitest';
import { discoveryHelp } from '../src/index.ts';

const MAIN = join(import.meta.dirname, '../src/main.ts');

describe('discovery command line', () => {
  it('--help prints the help of the flag table and exits 0 before anything starts', async () => {
    // With flags that would otherwise start it against a NATS server that is not there.
    const r = await runCommand(process.execPath, [MAIN, '--plain-selector', 'a=b', '--nats-url', 'nats://x', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(discoveryHelp());
    expect(r.stderr).toBe('');
  });

  it('a bad flag is a clear error with exit code 2', async () => {
    const r = await runCommand(process.execPath, [
      MAIN,
      '--plain-selector',
      'a=b',
      '--nats-url',
      'nats://x',
      '--debounce-ms',
      'soon',
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--debounce-ms expects an integer, got "soon"');
  });

  it('a missing kubeconfig file fails at start with the file named', async () => {
    const r = await runCommand(process.execPath, [
      MAIN,
      '--plain-selector',
      'a=b',
      '--nats-url',
      'nats://127.0.0.1:1',
      '--kubeconfig',
      '/nonexistent/kubeconfig',
      '--http-port',
      '0',
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('/nonexistent/kubeconfig');
  });
});
