// The standalone proxy's own pod watch (--service-discovery, one replica, no NATS): a pod change in the
// Kubernetes API fake -> the proxy's `snapshot applied` line, under load. The same change plan as the
// distributed convergence scenario (convergence-plan.ts), so the two results compare: here there is no
// discovery debounce window and no NATS hop, only the proxy's watch, its 50 ms coalescing and the apply.
import { join } from 'node:path';
import {
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
import { writeResults } from '../harness/results.ts';
import { SteadyLoad, type SteadyLoadResult } from '../harness/steady-load.ts';
import type { ScenarioContext } from './context.ts';
import { type ChangeKind, planChanges } from './convergence-plan.ts';
import {
  CONVERGENCE_TIMEOUT_MS,
  changeRunSettings,
  convergenceByKind,
  convergenceTable,
  LOAD_MAX_TOKENS,
  MEMBERS_PER_ROLE,
  MODEL,
  runChangePlan,
  SPARES_PER_ROLE,
  splitMembers,
  TERMINATE_GRACE_MS,
} from './pod-changes.ts';

interface Sample {
  index: number;
  kind: ChangeKind;
  pod: string;
  convergence_ms: number;
  seq: number;
}

const round = (v: number) => Math.round(v * 10) / 10;

export async function runStandaloneDiscoveryScenario(ctx: ScenarioContext): Promise<void> {
  const { changes, loadConcurrency, dwellMs } = changeRunSettings(ctx);
  const total = MEMBERS_PER_ROLE + SPARES_PER_ROLE;
  ctx.log(`starting the Kubernetes API fake, ${total}P+${total}D sim pods and one --service-discovery proxy`);
  const fleet: SimFleet = await startSimFleet({ prefill: total, decode: total });
  // The proxy runs with the standalone overlay's Role (list/watch pods), enforced by the API fake.
  const overlay = join(REPO_ROOT, 'deploy/k8s/overlays/standalone');
  const api = await startKubeApiFake({
    kubelet: false,
    rbac: readManifests(join(overlay, 'role.yaml'), join(overlay, 'role-binding.yaml')),
  });
  const register = (pods: readonly SimPod[]) =>
    registerSimPods(
      api,
      pods.map((p) => ({ name: p.name, role: p.role, port: p.port as number })),
    );
  const { members, spares } = splitMembers(fleet.pods);
  register(members);
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
  let samples: Sample[] = [];
  try {
    await waitUntil(async () => (await fetch(`${url}/readiness`)).status === 200 || undefined, {
      timeoutMs: CONVERGENCE_TIMEOUT_MS,
      description: 'proxy ready',
    });
    load = new SteadyLoad({ urls: [url], concurrency: loadConcurrency, model: MODEL, maxTokens: LOAD_MAX_TOKENS });
    await new Promise((r) => setTimeout(r, dwellMs));
    const planPod = (p: SimPod) => ({
      name: p.name,
      role: p.role === 'prefill' ? ('prefill' as const) : ('decode' as const),
    });
    let lastSeq = -1;
    samples = await runChangePlan<SimPod, Sample>({
      api,
      plan: planChanges(changes, members.map(planPod), spares.map(planPod)),
      pods: new Map(fleet.pods.map((p) => [p.name, p])),
      dwellMs,
      register: (pod) => register([pod]),
      setServing: (pod, serving) => (serving ? pod.start() : pod.stop()),
      watch(change, pod, want) {
        const from = proxy.lines.length;
        return async (t0) => {
          const applied = await waitUntil(
            () =>
              proxy.lines
                .slice(from)
                .map(parseSnapshotApplied)
                .find(
                  (s) => s !== undefined && s.seq > lastSeq && s.prefill === want.prefill && s.decode === want.decode,
                ),
            {
              timeoutMs: CONVERGENCE_TIMEOUT_MS,
              intervalMs: 10,
              description: `change ${change.index} (${change.kind})`,
            },
          );
          lastSeq = applied.seq;
          return {
            index: change.index,
            kind: change.kind,
            pod: pod.name,
            convergence_ms: applied.timeMs - t0,
            seq: applied.seq,
          };
        };
      },
    });
  } finally {
    loadResult = await load?.stop();
    await proxy.stop();
    await api.close();
    await fleet.close();
  }
  const r = loadResult as SteadyLoadResult;
  const byKind = convergenceByKind(samples);
  const { all, perKind } = byKind;
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
  const md = [
    '# standalone-discovery — pod change -> the --service-discovery proxy on the new ring',
    '',
    machineMarkdown(machine, ctx.command),
    '',
    `Setup: ${json.setup.topology}. ${samples.length} changes (the convergence scenario's plan), one at a time, ` +
      `each followed by ${dwellMs} ms of serving. Load during all changes: ${loadConcurrency} streamed completions in flight.`,
    '',
    convergenceTable(byKind),
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
