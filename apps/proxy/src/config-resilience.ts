// Retries, circuit breaker, health probes and the start-up wait, from vllm-router's flags (docs/configuration.md).
import { UsageError } from '@pdrouter/cli';
import type { BackoffOptions } from '@pdrouter/core';
import type { BreakerSettings } from './circuit-breaker.ts';
import type { ProxyFlagValues } from './flags.ts';

export interface HealthConfig {
  readonly breaker: BreakerSettings;
  readonly probePath: string;
  readonly probeTimeoutMs: number;
  /** Every member is probed this often. */
  readonly probeIntervalMs: number;
  /** Consecutive failed probes that take a pod out. */
  readonly probeFailureThreshold: number;
  /** Consecutive passing probes after which a pod taken out may have a trial. */
  readonly probeSuccessThreshold: number;
}

export interface RetrySettings {
  /** Attempts per leg, the first included (>= 1). */
  readonly maxAttempts: number;
  /** Delays between attempts (core Backoff; no random: Math.random). */
  readonly backoff: BackoffOptions;
}

export interface StartupSettings {
  readonly timeoutMs: number;
  readonly checkIntervalMs: number;
}

export interface ResilienceConfig {
  readonly health: HealthConfig;
  readonly retry: RetrySettings;
  readonly startup: StartupSettings;
}

function secondsMs(flag: string, secs: number, allowZero = false): number {
  if (!(allowZero ? secs >= 0 : secs > 0) || !Number.isFinite(secs))
    throw new UsageError(`--${flag} must be ${allowZero ? '>= 0' : '> 0'} seconds, got ${secs}`);
  return Math.round(secs * 1000);
}

export function resilienceOf(v: ProxyFlagValues): ResilienceConfig {
  const multiplier = v['retry-backoff-multiplier'];
  if (!(multiplier >= 1)) throw new UsageError(`--retry-backoff-multiplier must be >= 1, got ${multiplier}`);
  const jitter = v['retry-jitter-factor'];
  if (!(jitter >= 0 && jitter <= 1))
    throw new UsageError(`--retry-jitter-factor must be between 0 and 1, got ${jitter}`);
  const initialMs = v['retry-initial-backoff-ms'];
  const maxMs = v['retry-max-backoff-ms'];
  if (maxMs < initialMs)
    throw new UsageError(`--retry-max-backoff-ms (${maxMs}) must be >= --retry-initial-backoff-ms (${initialMs})`);
  const openMs = secondsMs('cb-timeout-duration-secs', v['cb-timeout-duration-secs']);
  const maxOpenMs = secondsMs('cb-max-timeout-duration-secs', v['cb-max-timeout-duration-secs']);
  if (maxOpenMs < openMs)
    throw new UsageError(
      `--cb-max-timeout-duration-secs (${maxOpenMs / 1000}) must be >= --cb-timeout-duration-secs (${openMs / 1000})`,
    );
  return {
    health: Object.freeze({
      breaker: Object.freeze({
        enabled: v['disable-circuit-breaker'] !== true,
        failureThreshold: v['cb-failure-threshold'],
        successThreshold: v['cb-success-threshold'],
        openMs,
        maxOpenMs,
        windowMs: secondsMs('cb-window-duration-secs', v['cb-window-duration-secs']),
      }),
      probePath: v['health-check-endpoint'],
      probeTimeoutMs: secondsMs('health-check-timeout-secs', v['health-check-timeout-secs']),
      probeIntervalMs: secondsMs('health-check-interval-secs', v['health-check-interval-secs']),
      probeFailureThreshold: v['health-failure-threshold'],
      probeSuccessThreshold: v['health-success-threshold'],
    }),
    retry: Object.freeze({
      // vllm-router runs max(1, retry_max_retries) attempts; --disable-retries is one.
      maxAttempts: v['disable-retries'] === true ? 1 : Math.max(1, v['retry-max-retries']),
      backoff: Object.freeze({ initialMs, maxMs, multiplier, jitterFactor: jitter }),
    }),
    startup: Object.freeze({
      timeoutMs: secondsMs('worker-startup-timeout-secs', v['worker-startup-timeout-secs'], true),
      checkIntervalMs: secondsMs('worker-startup-check-interval', v['worker-startup-check-interval']),
    }),
  };
}
