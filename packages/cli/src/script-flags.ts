// The command line of a small program (a dev script, a benchmark helper): its flag table plus --help, parsed
// once. --help prints the text rendered from the same table and exits 0; a usage error exits 2 (parseOrExit).
import { helpText } from './help.ts';
import { type Env, flagParser } from './parse.ts';
import type { FlagSpec, FlagValues } from './spec.ts';
import { parseOrExit } from './usage-error.ts';

/** The --help (-h) every script and bench scenario takes, after its own flags. */
export const HELP_FLAG = {
  name: 'help',
  aliases: ['h'],
  type: 'bool',
  help: 'Print this help and exit.',
} as const satisfies FlagSpec;

export interface ScriptCommandLine {
  /** The program's name in messages (`node bench/src/ring.ts`, say). */
  readonly program: string;
  /** What it does and how it is called: the first lines of --help. */
  readonly intro: readonly string[];
}

/** `--help` of a script: the intro, then its flags and --help. */
export function scriptHelpText(line: ScriptCommandLine, specs: readonly FlagSpec[]): string {
  return helpText([...line.intro, ''], [{ title: 'Flags:', flags: [...specs, HELP_FLAG] }]);
}

/**
 * Parses `argv` (default: this process's; a leading `--`, which some package-manager versions pass on, is
 * dropped) against `specs`; prints --help and
 * exits 0 when asked to, prints a usage error and exits 2 on a wrong command line.
 */
export function parseScriptFlags<const T extends readonly FlagSpec[]>(
  line: ScriptCommandLine,
  specs: T,
  argv: readonly string[] = process.argv.slice(2),
  env: Env = {},
): FlagValues<T> {
  if (argv[0] === '--') return parseScriptFlags(line, specs, argv.slice(1), env);
  // Parsed with --help first (a usage error or --help ends here), then with the table alone for its typed values.
  const given: ReadonlySet<string> = parseOrExit(line.program, () =>
    flagParser([...specs, HELP_FLAG]).parse(argv, env),
  ).given;
  if (given.has(HELP_FLAG.name)) {
    process.stdout.write(scriptHelpText(line, specs));
    process.exit(0);
  }
  return parseOrExit(line.program, () => flagParser(specs).parse(argv, env)).values;
}
