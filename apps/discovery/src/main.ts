import { parseOrExit } from '@pdrouter/cli';
import { discoveryHelp, parseDiscoveryArgs } from './config.ts';
import { createDiscovery } from './discovery.ts';
import { createLogger, errorMessage } from './logger.ts';

/** Grace for a clean shutdown (release the Lease, close NATS) before the process exits anyway. */
const SHUTDOWN_TIMEOUT_MS = 10_000;

async function main(): Promise<void> {
  const parsed = parseOrExit('discovery', () => parseDiscoveryArgs(process.argv.slice(2), process.env));
  if (parsed.help) {
    process.stdout.write(discoveryHelp());
    return;
  }
  const config = parsed.config;
  const logger = createLogger(config.logLevel);
  const discovery = createDiscovery(config, { logger });
  const url = await discovery.start();
  logger.info('listening', {
    url,
    metricsUrl: `${url}/metrics`,
    identity: config.identity,
    pool: config.pool,
    namespace: config.namespace,
  });
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info('shutting down', { signal });
    setTimeout(() => process.exit(1), SHUTDOWN_TIMEOUT_MS).unref();
    discovery.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error('shutdown failed', { error: errorMessage(err) });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`error: ${errorMessage(err)}\n`);
  process.exit(1);
});
