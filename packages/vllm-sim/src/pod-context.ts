import type { Clock } from './clock.ts';
import type { Engine } from './engine.ts';
import type { KvStore } from './kv-store.ts';
import type { Histogram } from './metrics.ts';
import type { Faults, GenerationOptions, TimingOptions } from './options.ts';

export type PodRole = 'prefill' | 'decode' | 'both';

/** Why a decode request could not use its kv_transfer_params and prefilled locally. */
export type FallbackReason =
  | 'missing'
  | 'expired'
  | 'wrong_engine'
  | 'unreachable'
  | 'bad_response'
  | 'prompt_mismatch';

export interface PodCounters {
  requests: number;
  prefillRequests: number;
  remotePrefillHits: number;
  localPrefillFallbacks: number;
  fallbacksByReason: Record<FallbackReason, number>;
  cancelled: number;
  dropped: number;
  /** Times a stream paused because the client's socket was full (res.write returned false). */
  backpressurePauses: number;
  completed: number;
  rejected: number;
  injectedErrorsByStatus: Record<string, number>;
  successByReason: Record<string, number>;
  kvFetchesServed: number;
}

export function newPodCounters(): PodCounters {
  return {
    requests: 0,
    prefillRequests: 0,
    remotePrefillHits: 0,
    localPrefillFallbacks: 0,
    fallbacksByReason: {
      missing: 0,
      expired: 0,
      wrong_engine: 0,
      unreachable: 0,
      bad_response: 0,
      prompt_mismatch: 0,
    },
    cancelled: 0,
    dropped: 0,
    backpressurePauses: 0,
    completed: 0,
    rejected: 0,
    injectedErrorsByStatus: { '429': 0, '500': 0, '503': 0 },
    successByReason: { stop: 0, length: 0 },
    kvFetchesServed: 0,
  };
}

/** What the request handlers of one pod share (the pod's state, read through one object). */
export interface PodContext {
  readonly name: string;
  readonly role: PodRole;
  readonly seed: number;
  readonly clock: Clock;
  readonly engine: Engine;
  readonly kvStore: KvStore;
  readonly timing: Readonly<TimingOptions>;
  readonly generation: Readonly<GenerationOptions>;
  /** Pre-encoded JSON string of the model name. */
  readonly modelJson: string;
  readonly counters: PodCounters;
  readonly ttft: Histogram;
  readonly itl: Histogram;
  readonly e2e: Histogram;
  readonly random: () => number;
  faults(): Readonly<Faults>;
  engineId(): string;
  /** Host and port a decode pod can reach this pod's side channel on. */
  advertisedHost(): string;
  port(): number;
  isReady(): boolean;
  /**
   * Changes every time the pod stops: a connection closed after the lifetime it started in was closed
   * by the pod going down, not cancelled by its client.
   */
  lifetime(): number;
  allocateBlockIds(count: number): number[];
}
