// The embedded default (`pnpm start`): 8 prefill + 8 decode simulated vLLM pods in this process and the
// proxy in front of them in P/D consistent_hash mode on 127.0.0.1:10001, metrics on :29000. Arguments are
// proxy flags and override these defaults (`pnpm start -- --port 9000`).
import { UsageError, usageErrorText } from '@pdrouter/cli';
import { startSimFleet } from '@pdrouter/vllm-sim';
import { buildConfig } from './config.ts';
import { helpText, parseFlags } from './flags.ts';
import { createLogger } from './logger.ts';
import { runProxy } from './main.ts';

/** Pods of each role the demo starts. */
export const DEMO_PODS_PER_ROLE = 8;
/** How long stopping may take before the process exits anyway. */
export const DEMO_STOP_TIMEOUT_MS = 5000;

async function demo(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === '--') args.shift();
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(
      `pnpm start [-- proxy flags]: ${DEMO_PODS_PER_ROLE}+${DEMO_PODS_PER_ROLE} simulated pods behind the proxy.\n\n${helpText()}\n`,
    );
    return;
  }
  const fleet = await startSimFleet({
    prefill: DEMO_PODS_PER_ROLE,
    decode: DEMO_PODS_PER_ROLE,
    host: '127.0.0.1',
    basePort: 0,
  });
  const defaults = [
    '--pd-disaggregation',
    ...fleet.prefill.flatMap((p) => ['--prefill', p.url]),
    ...fleet.decode.flatMap((d) => ['--decode', d.url]),
    '--policy',
    'consistent_hash',
    '--host',
    '127.0.0.1',
    '--port',
    '10001',
    '--prometheus-port',
    '29000',
  ];
  let config: ReturnType<typeof buildConfig>;
  try {
    config = buildConfig(parseFlags([...defaults, ...args], process.env));
  } catch (err) {
    await fleet.close();
    if (err instanceof UsageError) {
      process.stderr.write(usageErrorText('proxy', err));
      process.exit(err.exitCode);
    }
    throw err;
  }
  const logger = createLogger(config.logLevel);
  let proxy: Awaited<ReturnType<typeof runProxy>>;
  try {
    proxy = await runProxy(config, logger, { handleSignals: false });
  } catch (err) {
    logger.error('failed to start', { error: (err as Error).message });
    await fleet.close();
    process.exit(1);
  }
  const base = `http://${config.host}:${config.port}`;
  let model = 'meta-llama/Llama-3.1-8B-Instruct';
  try {
    model =
      JSON.parse(await (await fetch(`${base}/v1/models`, { signal: AbortSignal.timeout(5000) })).text()).data?.[0]
        ?.id ?? model;
  } catch {
    // The example keeps the default model name.
  }
  const body = JSON.stringify({
    model,
    prompt: 'Explain what machine learning is in simple terms.',
    max_tokens: 64,
    stream: true,
  });
  process.stderr.write(
    [
      '',
      `pdrouter demo: ${fleet.prefill.length} prefill + ${fleet.decode.length} decode simulated pods behind ${base} (metrics ${base.replace(/:\d+$/, `:${config.prometheusPort}`)}/metrics)`,
      'Try:',
      `  curl -sN ${base}/v1/completions -H 'Content-Type: application/json' \\`,
      `    -d '${body}'`,
      `  curl -s ${base}/admin/state`,
      'Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info('stopping', { signal });
    const timer = setTimeout(() => process.exit(0), DEMO_STOP_TIMEOUT_MS);
    timer.unref();
    await proxy.drain(Math.min(config.drainTimeoutMs, DEMO_STOP_TIMEOUT_MS / 2));
    await proxy.close();
    await fleet.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

await demo();
