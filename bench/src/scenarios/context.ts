import { type FlagSpec, flagParser, HELP_FLAG, scriptHelpText, splitList, UsageError } from '@pdrouter/cli';

/** What every scenario gets: --quick, its own flags (parsed once, frozen) and the command line that ran it. */
export interface ScenarioContext {
  readonly name: string;
  readonly quick: boolean;
  /** --help was given: print scenarioHelp() instead of running. */
  readonly help: boolean;
  readonly command: string;
  readonly log: (line: string) => void;
  /** An `int` flag. */
  int(flag: string): number | undefined;
  /** A `bool` flag: given or not. */
  bool(flag: string): boolean;
  /** A `string` or `enum` flag. */
  str(flag: string): string | undefined;
  /** A `list` flag of positive integers (`--concurrency 32,64`). */
  ints(flag: string): number[] | undefined;
  /** A `list` flag (`--skip nginx,portkey`). */
  list(flag: string): string[] | undefined;
}

const QUICK = {
  name: 'quick',
  type: 'bool',
  help: 'A shorter run, written to <scenario>-quick.*',
} as const satisfies FlagSpec;

/** `--help` of one scenario, from its table: a script's help with --quick after the scenario's own flags. */
export function scenarioHelp(name: string, about: string, flags: readonly FlagSpec[]): string {
  const program = `node bench/src/main.ts ${name}`;
  return scriptHelpText({ program, intro: [`Usage: ${program} [--quick] [flags]`, about] }, [...flags, QUICK]);
}

/**
 * Parses a scenario's flags (its typed table and --quick): a flag the scenario does not declare is a usage error,
 * so a misspelt one cannot be silently ignored, and a value of the wrong type is one too. A scenario reading a
 * flag it did not declare, or as another type, is a bug.
 */
export function scenarioContext(
  name: string,
  flags: readonly FlagSpec[],
  argv: readonly string[],
  command: string,
): ScenarioContext {
  const parsed: Readonly<Record<string, unknown>> = flagParser([...flags, QUICK, HELP_FLAG]).parse(argv).values;
  const declared = (flag: string, types: readonly FlagSpec['type'][]): unknown => {
    const spec = flags.find((f) => f.name === flag);
    if (spec === undefined) throw new Error(`scenario ${name} reads --${flag} without declaring it`);
    if (!types.includes(spec.type)) throw new Error(`scenario ${name} reads --${flag} (${spec.type}) as ${types[0]}`);
    return parsed[flag];
  };
  const list = (flag: string): string[] | undefined => {
    const v = declared(flag, ['list']);
    // `--flag a,b` and `--flag a b` alike (the parser splits only `--flag=a,b`).
    const items = Array.isArray(v) ? v.flatMap((item) => splitList(String(item))) : [];
    return items.length === 0 ? undefined : items;
  };
  return Object.freeze({
    name,
    quick: parsed.quick === true,
    help: parsed.help === true,
    command,
    log: (line: string) => process.stdout.write(`[${name}] ${line}\n`),
    int(flag: string) {
      const v = declared(flag, ['int']);
      return typeof v === 'number' ? v : undefined;
    },
    bool(flag: string) {
      return declared(flag, ['bool']) === true;
    },
    str(flag: string) {
      const v = declared(flag, ['string', 'enum']);
      return typeof v === 'string' ? v : undefined;
    },
    ints(flag: string) {
      return list(flag)?.map((part) => {
        const n = Number(part);
        if (!Number.isInteger(n) || n <= 0) throw new UsageError(`--${flag}: '${part}' is not a positive integer`);
        return n;
      });
    },
    list,
  });
}
