import { parseOrExit } from '@pdrouter/cli';
import { parseSimArgs, simHelpText } from './cli-flags.ts';
import { startControlServer } from './control-server.ts';
import { startSimFleet } from './fleet.ts';

/** Deadline for a clean stop after SIGTERM/SIGINT before the process exits anyway. */
const SHUTDOWN_TIMEOUT_MS = 5_000;

async function main(): Promise<void> {
  const config = parseOrExit('vllm-sim', () => parseSimArgs(process.argv.slice(2)));
  if (config.help) {
    process.stdout.write(simHelpText());
    return;
  }
  const fleet = await startSimFleet(config.fleet);
  const control = await startControlServer(fleet, config.controlHost, config.controlPort);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`vllm-sim: ${signal}, stopping\n`);
    const deadline = setTimeout(() => process.exit(1), SHUTDOWN_TIMEOUT_MS);
    deadline.unref();
    Promise.all([fleet.close(), control.close()]).then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  const ready = {
    event: 'ready',
    pods: fleet.pods.map((p) => ({ name: p.name, role: p.role, url: p.url })),
    control: control.url,
  };
  process.stdout.write(`${JSON.stringify(ready)}\n`);
  // Pod timers are unref'ed; this handle keeps the process serving until a signal arrives.
  setInterval(() => {}, 1 << 30);
}

main().catch((err: unknown) => {
  process.stderr.write(`vllm-sim: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
