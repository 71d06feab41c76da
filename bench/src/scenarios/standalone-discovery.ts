// The standalone proxy's own pod watch (--service-discovery, one replica, no NATS): a pod change in the
// Kubernetes API fake -> the proxy's `snapshot applied` line, under load. The same change plan as the
// distributed convergence scenario (convergence-plan.ts), so the two results compare: here there is no
// discovery debounce window and no NATS hop, only the proxy's watch, its 50 ms coalescing and the apply.
import { join } from 'node:path';
import {
  type KubeApiFake,
  readManifests,
  registerSimPods,
  serviceAccountUser,
  spawnProcess,
  startKubeApiFake,
  waitUntil,
} from '@pdrouter/testkit';
import { type SimFleet, type SimPod, startSimFleet } from '@pdrouter/vllm-sim';
import { parseSnapshotApplied } from '../harness/json-log.ts';
import { machineInfo, machineMarkdown, REPO_ROOT } from '../harness/machine.ts';
import { fmt, markdownTable, writeResults } from '../harness/results.ts';
import { SteadyLoad, type SteadyLoadResult } from '../harness/steady-load.ts';
import { mean, percentile } from '../loadgen/stats.ts';
import type { ScenarioContext } from './context.ts';
import { type ChangeKind, type PlannedChange, planChanges } from './convergence-plan.ts';

const MEMBERS_PER_ROLE = 8;
const SPARES_PER_ROLE = 2;
const DEFAULT_CHANGES = 100;
const QUICK_CHANGES = 24;
const DEFAULT_LOAD_CONCURRENCY = 8;
const DEFAULT_DWELL_MS = 300;
const LOAD_MAX_TOKENS = 16;
const MODEL = 'meta-llama/Llama-3.1-8B-Instruct';
/** A terminating pod keeps serving this long after it left the ring, then its server stops. */
const TERMINATE_GRACE_MS = 1_500;
const CONVERGENCE_TIMEOUT_MS = 20_000;

interface Sample {
  index: number;
  kind: ChangeKind;
  pod: string;
  convergence_ms: number;
  seq: number;
}

const round = (v: number) => Math.round(v * 10) / 10;
function distribution(values: readonly number[]) {
  return {
    n: values.length,
    min: round(Math.min(...values)),
    mean: round(mean(values)),
    p50: round(percentile(values, 50)),
    p90: round(percentile(values, 90)),
    p99: round(percentile(values, 99)),
    max: round(Math.max(...values)),
  };
}

function applyChange(api: KubeApiFake, change: PlannedChange, pod: SimPod): void {
  switch (change.kind) {
    case 'unready':
      api.setPodReady(pod.name, false);
      return;
    case 'ready':
      api.setPodReady(pod.name, true);
      return;
    case 'delete':
    case 'scale-down':
      api.deletePod(pod.name);
      return;
    case 'terminate':
      api.markTerminating(pod.name);
      return;
    case 'recreate':
    case 'scale-up':
      registerSimPods(api, [{ name: pod.name, role: pod.role, port: pod.port as number }]);
      return;
  }
}

export async function runStandaloneDiscoveryScenario(ctx: ScenarioContext): Promise<void> {
  const changes = ctx.int('changes') ?? (ctx.quick ? QUICK_CHANGES : DEFAULT_CHANGES);
  const loadConcurrency = ctx.int('load-concurrency') ?? DEFAULT_LOAD_CONCURRENCY;
  const dwellMs = ctx.int('dwell-ms') ?? DEFAULT_DWELL_MS;
  const total = MEMBERS_PER_ROLE + SPARES_PER_ROLE;
  ctx.log(`starting the Kubernetes API fake, ${total}P+${total}D sim pods and one --service-discovery proxy`);
  const fleet: SimFleet = await startSimFleet({ prefill: total, decode: total });
  // The proxy runs with the standalone overlay's Role (list/watch pods), enforced by the API fake.
  const overlay = join(REPO_ROOT, 'deploy/k8s/overlays/standalone');
  const api = await startKubeApiFake({
    kubelet: false,
    rbac: readManifests(join(overlay, 'role.yaml'), join(overlay, 'role-binding.yaml')),
  });
  const members: SimPod[] = [];
  const spares: SimPod[] = [];
  for (const role of ['prefill', 'decode'] as const) {
    members.push(...fleet[role].slice(0, MEMBERS_PER_ROLE));
    spares.push(...fleet[role].slice(MEMBERS_PER_ROLE));
  }
  registerSimPods(
    api,
    members.map((p) => ({ name: p.name, role: p.role, port: p.port as number })),
  );
  const proxy = await spawnProcess(
    process.execPath,
    [
      'apps/proxy/src/main.ts',
      '--pd-disaggregation',
      '--service-discovery',
      '--prefill-selector',
      'llm-d.ai/role=prefill',
      '--decode-selector',
      'llm-d.ai/role=decode',
      '--service-discovery-namespace',
      api.namespace,
      '--port',
      '0',
      '--prometheus-port',
      '0',
    ],
    {
      cwd: REPO_ROOT,
      name: 'proxy',
      env: { ...process.env, KUBECONFIG: api.kubeconfigFor(serviceAccountUser(api.namespace, 'pdrouter-proxy')) },
      readyLine: (l) => l.includes('"msg":"listening"'),
    },
  );
  const url = (JSON.parse(proxy.lines.find((l) => l.includes('"msg":"listening"')) as string) as { url: string }).url;
  let load: SteadyLoad | undefined;
  let loadResult: SteadyLoadResult | undefined;
  const samples: Sample[] = [];
  try {
    await waitUntil(async () => (await fetch(`${url}/readiness`)).status === 200 || undefined, {
      timeoutMs: CONVERGENCE_TIMEOUT_MS,
      description: 'proxy ready',
    });
    load = new SteadyLoad({ urls: [url], concurrency: loadConcurrency, model: MODEL, maxTokens: LOAD_MAX_TOKENS });
    await new Promise((r) => setTimeout(r, dwellMs));
    const byName = new Map(fleet.pods.map((p) => [p.name, p]));
    const planPod = (p: SimPod) => ({
      name: p.name,
      role: p.role === 'prefill' ? ('prefill' as const) : ('decode' as const),
    });
    const plan = planChanges(changes, members.map(planPod), spares.map(planPod));
    let lastSeq = -1;
    for (const change of plan) {
      const pod = byName.get(change.pod.name) as SimPod;
      if (change.kind === 'recreate' && plan[change.index - 1]?.kind === 'terminate') await pod.start();
      const want = {
        prefill: change.membersAfter.filter((n) => byName.get(n)?.role === 'prefill').length,
        decode: change.membersAfter.filter((n) => byName.get(n)?.role === 'decode').length,
      };
      const from = proxy.lines.length;
      const t0 = Date.now();
      applyChange(api, change, pod);
      const applied = await waitUntil(
        () =>
          proxy.lines
            .slice(from)
            .map(parseSnapshotApplied)
            .find((s) => s !== undefined && s.seq > lastSeq && s.prefill === want.prefill && s.decode === want.decode),
        { timeoutMs: CONVERGENCE_TIMEOUT_MS, intervalMs: 10, description: `change ${change.index} (${change.kind})` },
      );
      lastSeq = applied.seq;
      samples.push({
        index: change.index,
        kind: change.kind,
        pod: pod.name,
        convergence_ms: applied.timeMs - t0,
        seq: applied.seq,
      });
      if (change.kind === 'terminate') {
        await new Promise((r) => setTimeout(r, TERMINATE_GRACE_MS));
        await pod.stop();
        api.deletePod(pod.name);
      }
      await new Promise((r) => setTimeout(r, dwellMs));
    }
  } finally {
    loadResult = await load?.stop();
    await proxy.stop();
    await api.close();
    await fleet.close();
  }
  const r = loadResult as SteadyLoadResult;
  const all = distribution(samples.map((s) => s.convergence_ms));
  const kinds = [...new Set(samples.map((s) => s.kind))];
  const perKind = Object.fromEntries(
    kinds.map((k) => [k, distribution(samples.filter((s) => s.kind === k).map((s) => s.convergence_ms))]),
  );
  const machine = machineInfo();
  const method =
    'change time = Date.now() right before the API fake write (same process as the fake); swap time = the `time` ' +
    'field of the proxy’s `snapshot applied` line with the expected member counts (millisecond wall clock, same machine).';
  const json = {
    machine,
    command: ctx.command,
    setup: {
      topology: `1 proxy (--service-discovery, its own watch), API fake, ${MEMBERS_PER_ROLE}P+${MEMBERS_PER_ROLE}D members, ${SPARES_PER_ROLE} spares per role`,
      changes: samples.length,
      dwell_ms: dwellMs,
      load: { concurrency: loadConcurrency, max_tokens: LOAD_MAX_TOKENS, stream: true },
      method,
    },
    convergence_ms: all,
    per_kind_ms: perKind,
    load: { requests_ok: r.ok, failed_requests: r.failed, failures: r.failures, duration_s: round(r.durationS) },
    samples,
  };
  const row = (label: string, d: ReturnType<typeof distribution>) => [
    label,
    d.n,
    fmt(d.p50, 1),
    fmt(d.p90, 1),
    fmt(d.p99, 1),
    fmt(d.max, 1),
  ];
  const md = [
    '# standalone-discovery — pod change -> the --service-discovery proxy on the new ring',
    '',
    machineMarkdown(machine, ctx.command),
    '',
    `Setup: ${json.setup.topology}. ${samples.length} changes (the convergence scenario's plan), one at a time, ` +
      `each followed by ${dwellMs} ms of serving. Load during all changes: ${loadConcurrency} streamed completions in flight.`,
    '',
    markdownTable(
      ['Change', 'N', 'p50 (ms)', 'p90 (ms)', 'p99 (ms)', 'max (ms)'],
      [row('**all**', all), ...kinds.map((k) => row(k, perKind[k] as ReturnType<typeof distribution>))],
    ),
    '',
    `Requests during the changes: **${r.ok} ok, ${r.failed} failed** over ${json.load.duration_s} s.`,
    ...(r.failures.length > 0 ? ['', 'Failures (first ones):', '', ...r.failures.map((f) => `- ${f}`)] : []),
    '',
    `Measurement: ${method}`,
    '',
    '`terminate` sets deletionTimestamp while the pod still serves; its server stops ' +
      `${TERMINATE_GRACE_MS} ms later and the object is deleted.`,
  ].join('\n');
  await writeResults(ctx.name, json, md);
  ctx.log(
    `pod change -> proxy on the new ring: p50=${all.p50} p99=${all.p99} max=${all.max} ms; load ${r.ok} ok, ${r.failed} failed`,
  );
  if (r.failed > 0) throw new Error(`${r.failed} requests failed during the changes (results written)`);
}
