import { describe, expect, it } from 'vitest';
import { type FlagSpec, flagParser, UsageError } from '../src/index.ts';

const FLAGS = [
  { name: 'port', type: 'int', default: 30000, env: 'T_PORT', help: 'Port.' },
  { name: 'ratio', type: 'number', min: 0, max: 1, help: 'Ratio.' },
  { name: 'host', type: 'string', env: 'T_HOST', help: 'Host.' },
  {
    name: 'mode',
    type: 'enum',
    choices: ['fast', 'slow'],
    default: 'fast',
    refusedChoices: { sticky: 'no session table' },
    help: 'Mode.',
  },
  { name: 'verbose', type: 'bool', help: 'Verbose.' },
  { name: 'urls', type: 'list', env: 'T_URLS', help: 'URLs.' },
  { name: 'key', type: 'repeat', env: 'T_KEYS', secret: true, help: 'Keys.' },
  { name: 'prefill', type: 'url-port', valueName: 'URL [PORT|none]', help: 'Prefill.' },
  { name: 'backend', aliases: ['runtime'], type: 'string', help: 'Backend.' },
  { name: 'gone', type: 'string', env: 'T_GONE', status: { refused: 'logs go to stdout' }, help: 'Refused.' },
  { name: 'help', aliases: ['h'], type: 'bool', help: 'Help.' },
] as const satisfies readonly FlagSpec[];

const { parse } = flagParser(FLAGS);

/** The UsageError `fn` throws (the test fails when it throws nothing or something else). */
function usageError(fn: () => unknown): UsageError {
  try {
    fn();
  } catch (err) {
    if (err instanceof UsageError) return err;
    throw err;
  }
  throw new Error('expected a UsageError');
}

describe('flagParser', () => {
  it('applies defaults and types: booleans false, lists empty, optional values undefined', () => {
    const { values, given } = parse([]);
    expect(values).toEqual({
      port: 30000,
      ratio: undefined,
      host: undefined,
      mode: 'fast',
      verbose: false,
      urls: [],
      key: [],
      prefill: [],
      backend: undefined,
      old: undefined,
      gone: undefined,
      help: false,
    });
    expect(given.size).toBe(0);
    expect(Object.isFrozen(values)).toBe(true);
    // Values are typed per flag name: a misspelt name does not compile.
    // @ts-expect-error no such flag
    expect(values.prot).toBeUndefined();
    const port: number = values.port;
    const mode: 'fast' | 'slow' = values.mode;
    expect([port, mode]).toEqual([30000, 'fast']);
  });

  it('takes --flag value and --flag=value alike', () => {
    expect(parse(['--port', '9000', '--host', 'a']).values).toMatchObject({ port: 9000, host: 'a' });
    expect(parse(['--port=9000', '--host=a=b']).values).toMatchObject({ port: 9000, host: 'a=b' });
    expect(parse(['--ratio', '-0']).values.ratio).toBe(-0);
    expect(parse(['--port', '-1']).values.port).toBe(-1);
  });

  it('booleans: bare is true, =value is parsed, a following word is not theirs', () => {
    expect(parse(['--verbose']).values.verbose).toBe(true);
    expect(parse(['--verbose=false']).values.verbose).toBe(false);
    expect(parse(['--verbose=YES']).values.verbose).toBe(true);
    expect(usageError(() => parse(['--verbose=maybe'])).message).toBe('--verbose expects true or false, got "maybe"');
    expect(usageError(() => parse(['--verbose', 'false'])).message).toMatch(/unexpected argument "false"/);
    expect(parse(['-h']).values.help).toBe(true);
  });

  it('lists take every value up to the next flag, or a comma list after =, and accumulate', () => {
    expect(parse(['--urls', 'a', 'b', 'c', '--port', '1']).values).toMatchObject({ urls: ['a', 'b', 'c'], port: 1 });
    expect(parse(['--urls=a,b,,c']).values.urls).toEqual(['a', 'b', 'c']);
    expect(parse(['--urls', 'a', '--urls', 'b']).values.urls).toEqual(['a', 'b']);
    const bare = parse(['--urls']);
    expect(bare.values.urls).toEqual([]);
    expect(bare.given.has('urls')).toBe(true);
  });

  it('repeated flags take one value each', () => {
    expect(parse(['--key', 'a', '--key=b']).values.key).toEqual(['a', 'b']);
    expect(usageError(() => parse(['--key', 'a', 'b'])).message).toMatch(/unexpected argument "b"/);
    expect(usageError(() => parse(['--key'])).message).toBe('--key expects a value');
    expect(usageError(() => parse(['--key', '--port', '1'])).message).toBe('--key expects a value');
  });

  it('url-port: a URL, then an optional port or "none"', () => {
    const { values } = parse([
      '--prefill',
      'http://a:1',
      'none',
      '--prefill',
      'http://b:1',
      '9001',
      '--prefill=http://c:1',
    ]);
    expect(values.prefill).toEqual([{ url: 'http://a:1' }, { url: 'http://b:1', port: 9001 }, { url: 'http://c:1' }]);
    expect(parse(['--prefill', 'http://a:1', 'NONE', '--verbose']).values).toMatchObject({
      prefill: [{ url: 'http://a:1' }],
      verbose: true,
    });
    expect(usageError(() => parse(['--prefill', 'http://a:1', 'x'])).message).toBe(
      '--prefill http://a:1: expected a port (1-65535) or "none" after the URL, got "x"',
    );
    expect(usageError(() => parse(['--prefill', 'http://a:1', '70000'])).message).toMatch(/expected a port/);
    expect(usageError(() => parse(['--prefill'])).message).toMatch(/--prefill expects a URL/);
    expect(usageError(() => parse(['--prefill', '--verbose'])).message).toMatch(/--prefill expects a URL/);
  });

  it('bad values are usage errors naming the flag, with exit code 2', () => {
    const err = usageError(() => parse(['--port', 'abc']));
    expect(err.message).toBe('--port expects an integer, got "abc"');
    expect(err.exitCode).toBe(2);
    expect(usageError(() => parse(['--port', '1.5'])).message).toMatch(/expects an integer/);
    expect(usageError(() => parse(['--ratio', 'x'])).message).toBe('--ratio expects a number, got "x"');
    expect(usageError(() => parse(['--ratio', '2'])).message).toBe('--ratio must be <= 1, got 2');
    expect(usageError(() => parse(['--ratio', '-1'])).message).toBe('--ratio must be >= 0, got -1');
    expect(usageError(() => parse(['--mode', 'medium'])).message).toBe(
      '--mode must be one of fast, slow; got "medium"',
    );
    expect(usageError(() => parse(['--host='])).message).toBe('--host may not be empty');
    expect(usageError(() => parse(['--port'])).message).toBe('--port expects a value');
  });

  it('unknown flags and stray words are usage errors pointing at --help', () => {
    expect(usageError(() => parse(['--prot', '1'])).message).toBe(
      'unknown flag --prot (see --help for the list of flags)',
    );
    expect(usageError(() => parse(['--prot=1'])).message).toMatch(/^unknown flag --prot /);
    expect(usageError(() => parse(['-x'])).message).toMatch(/^unknown flag -x /);
    expect(usageError(() => parse(['stray'])).message).toMatch(/unexpected argument "stray"/);
    expect(usageError(() => parse(['--', '--port'])).message).toMatch(/unexpected argument "--port"/);
  });

  it('with positionals allowed, collects the words that are not flags or values, and all after --', () => {
    const withWords = flagParser(FLAGS, { positionals: true });
    const r = withWords.parse(['route', '--port', '1', 'a', '--key', 'k', '--', '--port', '-x']);
    expect(r.positionals).toEqual(['route', 'a', '--port', '-x']);
    expect(r.values).toMatchObject({ port: 1, key: ['k'] });
    expect(parse([]).positionals).toEqual([]);
  });

  it('never echoes a secret value', () => {
    const secret = flagParser([{ name: 'token', type: 'int', secret: true, help: 'T.' }] as const);
    expect(usageError(() => secret.parse(['--token', 'sk-live'])).message).toBe(
      '--token expects an integer, got (hidden)',
    );
  });

  it('long aliases map to their flag', () => {
    const r = parse(['--runtime', 'vllm']);
    expect(r.values.backend).toBe('vllm');
    expect(r.given.has('backend')).toBe(true);
  });

  it('reads the environment when the flag is not given; the command line wins', () => {
    const env = { T_PORT: '8080', T_HOST: 'h', T_URLS: 'a, b,,c', T_KEYS: 'k1,k2' };
    const r = parse([], env);
    expect(r.values).toMatchObject({ port: 8080, host: 'h', urls: ['a', 'b', 'c'], key: ['k1', 'k2'] });
    expect([...r.given].sort()).toEqual(['host', 'key', 'port', 'urls']);
    expect(parse(['--port', '1'], env).values.port).toBe(1);
    expect(parse([], { T_PORT: '' }).values.port).toBe(30000);
    expect(usageError(() => parse([], { T_PORT: 'x' })).message).toBe('T_PORT: --port expects an integer, got "x"');
  });

  it('refuses refused flags and refused enum values, naming the flag, the value and the reason', () => {
    const err = usageError(() => parse(['--gone', 'x']));
    expect(err.message).toBe('--gone is not supported: logs go to stdout');
    expect(err.exitCode).toBe(2);
    expect(usageError(() => parse([], { T_GONE: 'x' })).message).toBe(
      'T_GONE (--gone) is not supported: logs go to stdout',
    );
    const value = usageError(() => parse(['--mode', 'sticky']));
    expect(value.message).toBe('--mode sticky is refused: no session table');
    expect(value.exitCode).toBe(2);
    expect(usageError(() => parse(['--mode', 'other'])).message).toMatch(/--mode must be one of fast, slow/);
    // An inherited property name is no refused value.
    expect(usageError(() => parse(['--mode', 'constructor'])).message).toMatch(/must be one of/);
  });

  it('rejects a table with a duplicate name or an enum default outside its choices', () => {
    expect(() =>
      flagParser([
        { name: 'a', type: 'bool', help: '' },
        { name: 'b', aliases: ['a'], type: 'bool', help: '' },
      ] as const),
    ).toThrow(/--a declared twice/);
    expect(() => flagParser([{ name: 'm', type: 'enum', choices: ['x'], default: 'y', help: '' }] as const)).toThrow(
      /not one of its choices/,
    );
    expect(() => flagParser([{ name: 'r', type: 'bool', status: { refused: ' ' }, help: '' }] as const)).toThrow(
      /without a reason/,
    );
    const enumOf = (refusedChoices: Record<string, string>) =>
      flagParser([{ name: 'e', type: 'enum', choices: ['x'], refusedChoices, help: '' }] as const);
    expect(() => enumOf({ x: 'why' })).toThrow(/--e x is a choice and refused/);
    expect(() => enumOf({ y: '' })).toThrow(/--e y is refused without a reason/);
  });
});
