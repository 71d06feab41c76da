// `--help` text and the Markdown flag reference, both rendered from a flag table.
import { code, table } from './markdown.ts';
import type { FlagSpec } from './spec.ts';

export interface HelpSection {
  readonly title: string;
  readonly flags: readonly FlagSpec[];
}

const flagNames = (spec: FlagSpec): string[] => [
  `--${spec.name}`,
  ...(spec.aliases ?? []).map((a) => (a.length === 1 ? `-${a}` : `--${a}`)),
];

/** `--name, -a VALUE` as `--help` shows it. */
export function usageOf(spec: FlagSpec): string {
  const names = flagNames(spec).join(', ');
  if (spec.type === 'bool') return names;
  const value = spec.valueName ?? (spec.type === 'enum' ? spec.choices.join('|') : spec.type.toUpperCase());
  return `${names} ${value}`;
}

/** The default as `--help` shows it ('' for none and for booleans). */
export function defaultText(spec: FlagSpec): string {
  if (spec.defaultText !== undefined) return spec.defaultText;
  if (spec.default === undefined || spec.type === 'bool') return '';
  return Array.isArray(spec.default) ? spec.default.join(' ') : String(spec.default);
}

/** `--help`: the intro lines, then one block per section (sections without flags are left out). */
export function helpText(intro: readonly string[], sections: readonly HelpSection[]): string {
  const lines = [...intro];
  for (const { title, flags } of sections) {
    if (flags.length === 0) continue;
    lines.push(title);
    for (const spec of flags) {
      const def = defaultText(spec);
      const extras = [def && `default ${def}`, spec.env && `env ${spec.env}`].filter(Boolean);
      lines.push(`  ${usageOf(spec)}`);
      lines.push(`      ${spec.help}${extras.length ? ` [${extras.join('; ')}]` : ''}`);
    }
    lines.push('');
  }
  return lines.join('\n');
}

const VALUE_OF_TYPE: Readonly<Record<FlagSpec['type'], string>> = {
  bool: '',
  string: 'STRING',
  int: 'INT',
  number: 'NUMBER',
  enum: '',
  list: 'VALUE...',
  repeat: 'VALUE',
  'url-port': 'URL [PORT]',
};

function valueColumn(spec: FlagSpec): string {
  if (spec.type === 'bool') return '';
  if (spec.type === 'enum') return spec.choices.map(code).join(' | ');
  const repeated = spec.type === 'repeat' || spec.type === 'url-port' ? ' (repeatable)' : '';
  const isNumber = spec.type === 'int' || spec.type === 'number';
  const min = isNumber && spec.min !== undefined ? ` (>= ${spec.min})` : '';
  const max = isNumber && spec.max !== undefined ? ` (<= ${spec.max})` : '';
  return `${code(spec.valueName ?? VALUE_OF_TYPE[spec.type])}${repeated}${min}${max}`;
}

function defaultColumn(spec: FlagSpec): string {
  if (spec.secret) return '';
  if (spec.defaultText !== undefined) return code(spec.defaultText);
  if (spec.default === undefined) return '';
  if (Array.isArray(spec.default)) return spec.default.length === 0 ? '' : code(spec.default.join(','));
  if (spec.type === 'bool' && spec.default === false) return '';
  return code(String(spec.default));
}

/** The Markdown reference of some flags: Flag | Value | Default | Env | Description. */
export function flagTable(flags: readonly FlagSpec[]): string {
  return table(
    ['Flag', 'Value', 'Default', 'Env', 'Description'],
    flags.map((f) => [
      flagNames(f).map(code).join(', '),
      valueColumn(f),
      defaultColumn(f),
      f.env ? code(f.env) : '',
      f.help,
    ]),
  );
}

/**
 * The Markdown table of the enum values some flags refuse: Flags | Value | Why it is refused. A value refused
 * for the same reason by several flags is one row naming them all.
 */
export function refusedChoicesTable(flags: readonly FlagSpec[]): string {
  const rows = new Map<string, { flags: string[]; value: string; reason: string }>();
  for (const f of flags) {
    if (f.type !== 'enum') continue;
    for (const [value, reason] of Object.entries(f.refusedChoices ?? {})) {
      const key = JSON.stringify([value, reason]);
      const row = rows.get(key) ?? { flags: [], value, reason };
      row.flags.push(code(`--${f.name}`));
      rows.set(key, row);
    }
  }
  return table(
    ['Flags', 'Value', 'Why it is refused'],
    [...rows.values()].map((r) => [r.flags.join(', '), code(r.value), r.reason]),
  );
}
