// The proxy process: flags -> config -> listeners; SIGTERM/SIGINT drain then exit 0.
import { parseOrExit } from '@pdrouter/cli';
import { buildConfig, type ProxyConfig } from './config.ts';
import { helpText, parseFlags } from './flags.ts';
import { createLogger, type Logger } from './logger.ts';
import { createProxy, type ProxyInstance } from './proxy.ts';

/** After the drain, how long closing the listeners and pools may take before the process exits anyway. */
export const CLOSE_TIMEOUT_MS = 5000;

export function loadConfig(argv: readonly string[], env: NodeJS.ProcessEnv): ProxyConfig | 'help' {
  const parsed = parseFlags(argv, env);
  if (parsed.values.help === true) return 'help';
  return buildConfig(parsed);
}

/**
 * The drain, then closing the listeners, the pools and the snapshot source. Never rejects: a failure
 * while closing is logged, and the process still exits 0 (it was asked to stop, and it did).
 */
export async function shutdown(
  proxy: Pick<ProxyInstance, 'drain' | 'close' | 'lifecycle' | 'config'>,
  logger: Logger,
  signal: string,
): Promise<void> {
  logger.info('draining', { signal, inFlight: proxy.lifecycle.inFlight, drainTimeoutMs: proxy.config.drainTimeoutMs });
  let drained = false;
  try {
    drained = await proxy.drain();
  } catch (err) {
    logger.error('drain failed', { error: (err as Error).message });
  }
  logger.info(drained ? 'drained' : 'drain timeout: closing with requests in flight', {
    inFlight: proxy.lifecycle.inFlight,
  });
  try {
    await proxy.close();
    logger.info('stopped');
  } catch (err) {
    logger.error('closing failed', { error: (err as Error).message });
  }
}

/** Runs the proxy until a signal; returns the running proxy. */
export async function runProxy(
  config: ProxyConfig,
  logger: Logger,
  options: { handleSignals?: boolean } = {},
): Promise<ProxyInstance> {
  for (const warning of config.warnings) logger.warn(warning);
  const proxy = await createProxy(config, { logger });
  const { url, metricsUrl } = await proxy.listen();
  logger.info('listening', {
    url,
    metricsUrl,
    mode: config.mode,
    source: proxy.source.description,
    prefillPolicy: config.prefillPolicy,
    decodePolicy: config.decodePolicy,
    hashKeyMode: config.hashKeyMode,
  });
  if (options.handleSignals !== false) {
    let stopping = false;
    const stop = async (signal: string) => {
      if (stopping) {
        // The operator (or the kubelet after its grace period) insists: exit without waiting for the drain.
        logger.warn('second signal: exiting now', { signal, inFlight: proxy.lifecycle.inFlight });
        process.exit(0);
      }
      stopping = true;
      const timer = setTimeout(() => process.exit(0), config.drainTimeoutMs + CLOSE_TIMEOUT_MS);
      timer.unref();
      await shutdown(proxy, logger, signal);
      process.exit(0);
    };
    process.on('SIGTERM', () => void stop('SIGTERM'));
    process.on('SIGINT', () => void stop('SIGINT'));
  }
  return proxy;
}

async function main(): Promise<void> {
  const config = parseOrExit('proxy', () => loadConfig(process.argv.slice(2), process.env));
  if (config === 'help') {
    process.stdout.write(`${helpText()}\n`);
    return;
  }
  const logger = createLogger(config.logLevel);
  try {
    await runProxy(config, logger);
  } catch (err) {
    logger.error('failed to start', { error: (err as Error).message });
    process.exit(1);
  }
}

if (import.meta.main) await main();
