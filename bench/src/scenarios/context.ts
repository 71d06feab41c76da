import { UsageError } from '@pdrouter/cli';

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

export function scenarioContext(name: string, argv: readonly string[], command: string): ScenarioContext {
  let quick = false;
  const values = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--quick') {
      quick = true;
      continue;
    }
    if (!arg.startsWith('--')) throw new UsageError(`unexpected argument '${arg}'`);
    const eq = arg.indexOf('=');
    if (eq > 0) values.set(arg.slice(2, eq), arg.slice(eq + 1));
    else {
      const value = argv[++i];
      if (value === undefined) throw new UsageError(`${arg} needs a value`);
      values.set(arg.slice(2), value);
    }
  }
  const int = (flag: string): number | undefined => {
    const v = values.get(flag);
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
    str: (flag: string) => values.get(flag),
    ints(flag: string) {
      const v = values.get(flag);
      if (v === undefined) return undefined;
      return v.split(',').map((part) => {
        const n = Number(part);
        if (!Number.isInteger(n) || n <= 0) throw new UsageError(`--${flag}: '${part}' is not a positive integer`);
        return n;
      });
    },
  });
}
