#!/usr/bin/env node
// pdrouterctl: the operator's view of the ring. I/O lives here; the computing is @pdrouter/core's.
import { parseArgs } from 'node:util';
import { type CommandIo, type CommandOptions, explainCommand, hashCommand, routeCommand } from './commands.ts';
import { USAGE, UsageError } from './usage.ts';

const OPTIONS = {
  member: { type: 'string', multiple: true },
  key: { type: 'string', multiple: true },
  'keys-file': { type: 'string' },
  snapshot: { type: 'string' },
  role: { type: 'string' },
  vnodes: { type: 'string' },
  'virtual-nodes': { type: 'string' },
  body: { type: 'string' },
  header: { type: 'string', multiple: true, short: 'H' },
  prefill: { type: 'string', multiple: true },
  decode: { type: 'string', multiple: true },
  'hash-key-mode': { type: 'string' },
  'prefix-bytes': { type: 'string' },
  'hash-prefix-bytes': { type: 'string' },
  pool: { type: 'string' },
  'nats-creds': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function run(argv: string[], io: CommandIo): Promise<void> {
  // `pnpm pdrouterctl -- hash k` forwards the separator; it is not an argument.
  const args = argv[0] === '--' ? argv.slice(1) : argv;
  const { values, positionals } = parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true });
  if (values.help === true || positionals.length === 0) {
    io.out(USAGE.trimEnd());
    if (values.help !== true) throw new UsageError('missing command (hash, route or explain)');
    return;
  }
  const [command, ...rest] = positionals;
  const opts: CommandOptions = {
    member: values.member ?? [],
    key: values.key ?? [],
    header: values.header ?? [],
    prefill: values.prefill ?? [],
    decode: values.decode ?? [],
  };
  const optional: [keyof CommandOptions, string | undefined][] = [
    ['keysFile', values['keys-file']],
    ['snapshot', values.snapshot],
    ['role', values.role],
    ['vnodes', values.vnodes ?? values['virtual-nodes']],
    ['body', values.body],
    ['hashKeyMode', values['hash-key-mode']],
    ['prefixBytes', values['prefix-bytes'] ?? values['hash-prefix-bytes']],
    ['pool', values.pool],
    ['natsCreds', values['nats-creds']],
  ];
  for (const [name, value] of optional)
    if (value !== undefined) (opts as unknown as Record<string, string>)[name] = value;
  switch (command) {
    case 'hash':
      hashCommand(rest, io);
      return;
    case 'route':
      await routeCommand(rest, opts, io);
      return;
    case 'explain':
      await explainCommand(rest, opts, io);
      return;
    default:
      throw new UsageError(`unknown command "${command}" (expected hash, route or explain)`);
  }
}

function isUsageProblem(err: unknown): boolean {
  // node:util parseArgs reports unknown or malformed options with ERR_PARSE_ARGS_* codes.
  const code = (err as { code?: unknown }).code;
  return err instanceof UsageError || (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS'));
}

// Run from a package script the working directory is the package's; pnpm and npm keep the
// directory the user ran the command in as INIT_CWD, so relative paths mean what the user meant.
const cwd = process.env.INIT_CWD ?? process.cwd();
const lines: string[] = [];
const io: CommandIo = {
  cwd,
  out: (line) => {
    lines.push(line);
    if (lines.length >= 256) flush();
  },
  readStdin,
};

function flush(): void {
  if (lines.length > 0) process.stdout.write(`${lines.join('\n')}\n`);
  lines.length = 0;
}

try {
  await run(process.argv.slice(2), io);
  flush();
} catch (err) {
  flush();
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`pdrouterctl: ${message}\n`);
  if (isUsageProblem(err)) process.stderr.write('Run "pdrouterctl --help" for usage.\n');
  process.exitCode = isUsageProblem(err) ? 2 : 1;
}
