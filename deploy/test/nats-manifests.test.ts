// The NATS server's own NetworkPolicy: its client port for discovery and the proxies only, its monitor
// port (which lists every connection and subscription) only for pods that opt in.
import { describe, expect, it } from 'vitest';
import { find, KUSTOMIZATIONS, rendered } from './support/k8s.ts';

interface PolicyPeer {
  podSelector?: { matchLabels?: Record<string, string> };
  namespaceSelector?: unknown;
  ipBlock?: unknown;
}
interface IngressRule {
  from?: PolicyPeer[];
  ports?: Array<{ port: number }>;
}

describe.each(KUSTOMIZATIONS)('%s: NATS network policy', (name) => {
  it('admits no pod to the monitor port unless it carries the opt-in label; the client port only to discovery and proxies', async () => {
    const policy = find(await rendered(name), 'NetworkPolicy', 'pdrouter-nats').spec as { ingress: IngressRule[] };
    const peersFor = (port: number) =>
      policy.ingress.filter((r) => r.ports?.some((p) => p.port === port)).map((r) => r.from);
    for (const port of [4222, 8222]) {
      const peers = peersFor(port);
      expect(peers.length, `a rule for port ${port}`).toBeGreaterThan(0);
      // A rule without `from` admits every pod in the cluster.
      for (const from of peers) expect(from?.length ?? 0, `port ${port} open to everyone`).toBeGreaterThan(0);
      for (const peer of peers.flat()) {
        expect(peer?.namespaceSelector).toBeUndefined();
        expect(peer?.ipBlock).toBeUndefined();
      }
    }
    const labels = (port: number) =>
      peersFor(port).flatMap((from) => (from ?? []).map((p) => p.podSelector?.matchLabels));
    expect(labels(8222)).toEqual([{ 'pdrouter.io/nats-monitor': 'true' }]);
    expect(
      labels(4222)
        .map((l) => l?.['app.kubernetes.io/component'])
        .sort(),
    ).toEqual(['discovery', 'proxy']);
  });
});
