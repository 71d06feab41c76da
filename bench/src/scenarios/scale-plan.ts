/**
 * The pods of the scale scenario, decided up front (pure, no I/O). A pool of thousands of pods is registered
 * in the Kubernetes API fake, each at its own loopback address (127.a.b.c, all on the machine's `lo`) and at
 * the port of one of a few real vllm-sim pods of its role, which listen on every address. So every member
 * has its own URL on the rings, and every request routed to any of them is served by a real pod.
 */
import type { PlanPod } from './convergence-plan.ts';

export const DEFAULT_SIZES: readonly number[] = [1_000, 5_000, 10_000];
export const QUICK_SIZES: readonly number[] = [1_000];
/** Pods registered as spares per role (not on the rings at start; the plan's scale-up changes add them). */
export const SPARE_PODS_PER_ROLE = 2;
/** Addresses per /8 octet used: .1 to .250, no network or broadcast look-alikes. */
const OCTET = 250;
/** Enough distinct loopback addresses for 250^3 pods. */
export const MAX_PODS = OCTET ** 3;

export interface ScalePod extends PlanPod {
  readonly ip: string;
  readonly port: number;
  readonly url: string;
}

/** The i-th loopback address: 127.1.1.1, 127.1.1.2, ... 127.1.1.250, 127.1.2.1, ... */
export function loopbackIp(i: number): string {
  if (!Number.isInteger(i) || i < 0 || i >= MAX_PODS) throw new Error(`pod index ${i} out of range`);
  const a = Math.floor(i / OCTET ** 2) + 1;
  const b = (Math.floor(i / OCTET) % OCTET) + 1;
  const c = (i % OCTET) + 1;
  return `127.${a}.${b}.${c}`;
}

/**
 * `total` member pods (half prefill, half decode; an odd one is a decode pod) and SPARE_PODS_PER_ROLE spares per
 * role. Pod k of a role is served by that role's real pod k mod ports.length; every pod has its own address.
 */
export function scalePods(
  total: number,
  ports: { readonly prefill: readonly number[]; readonly decode: readonly number[] },
): { members: ScalePod[]; spares: ScalePod[] } {
  if (!Number.isInteger(total) || total < 2) throw new Error(`a pool needs at least 2 pods, got ${total}`);
  if (ports.prefill.length === 0 || ports.decode.length === 0) throw new Error('a real pod of each role is needed');
  if (total + 2 * SPARE_PODS_PER_ROLE > MAX_PODS) throw new Error(`at most ${MAX_PODS} pods, got ${total}`);
  const perRole = { prefill: Math.floor(total / 2), decode: total - Math.floor(total / 2) };
  const members: ScalePod[] = [];
  const spares: ScalePod[] = [];
  let address = 0;
  for (const role of ['prefill', 'decode'] as const) {
    const rolePorts = ports[role];
    for (let k = 0; k < perRole[role] + SPARE_PODS_PER_ROLE; k++) {
      const ip = loopbackIp(address++);
      const port = rolePorts[k % rolePorts.length] as number;
      const pod: ScalePod = { name: `${role}-${k}`, role, ip, port, url: `http://${ip}:${port}` };
      (k < perRole[role] ? members : spares).push(pod);
    }
  }
  return { members, spares };
}
