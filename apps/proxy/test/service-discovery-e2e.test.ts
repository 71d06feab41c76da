// --service-discovery end to end: the proxy as a process watching the wire-level Kubernetes API fake through
// the real client-node (a kubeconfig with a bearer token), routing to a real sim process's pods. Pods
// joining, turning unready, terminating and being deleted change the rings; a pod that terminates under
// load costs no request.
import { type KubeApiFake, registerSimPods, startKubeApiFake } from '@pdrouter/testkit';
import { request } from 'undici';
import { beforeAll, describe, expect, it } from 'vitest';
import { e2eFixture } from './fixture.ts';
import { MODEL, metricValue, type SimProcess, scrape, waitFor } from './helpers.ts';

const e2e = e2eFixture();
let fake: KubeApiFake;
let sim: SimProcess;
let url: string;
let metricsUrl: string;

const simPod = (name: string) => {
  const p = sim.pods.find((x) => x.name === name);
  if (p === undefined) throw new Error(`no sim pod ${name}`);
  return { name: p.name, role: p.role, port: Number(new URL(p.url).port), url: p.url };
};

async function rings(): Promise<{ prefill: string[]; decode: string[] }> {
  const res = await request(`${url}/admin/state`);
  const body = (await res.body.json()) as { rings: Record<string, { members: string[] }> | null };
  return { prefill: body.rings?.prefill?.members ?? [], decode: body.rings?.decode?.members ?? [] };
}

const sorted = (xs: string[]) => [...xs].sort();

async function complete(session: string, stream = false): Promise<{ status: number; text: string }> {
  const res = await request(`${url}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL, prompt: `user: ${session}, hello`, max_tokens: 6, stream }),
  });
  return { status: res.statusCode, text: await res.body.text() };
}

async function requestsOf(name: string): Promise<number> {
  return (await sim.stats())[name]?.requests ?? 0;
}

beforeAll(async () => {
  fake = e2e.adopt('the Kubernetes API fake', await startKubeApiFake(), (f) => f.close());
  sim = await e2e.sim({ prefill: 1, decode: 3 });
  registerSimPods(fake, [simPod('prefill-0'), simPod('decode-0'), simPod('decode-1')]);
  // Another namespace's pods match the selectors too: the namespace flag must keep them out.
  registerSimPods(fake, [simPod('decode-2')], { namespace: 'elsewhere' });
  const proxy = await e2e.proxyProcess(
    [
      '--pd-disaggregation',
      '--service-discovery',
      '--prefill-selector',
      'llm-d.ai/role=prefill',
      'app.kubernetes.io/name=vllm',
      '--decode-selector',
      'llm-d.ai/role=decode',
      '--service-discovery-namespace',
      fake.namespace,
      '--port',
      '0',
      '--prometheus-port',
      '0',
    ],
    { env: { ...process.env, KUBECONFIG: fake.kubeconfigPath } },
  );
  url = proxy.url;
  metricsUrl = proxy.metricsUrl;
});

describe('--service-discovery', () => {
  it('routes to the Running, Ready pods the selectors match in the namespace, with the token of the kubeconfig', async () => {
    const r = await waitFor('first rings', async () => {
      const got = await rings();
      return got.decode.length > 0 ? got : undefined;
    });
    expect(r.prefill).toEqual([simPod('prefill-0').url]);
    expect(sorted(r.decode)).toEqual(sorted([simPod('decode-0').url, simPod('decode-1').url]));
    expect((await request(`${url}/readiness`)).statusCode).toBe(200);
    const { status, text } = await complete('first');
    expect(status, text).toBe(200);
    // The watch is the proxy's own, authenticated with the kubeconfig's token.
    const watched = fake.requests().filter((q) => q.path === `/api/v1/namespaces/${fake.namespace}/pods`);
    expect(watched.some((q) => q.query.includes('watch=true'))).toBe(true);
  });

  it('adds a pod that joins and routes to it', async () => {
    const before = await requestsOf('decode-2');
    registerSimPods(fake, [{ ...simPod('decode-2'), name: 'decode-2-here' }]);
    await waitFor('decode-2 on the ring', async () =>
      (await rings()).decode.includes(simPod('decode-2').url) ? true : undefined,
    );
    // Enough sessions that the ring gives the new pod some of them.
    for (let i = 0; i < 30; i++) expect((await complete(`join-${i}`)).status).toBe(200);
    expect(await requestsOf('decode-2')).toBeGreaterThan(before);
  });

  it('drops a pod that turns unready and takes it back when ready again', async () => {
    fake.setPodReady('decode-0', false);
    await waitFor('decode-0 off the ring', async () =>
      (await rings()).decode.includes(simPod('decode-0').url) ? undefined : true,
    );
    const before = await requestsOf('decode-0');
    for (let i = 0; i < 20; i++) expect((await complete(`unready-${i}`)).status).toBe(200);
    expect(await requestsOf('decode-0')).toBe(before);
    fake.setPodReady('decode-0', true);
    await waitFor('decode-0 back', async () =>
      (await rings()).decode.includes(simPod('decode-0').url) ? true : undefined,
    );
  });

  it('loses no request while a pod terminates under load, and sends it nothing once it is terminating', async () => {
    const failures: string[] = [];
    let sent = 0;
    let stop = false;
    /** Per worker: when the request it finished last had started. */
    const lastDoneStartedAt = [0, 0, 0, 0];
    const worker = async (w: number) => {
      for (let i = 0; !stop; i++) {
        const startedAt = performance.now();
        const r = await complete(`load-${w}-${i}`, true);
        lastDoneStartedAt[w] = startedAt;
        sent++;
        if (r.status !== 200 || !r.text.includes('[DONE]')) failures.push(`${r.status} ${r.text.slice(0, 200)}`);
      }
    };
    const workers = [0, 1, 2, 3].map(worker);
    await waitFor('load running', () => (sent >= 8 ? true : undefined));
    const failoversBefore = metricValue(await scrape(metricsUrl), 'pdrouter_failovers_total');
    fake.markTerminating('decode-1');
    await waitFor('decode-1 off the ring', async () =>
      (await rings()).decode.includes(simPod('decode-1').url) ? undefined : true,
    );
    // Requests routed before the swap may still have their decode leg on the way to decode-1 (after their
    // prefill): once every worker has finished a request started after the swap, none is left.
    const offRingAt = performance.now();
    await waitFor('requests routed before the removal done', () =>
      lastDoneStartedAt.every((t) => t > offRingAt) ? true : undefined,
    );
    // What it was given before is finishing; nothing new arrives while the load goes on.
    const given = await requestsOf('decode-1');
    const sentAtRemoval = sent;
    await waitFor('more load after the removal', () => (sent >= sentAtRemoval + 20 ? true : undefined), 30_000);
    expect(await requestsOf('decode-1')).toBe(given);
    // The container exits once its streams are done, then the pod object goes.
    await waitFor('decode-1 idle', async () => {
      const s = (await sim.stats())['decode-1'];
      return s !== undefined && s.completed + s.cancelled >= s.requests ? true : undefined;
    });
    await sim.post('/pods/decode-1/stop');
    fake.deletePod('decode-1');
    const sentAtDelete = sent;
    await waitFor('load after the deletion', () => (sent >= sentAtDelete + 12 ? true : undefined), 30_000);
    stop = true;
    await Promise.all(workers);
    expect(failures).toEqual([]);
    expect(metricValue(await scrape(metricsUrl), 'pdrouter_failovers_total')).toBe(failoversBefore);
    await sim.post('/pods/decode-1/start');
  });
});
