import { SimPod, type SimPodSettings } from './pod.ts';

/** A fleet's pods; host, advertiseHost, seed, timing, generation, faults and clock go to every pod as given. */
export interface SimFleetOptions extends SimPodSettings {
  readonly prefill?: number;
  readonly decode?: number;
  /** Pods serving both phases (role 'both'). */
  readonly plain?: number;
  /** First port; pods take consecutive ports prefill, then decode, then plain. 0 = random ports. */
  readonly basePort?: number;
  readonly model?: string;
  /** Speed factor per pod name (timing.speed of that pod), e.g. { 'decode-3': 0.5 }; other pods keep timing.speed. */
  readonly podSpeed?: Readonly<Record<string, number>>;
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

/** The names a fleet gives its pods of one kind: prefill-0, prefill-1, ... */
export function podNames(prefix: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
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
  const { prefill: _p, decode: _d, plain: _pl, basePort: _b, model, podSpeed = {}, ...settings } = options;
  const names = [...podNames('prefill', nPrefill), ...podNames('decode', nDecode), ...podNames('plain', nPlain)];
  const unknown = Object.keys(podSpeed).filter((name) => !names.includes(name));
  if (unknown.length > 0) throw new Error(`podSpeed names no pod of this fleet: ${unknown.join(', ')}`);
  const generation = { ...options.generation, ...(model !== undefined ? { model } : {}) };
  const make = (role: 'prefill' | 'decode' | 'both', prefix: string, n: number, offset: number): SimPod[] =>
    podNames(prefix, n).map((name, i) => {
      const speed = podSpeed[name];
      return new SimPod({
        ...settings,
        name,
        role,
        port: basePort === 0 ? 0 : basePort + offset + i,
        generation,
        ...(speed !== undefined ? { timing: { ...settings.timing, speed } } : {}),
      });
    });
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
