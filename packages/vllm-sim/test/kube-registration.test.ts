import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { type KubeApiFake, PORT_ANNOTATION, registerSimPods, startKubeApiFake } from '@pdrouter/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SimFleet, startSimFleet } from '../src/index.ts';

describe('registerSimPods', () => {
  let fake: KubeApiFake;
  let fleet: SimFleet;
  beforeAll(async () => {
    fake = await startKubeApiFake({ namespace: 'pd' });
    fleet = await startSimFleet({ prefill: 2, decode: 2, plain: 1, host: '127.0.0.1', basePort: 0 });
  });
  afterAll(async () => {
    await fleet?.close();
    await fake?.close();
  });

  it('makes every simulated pod reachable from what the API reports (podIP + port annotation)', async () => {
    registerSimPods(fake, fleet.pods);
    const kc = new KubeConfig();
    kc.loadFromFile(fake.kubeconfigPath);
    const core = kc.makeApiClient(CoreV1Api);

    const roles = new Map<string, string[]>();
    for (const role of ['prefill', 'decode', 'plain']) {
      const list = await core.listNamespacedPod({ namespace: 'pd', labelSelector: `llm-d.ai/role=${role}` });
      roles.set(role, list.items.map((p) => p.metadata?.name ?? '').sort());
      for (const pod of list.items) {
        const url = `http://${pod.status?.podIP}:${pod.metadata?.annotations?.[PORT_ANNOTATION]}`;
        expect(url).toBe(fleet.pods.find((s) => s.name === pod.metadata?.name)?.url);
        const health = await fetch(`${url}/health`, { signal: AbortSignal.timeout(5_000) });
        expect(health.status).toBe(200);
        expect(pod.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
        expect(pod.spec?.containers[0]?.ports?.[0]?.containerPort).toBe(Number(new URL(url).port));
      }
    }
    expect(Object.fromEntries(roles)).toEqual({
      prefill: fleet.prefill.map((p) => p.name).sort(),
      decode: fleet.decode.map((p) => p.name).sort(),
      plain: fleet.plain.map((p) => p.name).sort(),
    });
  });
});
