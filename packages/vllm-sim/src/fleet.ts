import type { Clock } from './clock.ts';
import type { Faults, GenerationOptions, TimingOptions } from './options.ts';
import { SimPod } from './pod.ts';

export interface SimFleetOptions {
  readonly prefill?: number;
  readonly decode?: number;
  /** Pods serving both phases (role 'both'). */
  readonly plain?: number;
  /** Bind address of every pod (default 127.0.0.1). */
  readonly host?: string;
  /** Host put in urls and kv_transfer_params (default: host, 127.0.0.1 for a wildcard). */
  readonly advertiseHost?: string;
  /** First port; pods take consecutive ports prefill, then decode, then plain. 0 = random ports. */
  readonly basePort?: number;
  readonly model?: string;
  readonly seed?: number;
  readonly timing?: Partial<TimingOptions>;
  readonly generation?: Partial<GenerationOptions>;
  /** Faults every pod starts with. */
  readonly faults?: Partial<Faults>;
  readonly clock?: Clock;
}

export interface SimFleet {
  readonly pods: readonly SimPod[];
  readonly prefill: readonly SimPod[];
  readonly decode: readonly SimPod[];
  readonly plain: readonly SimPod[];
  /** The pod with this name (e.g. "decode-3"), or undefined. */
  pod(name: string): SimPod | undefined;
  close(): Promise<void>;
}

function count(v: number | undefined, what: string): number {
  const n = v ?? 0;
  if (!Number.isInteger(n) || n < 0) throw new Error(`${what} must be a non-negative integer, got ${v}`);
  return n;
}

/** Starts N simulated pods in this process; rejects (after stopping the started ones) if a port is taken. */
export async function startSimFleet(options: SimFleetOptions = {}): Promise<SimFleet> {
  const nPrefill = count(options.prefill, 'prefill');
  const nDecode = count(options.decode, 'decode');
  const nPlain = count(options.plain, 'plain');
  const basePort = options.basePort ?? 0;
  if (!Number.isInteger(basePort) || basePort < 0 || basePort + nPrefill + nDecode + nPlain > 65536) {
    throw new Error(`basePort ${basePort} does not leave room for ${nPrefill + nDecode + nPlain} pods`);
  }
  const generation = { ...options.generation, ...(options.model !== undefined ? { model: options.model } : {}) };
  const make = (role: 'prefill' | 'decode' | 'both', prefix: string, n: number, offset: number): SimPod[] =>
    Array.from(
      { length: n },
      (_, i) =>
        new SimPod({
          name: `${prefix}-${i}`,
          role,
          host: options.host ?? '127.0.0.1',
          ...(options.advertiseHost !== undefined ? { advertiseHost: options.advertiseHost } : {}),
          port: basePort === 0 ? 0 : basePort + offset + i,
          seed: options.seed ?? 0,
          ...(options.timing !== undefined ? { timing: options.timing } : {}),
          generation,
          ...(options.faults !== undefined ? { faults: options.faults } : {}),
          ...(options.clock !== undefined ? { clock: options.clock } : {}),
        }),
    );
  const prefill = make('prefill', 'prefill', nPrefill, 0);
  const decode = make('decode', 'decode', nDecode, nPrefill);
  const plain = make('both', 'plain', nPlain, nPrefill + nDecode);
  const pods = [...prefill, ...decode, ...plain];
  const byName = new Map(pods.map((p) => [p.name, p]));
  const close = async (): Promise<void> => {
    await Promise.all(pods.map((p) => p.stop()));
  };
  try {
    await Promise.all(pods.map((p) => p.start()));
  } catch (err) {
    await close();
    throw err;
  }
  return Object.freeze({ pods, prefill, decode, plain, pod: (name: string) => byName.get(name), close });
}
