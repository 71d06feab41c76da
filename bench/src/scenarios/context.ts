import { type FlagSpec, flagParser, UsageError } from '@pdrouter/cli';

/** What every scenario gets: --quick, its own flags (parsed once, frozen) and the command line that ran it. */
export interface ScenarioContext {
  readonly name: string;
  readonly quick: boolean;
  readonly command: string;
  readonly log: (line: string) => void;
  int(flag: string): number | undefined;
  str(flag: string): string | undefined;
  ints(flag: string): number[] | undefined;
}

/**
 * Parses a scenario's flags (those it declares, each taking a value, and --quick): a flag the scenario does not
 * declare is a usage error, so a misspelt one cannot be silently ignored.
 */
export function scenarioContext(
  name: string,
  flags: readonly string[],
  argv: readonly string[],
  command: string,
): ScenarioContext {
  const specs: FlagSpec[] = [
    ...flags.map((flag): FlagSpec => ({ name: flag, type: 'string', help: '' })),
    { name: 'quick', type: 'bool', help: 'A shorter run, written to <scenario>-quick.*' },
  ];
  const parsed = flagParser(specs).parse(argv).values;
  const quick = parsed.quick === true;
  const str = (flag: string): string | undefined => {
    if (!flags.includes(flag)) throw new Error(`scenario ${name} reads --${flag} without declaring it`);
    const v = parsed[flag];
    return typeof v === 'string' ? v : undefined;
  };
  const int = (flag: string): number | undefined => {
    const v = str(flag);
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) throw new UsageError(`--${flag} must be a positive integer, got '${v}'`);
    return n;
  };
  return Object.freeze({
    name,
    quick,
    command,
    log: (line: string) => process.stdout.write(`[${name}] ${line}\n`),
    int,
    str,
    ints(flag: string) {
      const v = str(flag);
      if (v === undefined) return undefined;
      return v.split(',').map((part) => {
        const n = Number(part);
        if (!Number.isInteger(n) || n <= 0) throw new UsageError(`--${flag}: '${part}' is not a positive integer`);
        return n;
      });
    },
  });
}
