// The parser: node:util.parseArgs splits argv into tokens (`--flag value`, `--flag=value`, `-h`, `--`), then one
// pass over those tokens adds what argparse-style command lines have and parseArgs does not: flags followed by
// several values (`--worker-urls a b c`, `--prefill URL [PORT|none]`), long aliases, typed values, environment
// fallbacks, defaults and the flag's status (a refused flag, or a refused value of an enum, is a usage error).
import { parseArgs } from 'node:util';
import { convertBool, convertOne, portOf, splitList } from './convert.ts';
import { type FlagName, type FlagSpec, type FlagValues, refusalOf, statusOf, type UrlPort } from './spec.ts';
import { UsageError } from './usage-error.ts';
import { validateTable } from './validate.ts';

export type Env = Readonly<Record<string, string | undefined>>;

export interface ParsedFlags<T extends readonly FlagSpec[]> {
  readonly values: FlagValues<T>;
  /** The flags given on the command line or through their environment variable. */
  readonly given: ReadonlySet<FlagName<T>>;
  /** Words that are not flags or their values (only with `positionals: true`; otherwise they are errors). */
  readonly positionals: readonly string[];
}

export interface ParserOptions {
  /** Accept words that are not flags (subcommands, arguments); everything after `--` is one too. */
  readonly positionals?: boolean;
}

export interface FlagParser<T extends readonly FlagSpec[]> {
  readonly specs: T;
  /** Parses argv (without node and the script) and the environment; throws UsageError. */
  parse(argv: readonly string[], env?: Env): ParsedFlags<T>;
}

/** What the pass collects per flag before the defaults are applied. */
type Value = string | number | boolean | readonly (string | UrlPort)[];

/** A token that starts a flag (as opposed to a value such as `-1` or `none`). */
const looksLikeFlag = (s: string): boolean => /^--?[a-zA-Z]/.test(s);

/** Flags whose values parseArgs must not take: the pass over the tokens collects them. */
const takesFollowingTokens = (spec: FlagSpec): boolean =>
  spec.type === 'bool' || spec.type === 'list' || spec.type === 'url-port';

function refuse(spec: FlagSpec, via: string): never {
  throw new UsageError(`${via} is not supported: ${refusalOf(spec)}`);
}

export function flagParser<const T extends readonly FlagSpec[]>(
  specs: T,
  parserOptions: ParserOptions = {},
): FlagParser<T> {
  validateTable(specs);
  const byName = new Map<string, T[number]>();
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const spec of specs) {
    const type = takesFollowingTokens(spec) ? 'boolean' : 'string';
    const short = spec.aliases?.find((a) => a.length === 1);
    options[spec.name] = short === undefined ? { type } : { type, short };
    byName.set(spec.name, spec);
    for (const alias of spec.aliases ?? []) {
      // parseArgs has no long aliases: each one is an option of its own, mapped back to its flag here.
      if (alias.length > 1) options[alias] = { type };
      byName.set(alias, spec);
    }
  }

  function parse(argv: readonly string[], env: Env = {}): ParsedFlags<T> {
    const { tokens } = parseArgs({ args: [...argv], options, strict: false, allowPositionals: true, tokens: true });
    const raw = new Map<string, Value>();
    const given = new Set<FlagName<T>>();
    const positionals: string[] = [];
    const append = (name: string, items: readonly (string | UrlPort)[]) => {
      const before = raw.get(name);
      raw.set(name, [...(Array.isArray(before) ? before : []), ...items]);
    };
    for (let i = 0; i < tokens.length; i++) {
      const token = tokens[i];
      if (token === undefined) break;
      if (token.kind === 'option-terminator') continue;
      if (token.kind === 'positional') {
        if (parserOptions.positionals === true) {
          positionals.push(token.value);
          continue;
        }
        throw new UsageError(`unexpected argument ${JSON.stringify(token.value)} (flags start with --; see --help)`);
      }
      const spec = byName.get(token.name);
      if (spec === undefined) throw new UsageError(`unknown flag ${token.rawName} (see --help for the list of flags)`);
      if (statusOf(spec) === 'refused') refuse(spec, `--${spec.name}`);
      given.add(spec.name);
      const nextPositional = (): string | undefined => {
        const next = tokens[i + 1];
        if (next?.kind !== 'positional') return undefined;
        i++;
        return next.value;
      };
      const peekPositional = (): string | undefined => {
        const next = tokens[i + 1];
        return next?.kind === 'positional' ? next.value : undefined;
      };
      switch (spec.type) {
        case 'bool':
          raw.set(spec.name, token.value === undefined ? true : convertBool(spec, token.value));
          break;
        case 'list': {
          const items = token.value !== undefined ? splitList(token.value) : [];
          for (
            let v = token.value === undefined ? nextPositional() : undefined;
            v !== undefined;
            v = nextPositional()
          ) {
            items.push(v);
          }
          append(spec.name, items);
          break;
        }
        case 'url-port': {
          const url = token.value ?? nextPositional();
          if (url === undefined || url === '') {
            throw new UsageError(`--${spec.name} expects a URL, optionally followed by a port or "none"`);
          }
          const after = peekPositional();
          let port: number | undefined;
          if (after !== undefined) {
            if (after.toLowerCase() !== 'none') {
              port = portOf(after);
              if (port === undefined) {
                throw new UsageError(
                  `--${spec.name} ${url}: expected a port (1-65535) or "none" after the URL, got ${JSON.stringify(after)}`,
                );
              }
            }
            i++;
          }
          append(spec.name, [port === undefined ? { url } : { url, port }]);
          break;
        }
        default: {
          const text = token.value;
          if (text === undefined || (token.inlineValue === false && looksLikeFlag(text))) {
            throw new UsageError(`--${spec.name} expects a value${spec.valueName ? ` (${spec.valueName})` : ''}`);
          }
          if (spec.type === 'repeat') append(spec.name, [text]);
          else raw.set(spec.name, convertOne(spec, text));
        }
      }
    }

    for (const spec of specs) {
      if (given.has(spec.name) || spec.env === undefined || spec.type === 'url-port') continue;
      const text = env[spec.env];
      if (text === undefined || text === '') continue;
      if (statusOf(spec) === 'refused') refuse(spec, `${spec.env} (--${spec.name})`);
      given.add(spec.name);
      if (spec.type === 'list' || spec.type === 'repeat') raw.set(spec.name, splitList(text));
      else {
        try {
          raw.set(spec.name, convertOne(spec, text));
        } catch (err) {
          if (err instanceof UsageError) throw new UsageError(`${spec.env}: ${err.message}`);
          throw err;
        }
      }
    }

    const values: Record<string, Value | undefined> = {};
    for (const spec of specs) {
      const value = raw.get(spec.name) ?? spec.default ?? emptyOf(spec);
      values[spec.name] = Array.isArray(value) ? Object.freeze([...value]) : value;
    }
    return Object.freeze({
      // The one place a table's values meet their type: each entry was produced by converting text with its
      // own spec above, which is what FlagValues<T> states per name.
      values: Object.freeze(values) as FlagValues<T>,
      given,
      positionals: Object.freeze(positionals),
    });
  }

  return Object.freeze({ specs, parse });
}

/** The value of a flag that was not given and has no default. */
function emptyOf(spec: FlagSpec): Value | undefined {
  switch (spec.type) {
    case 'bool':
      return false;
    case 'list':
    case 'repeat':
    case 'url-port':
      return [];
    default:
      return undefined;
  }
}
