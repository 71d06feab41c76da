// The proxy process: flags -> config -> listeners; SIGTERM/SIGINT drain then exit 0.
import { parseOrExit, UsageError } from '@pdrouter/cli';
import { buildConfig, type ProxyConfig } from './config.ts';
import { helpText, parseFlags } from './flags.ts';
import { type LogFile, openLogFile } from './log-file.ts';
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
  const proxy = await createProxy(config, { logger });
  const { url, metricsUrl } = await proxy.listen();
  // Handlers first: whoever waits for the 'listening' line may signal at once.
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
  logger.info('listening', {
    url,
    metricsUrl,
    mode: config.mode,
    source: proxy.source.description,
    prefillPolicy: config.prefillPolicy,
    decodePolicy: config.decodePolicy,
    hashKeyMode: config.hashKeyMode,
  });
  void proxy.startup.then((r) => {
    if (r.ready || proxy.lifecycle.draining) return;
    // vllm-router gives up the same way: no pod answered within --worker-startup-timeout-secs.
    logger.error('pods did not answer their health endpoint in time: exiting', {
      waiting: r.waiting,
      timeoutSecs: config.startup.timeoutMs / 1000,
      endpoint: config.health.probePath,
    });
    void proxy.close().finally(() => process.exit(1));
  });
  return proxy;
}

/** The log's sink: stdout, and with --log-dir the day's file too (a directory that cannot be written stops start-up). */
function logWriter(config: ProxyConfig): (line: string) => void {
  if (config.logDir === undefined) return (line) => process.stdout.write(line);
  let file: LogFile;
  try {
    file = openLogFile(config.logDir, {
      onError: (err) =>
        process.stderr.write(`proxy: --log-dir ${config.logDir}: ${err.message}; logging to stdout only\n`),
    });
  } catch (err) {
    throw new UsageError(`--log-dir ${config.logDir}: ${(err as Error).message}`);
  }
  return (line) => {
    process.stdout.write(line);
    file.write(line);
  };
}

async function main(): Promise<void> {
  const started = parseOrExit('proxy', () => {
    const config = loadConfig(process.argv.slice(2), process.env);
    return config === 'help' ? config : { config, write: logWriter(config) };
  });
  if (started === 'help') {
    process.stdout.write(`${helpText()}\n`);
    return;
  }
  const { config } = started;
  const logger = createLogger(config.logLevel, started.write);
  try {
    await runProxy(config, logger);
  } catch (err) {
    logger.error('failed to start', { error: (err as Error).message });
    process.exit(1);
  }
}

if (import.meta.main) await main();
