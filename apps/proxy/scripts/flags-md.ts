// Prints the proxy's flags as Markdown tables, from PROXY_FLAGS (the same table the parser and --help use).
// Usage: node apps/proxy/scripts/flags-md.ts > /tmp/flags.md
import { defaultText, type FlagSpec, PROXY_FLAGS } from '../src/flags.ts';

const cell = (s: string) => s.replaceAll('|', '\\|').replaceAll('\n', ' ');

function usage(spec: FlagSpec): string {
  const names = [`--${spec.name}`, ...(spec.aliases ?? []).map((a) => (a.length === 1 ? `-${a}` : `--${a}`))];
  const value =
    spec.type === 'bool'
      ? ''
      : ` ${spec.valueName ?? (spec.type === 'enum' ? (spec.choices ?? []).join('|') : spec.type.toUpperCase())}`;
  return `\`${names.join('`, `')}\`${cell(value)}`;
}

function table(specs: readonly FlagSpec[]): string {
  const rows = ['| Flag | Default | Env | Description |', '|---|---|---|---|'];
  for (const spec of specs) {
    const def = defaultText(spec);
    rows.push(
      `| ${usage(spec)} | ${def ? `\`${cell(def)}\`` : ''} | ${spec.env ? `\`${spec.env}\`` : ''} | ${cell(spec.help)} |`,
    );
  }
  return rows.join('\n');
}

const out = [
  '### vllm-router flags (honoured)',
  '',
  table(PROXY_FLAGS.filter((s) => s.origin === 'vllm-router' && s.honoured)),
  '',
  '### pdrouter flags',
  '',
  table(PROXY_FLAGS.filter((s) => s.origin === 'pdrouter')),
  '',
  '### vllm-router flags accepted but not acted on',
  '',
  'Given one of these, the proxy starts and logs a warning naming it.',
  '',
  table(PROXY_FLAGS.filter((s) => !s.honoured)),
  '',
];
process.stdout.write(out.join('\n'));
