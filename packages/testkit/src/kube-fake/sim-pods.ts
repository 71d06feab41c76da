import type { KubeApiFake } from './fake.ts';
import { type PodManifestOptions, podManifest } from './pods.ts';
import type { KubeObject } from './types.ts';

/** What registerSimPods needs from a simulated pod (@pdrouter/vllm-sim's SimPod has it). */
export interface SimPodLike {
  name: string;
  /** 'both' (a plain, non-disaggregated pod) is labelled `plain`. */
  role: string;
  port: number;
}

/**
 * Registers simulated pods as Running, Ready fake pods on 127.0.0.1: role label `llm-d.ai/role`,
 * serving port in the container port and the `vllm.ai/port` annotation (every simulated pod shares
 * the IP, so the per-pod annotation is what tells them apart).
 */
export function registerSimPods(
  fake: KubeApiFake,
  pods: readonly SimPodLike[],
  extra: Omit<PodManifestOptions, 'name' | 'role' | 'port'> = {},
): KubeObject[] {
  return pods.map((p) =>
    fake.createPod(podManifest({ ...extra, name: p.name, role: labelRole(p.role), port: p.port })),
  );
}

function labelRole(role: string): PodManifestOptions['role'] {
  if (role === 'prefill' || role === 'decode' || role === 'plain') return role;
  return 'plain';
}
