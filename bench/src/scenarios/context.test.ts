import { UsageError } from '@pdrouter/cli';
import { describe, expect, it } from 'vitest';
import { scenarioContext } from './context.ts';

describe('scenarioContext', () => {
  const ctx = (argv: string[]) => scenarioContext('seed', ['concurrency', 'num-prompts', 'skip'], argv, 'cmd');

  it('reads the declared flags and --quick', () => {
    const c = ctx(['--concurrency', '32,64', '--num-prompts=10', '--quick', '--skip', 'nginx']);
    expect(c.ints('concurrency')).toEqual([32, 64]);
    expect(c.int('num-prompts')).toBe(10);
    expect(c.str('skip')).toBe('nginx');
    expect(c.quick).toBe(true);
    expect(ctx([]).int('num-prompts')).toBeUndefined();
  });

  it('refuses a flag the scenario does not declare (a misspelling is not ignored) and bad numbers', () => {
    expect(() => ctx(['--concurency', '64'])).toThrow(UsageError);
    expect(() => ctx(['--concurency', '64'])).toThrow(/unknown flag --concurency/);
    expect(() => ctx(['--num-prompts', '0']).int('num-prompts')).toThrow(/must be a positive integer/);
    expect(() => ctx(['--concurrency', '8,x']).ints('concurrency')).toThrow(/'x' is not a positive integer/);
    expect(() => ctx(['stray'])).toThrow(/unexpected argument "stray"/);
  });

  it('a scenario reading a flag it did not declare is a bug, not a usage error', () => {
    const c = ctx([]);
    expect(() => c.int('rounds')).toThrow(/reads --rounds without declaring it/);
  });
});
