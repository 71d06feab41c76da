import { describe, expect, it } from 'vitest';
import { cell, type FlagSpec, flagTable, helpText, refusedChoicesTable } from '../src/index.ts';

const FLAGS = [
  { name: 'port', type: 'int', default: 30000, env: 'T_PORT', min: 0, help: 'Port.' },
  { name: 'mode', type: 'enum', choices: ['fast', 'slow'], default: 'fast', help: 'Mode | speed.' },
  { name: 'verbose', type: 'bool', default: false, help: 'Verbose.' },
  { name: 'urls', type: 'list', default: ['a', 'b'], help: 'URLs.' },
  { name: 'prefill', type: 'url-port', help: 'Prefill.' },
  { name: 'key', type: 'string', default: 'sk-1', secret: true, valueName: 'KEY', help: 'Key.' },
  { name: 'help', aliases: ['h'], type: 'bool', help: 'Help.' },
] as const satisfies readonly FlagSpec[];

describe('helpText', () => {
  it('shows each flag with its value, default and env, by section; empty sections are left out', () => {
    const text = helpText(
      ['intro', ''],
      [
        { title: 'Main:', flags: FLAGS.slice(0, 4) },
        { title: 'Empty:', flags: [] },
        { title: 'Other:', flags: FLAGS.slice(6) },
      ],
    );
    expect(text).toBe(
      [
        'intro',
        '',
        'Main:',
        '  --port INT',
        '      Port. [default 30000; env T_PORT]',
        '  --mode fast|slow',
        '      Mode | speed. [default fast]',
        '  --verbose',
        '      Verbose.',
        '  --urls LIST',
        '      URLs. [default a b]',
        '',
        'Other:',
        '  --help, -h',
        '      Help.',
        '',
      ].join('\n'),
    );
  });
});

describe('flagTable', () => {
  it('renders Flag | Value | Default | Env | Description, escaping cells and hiding secret defaults', () => {
    expect(flagTable(FLAGS).split('\n')).toEqual([
      '| Flag | Value | Default | Env | Description |',
      '| --- | --- | --- | --- | --- |',
      '| `--port` | `INT` (>= 0) | `30000` | `T_PORT` | Port. |',
      '| `--mode` | `fast` \\| `slow` | `fast` |  | Mode \\| speed. |',
      '| `--verbose` |  |  |  | Verbose. |',
      '| `--urls` | `VALUE...` | `a,b` |  | URLs. |',
      '| `--prefill` | `URL [PORT]` (repeatable) |  |  | Prefill. |',
      '| `--key` | `KEY` |  |  | Key. |',
      '| `--help`, `-h` |  |  |  | Help. |',
    ]);
  });

  it('lists the refused values of enum flags with their reasons', () => {
    const flags = [
      { name: 'mode', type: 'enum', choices: ['fast'], refusedChoices: { sticky: 'no table', b: 'no b' }, help: '' },
      { name: 'port', type: 'int', help: '' },
      { name: 'other', type: 'enum', choices: ['x'], refusedChoices: { sticky: 'no table', c: 'no c' }, help: '' },
    ] as const satisfies readonly FlagSpec[];
    expect(refusedChoicesTable(flags).split('\n')).toEqual([
      '| Flags | Value | Why it is refused |',
      '| --- | --- | --- |',
      '| `--mode`, `--other` | `sticky` | no table |',
      '| `--mode` | `b` | no b |',
      '| `--other` | `c` | no c |',
    ]);
  });

  it('escapes table cells', () => {
    expect(cell('a|b\n  c')).toBe('a\\|b c');
  });
});
