import { type FlagSpec, UsageError } from '@pdrouter/cli';
import { describe, expect, it } from 'vitest';
import { scenarioContext, scenarioHelp } from './context.ts';

const FLAGS = [
  { name: 'concurrency', type: 'list', help: 'Levels.' },
  { name: 'num-prompts', type: 'int', min: 1, help: 'Prompts.' },
  { name: 'skip', type: 'list', help: 'Skipped paths.' },
  { name: 'timing', type: 'enum', choices: ['zero', 'seed'], help: 'Timing.' },
] as const satisfies readonly FlagSpec[];

describe('scenarioContext', () => {
  const ctx = (argv: string[]) => scenarioContext('seed', FLAGS, argv, 'cmd');

  it('reads the declared flags, typed, and --quick', () => {
    const c = ctx(['--concurrency', '32,64', '--num-prompts=10', '--quick', '--skip', 'nginx', '--timing', 'seed']);
    expect(c.ints('concurrency')).toEqual([32, 64]);
    expect(c.int('num-prompts')).toBe(10);
    expect(c.list('skip')).toEqual(['nginx']);
    expect(c.str('timing')).toBe('seed');
    expect(c.quick).toBe(true);
    expect(c.help).toBe(false);
    expect(ctx(['--concurrency', '8', '16']).ints('concurrency')).toEqual([8, 16]);
    expect(ctx([]).int('num-prompts')).toBeUndefined();
    expect(ctx([]).list('skip')).toBeUndefined();
    expect(ctx(['-h']).help).toBe(true);
  });

  it('refuses a flag the scenario does not declare (a misspelling is not ignored) and values of the wrong type', () => {
    expect(() => ctx(['--concurency', '64'])).toThrow(UsageError);
    expect(() => ctx(['--concurency', '64'])).toThrow(/unknown flag --concurency/);
    expect(() => ctx(['--num-prompts', '0'])).toThrow(/--num-prompts must be >= 1/);
    expect(() => ctx(['--num-prompts', 'ten'])).toThrow(/--num-prompts expects an integer/);
    expect(() => ctx(['--timing', 'fast'])).toThrow(/--timing must be one of zero, seed/);
    expect(() => ctx(['--concurrency', '8,x']).ints('concurrency')).toThrow(/'x' is not a positive integer/);
    expect(() => ctx(['stray'])).toThrow(/unexpected argument "stray"/);
  });

  it('a scenario reading a flag it did not declare, or as another type, is a bug, not a usage error', () => {
    const c = ctx([]);
    expect(() => c.int('rounds')).toThrow(/reads --rounds without declaring it/);
    expect(() => c.int('timing')).toThrow(/reads --timing \(enum\) as int/);
  });

  it('--help lists the table with its types', () => {
    const help = scenarioHelp('seed', 'The seed scenario.', FLAGS);
    expect(help).toMatch(/^Usage: node bench\/src\/main\.ts seed \[--quick\] \[flags\]\nThe seed scenario\./);
    expect(help).toContain('--num-prompts INT');
    expect(help).toContain('--timing zero|seed');
    expect(help).toContain('--quick');
  });
});
