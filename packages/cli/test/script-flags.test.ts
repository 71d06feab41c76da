import { afterEach, describe, expect, it, vi } from 'vitest';
import { type FlagSpec, parseScriptFlags, scriptHelpText } from '../src/index.ts';

const FLAGS = [
  { name: 'rounds', type: 'int', default: 1, min: 1, help: 'Rounds.' },
  { name: 'timed', type: 'bool', help: 'Timed.' },
] as const satisfies readonly FlagSpec[];
const LINE = { program: 'node demo.ts', intro: ['Usage: node demo.ts [flags]'] };

/** process.exit and the output, caught: the function under test ends the process on --help and on errors. */
function caught() {
  const out: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => out.push(String(chunk)) > 0);
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => out.push(String(chunk)) > 0);
  vi.spyOn(process, 'exit').mockImplementation((code) => {
    throw new Error(`exit ${code}`);
  });
  return out;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('parseScriptFlags', () => {
  it('returns the typed values of the table', () => {
    const values = parseScriptFlags(LINE, FLAGS, ['--rounds', '3', '--timed']);
    expect(values).toEqual({ rounds: 3, timed: true });
    expect(parseScriptFlags(LINE, FLAGS, [])).toEqual({ rounds: 1, timed: false });
    expect(parseScriptFlags(LINE, FLAGS, ['--', '--rounds', '2'])).toEqual({ rounds: 2, timed: false });
  });

  it('prints the help rendered from the table and exits 0', () => {
    const out = caught();
    expect(() => parseScriptFlags(LINE, FLAGS, ['-h'])).toThrow('exit 0');
    expect(out.join('')).toBe(scriptHelpText(LINE, FLAGS));
    expect(out.join('')).toMatch(/^Usage: node demo\.ts \[flags\]\n/);
    expect(out.join('')).toContain('--rounds INT');
    expect(out.join('')).toContain('--help, -h');
  });

  it('refuses a wrong command line with exit 2', () => {
    const out = caught();
    expect(() => parseScriptFlags(LINE, FLAGS, ['--round', '3'])).toThrow('exit 2');
    expect(out.join('')).toContain('node demo.ts: error: unknown flag --round');
    expect(() => parseScriptFlags(LINE, FLAGS, ['--rounds', '0'])).toThrow('exit 2');
  });
});
