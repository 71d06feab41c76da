// The one error of a wrong command line: every CLI prints it with a pointer to --help and exits 2
// (the status argparse and most Unix tools use for a usage error), before anything has started.

/** Exit status of a usage error. */
export const USAGE_EXIT_CODE = 2;

export class UsageError extends Error {
  override readonly name = 'UsageError';
  readonly exitCode = USAGE_EXIT_CODE;
}

/** What a CLI prints on standard error for a usage error. */
export function usageErrorText(program: string, err: UsageError): string {
  return `${program}: error: ${err.message}\nRun with --help for the list of flags.\n`;
}

/**
 * Runs `parse`; a UsageError is printed on standard error and the process exits 2. Any other error is
 * rethrown (a bug, not the operator's input).
 */
export function parseOrExit<T>(program: string, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(usageErrorText(program, err));
      process.exit(USAGE_EXIT_CODE);
    }
    throw err;
  }
}
