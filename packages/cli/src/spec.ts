// A command line declared as data: one table of flag specs is the parser's input, the `--help` text and the
// Markdown reference. Tables are written `[...] as const satisfies readonly FlagSpec[]`, so the parsed values
// are typed per flag name (a misspelt name does not compile) and a misspelt spec field does not either.

/**
 * What a flag does when given.
 * - implemented: it does what it says (the default when `status` is left out).
 * - refused: giving it is a usage error (exit 2) naming the flag and this reason.
 * No flag is accepted and left without effect: a flag either acts or is refused.
 */
export type FlagStatus = 'implemented' | { readonly refused: string };

interface SpecBase {
  /** Long name without the leading `--`. */
  readonly name: string;
  /** Other names: one letter is a short flag (`-h`), longer ones are long flags (`--runtime`). */
  readonly aliases?: readonly string[];
  /** Environment variable read when the flag is not on the command line. */
  readonly env?: string;
  readonly help: string;
  /** Placeholder of the value in `--help` and the reference (default: derived from the type). */
  readonly valueName?: string;
  /** Never echoed back (errors, docs). */
  readonly secret?: boolean;
  readonly status?: FlagStatus;
  /** Shown instead of the default value where the default is computed at run time. */
  readonly defaultText?: string;
}

export interface BoolFlag extends SpecBase {
  readonly type: 'bool';
  readonly default?: boolean;
}
export interface StringFlag extends SpecBase {
  readonly type: 'string';
  readonly default?: string;
}
export interface NumberFlag extends SpecBase {
  /** int: an integer; number: any finite number. */
  readonly type: 'int' | 'number';
  readonly default?: number;
  readonly min?: number;
  readonly max?: number;
}
export interface EnumFlag extends SpecBase {
  readonly type: 'enum';
  readonly choices: readonly string[];
  readonly default?: string;
  /**
   * Values another tool's flag of the same name takes that this one refuses, each with the reason: giving one
   * is a usage error (exit 2) naming the flag, the value and the reason, rather than a bare "must be one of".
   */
  readonly refusedChoices?: Readonly<Record<string, string>>;
}
export interface ListFlag extends SpecBase {
  /**
   * list: `--flag a b c` (values up to the next flag, as argparse's nargs='+'), `--flag=a,b`, repeatable.
   * repeat: one value per occurrence (`--flag a --flag b`), as argparse's action='append'.
   * From the environment both take a comma-separated list.
   */
  readonly type: 'list' | 'repeat';
  readonly default?: readonly string[];
}
export interface UrlPortFlag extends SpecBase {
  /** `--flag URL [PORT|none]`, repeatable: vllm-router's `--prefill` grammar. No environment fallback. */
  readonly type: 'url-port';
  readonly default?: never;
}

export type FlagSpec = BoolFlag | StringFlag | NumberFlag | EnumFlag | ListFlag | UrlPortFlag;
export type FlagType = FlagSpec['type'];

/** One `--flag URL [PORT]` occurrence; `port` is absent when none (or `none`) followed the URL. */
export interface UrlPort {
  readonly url: string;
  readonly port?: number;
}

/** The parsed value of one spec. */
export type ValueOf<S extends FlagSpec> = S extends BoolFlag
  ? boolean
  : S extends StringFlag
    ? string
    : S extends NumberFlag
      ? number
      : S extends { readonly type: 'enum'; readonly choices: readonly (infer C)[] }
        ? C
        : S extends ListFlag
          ? readonly string[]
          : S extends UrlPortFlag
            ? readonly UrlPort[]
            : never;

/** Flags that always have a value: booleans (false), lists (empty) and anything with a default. */
type AlwaysSet = { readonly type: 'bool' | 'list' | 'repeat' | 'url-port' } | { readonly default: unknown };

/** The parsed values of a table, keyed by flag name. */
export type FlagValues<T extends readonly FlagSpec[]> = {
  readonly [S in T[number] as S['name']]: S extends AlwaysSet ? ValueOf<S> : ValueOf<S> | undefined;
};

export type FlagName<T extends readonly FlagSpec[]> = T[number]['name'];

export function statusOf(spec: FlagSpec): 'implemented' | 'refused' {
  return typeof spec.status === 'object' ? 'refused' : 'implemented';
}

/** Why a refused flag is refused; undefined for the others. */
export function refusalOf(spec: FlagSpec): string | undefined {
  return typeof spec.status === 'object' ? spec.status.refused : undefined;
}
