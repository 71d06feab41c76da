#!/usr/bin/env node
// pdrouterctl: the operator's view of the ring. I/O lives here; the computing is @pdrouter/core's.
import { flagParser } from '@pdrouter/cli';
import { type CommandIo, type CommandOptions, explainCommand, hashCommand, routeCommand } from './commands.ts';
import { CTL_FLAGS } from './flags.ts';
import { USAGE, UsageError } from './usage.ts';

const parser = flagParser(CTL_FLAGS, { positionals: true });

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function run(argv: string[], io: CommandIo): Promise<void> {
  // `pnpm pdrouterctl -- hash k` forwards the separator; it is not an argument.
  const args = argv[0] === '--' ? argv.slice(1) : argv;
  const { values, positionals } = parser.parse(args);
  if (values.help || positionals.length === 0) {
    io.out(USAGE.trimEnd());
    if (!values.help) throw new UsageError('missing command (hash, route or explain)');
    return;
  }
  const [command, ...rest] = positionals;
  const opts: CommandOptions = {
    member: [...values.member],
    key: [...values.key],
    header: [...values.header],
    prefill: [...values.prefill],
    decode: [...values.decode],
    ...(values['keys-file'] !== undefined ? { keysFile: values['keys-file'] } : {}),
    ...(values.snapshot !== undefined ? { snapshot: values.snapshot } : {}),
    ...(values.role !== undefined ? { role: values.role } : {}),
    ...(values.vnodes !== undefined ? { vnodes: values.vnodes } : {}),
    ...(values.body !== undefined ? { body: values.body } : {}),
    ...(values['hash-key-mode'] !== undefined ? { hashKeyMode: values['hash-key-mode'] } : {}),
    ...(values['prefix-bytes'] !== undefined ? { prefixBytes: values['prefix-bytes'] } : {}),
    ...(values.pool !== undefined ? { pool: values.pool } : {}),
    ...(values['nats-creds'] !== undefined ? { natsCreds: values['nats-creds'] } : {}),
    scoring: {
      ...(values.policy !== undefined ? { policy: values.policy } : {}),
      served: [...values.served],
      inFlight: [...values['in-flight']],
      podSignals: [...values['pod-signals']],
      knobs: {
        'cache-threshold': values['cache-threshold'],
        'balance-abs-threshold': values['balance-abs-threshold'],
        'balance-rel-threshold': values['balance-rel-threshold'],
        'load-aware-prefix-weight': values['load-aware-prefix-weight'],
        'load-aware-load-weight': values['load-aware-load-weight'],
        'load-aware-ring-weight': values['load-aware-ring-weight'],
        'bounded-load-factor': values['bounded-load-factor'],
      },
    },
  };
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
  return err instanceof UsageError;
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
