import {
  type LocalCluster,
  type ProxyReplica,
  type SimPod,
  startLocalCluster,
} from '@pdrouter/discovery/local-cluster';
import { sleep, waitUntil } from '@pdrouter/testkit';
import { parseMembershipChanged, parseSnapshotApplied, type SnapshotApplied } from '../harness/json-log.ts';
import { machineInfo, machineMarkdown } from '../harness/machine.ts';
import { markdownTable, writeResults } from '../harness/results.ts';
import { SteadyLoad, type SteadyLoadResult } from '../harness/steady-load.ts';
import type { ScenarioContext } from './context.ts';
import { type ChangeKind, DEFAULT_DEBOUNCE_MS, planChanges } from './convergence-plan.ts';
import {
  CONVERGENCE_TIMEOUT_MS,
  changeRunSettings,
  convergenceByKind,
  convergenceTable,
  distribution,
  distributionRow,
  LOAD_MAX_TOKENS,
  MEMBERS_PER_ROLE,
  MODEL,
  runChangePlan,
  SPARES_PER_ROLE,
  splitMembers,
  TERMINATE_GRACE_MS,
} from './pod-changes.ts';

/** Discovery's production defaults (apps/discovery/src/flags.ts); the debounce one is in convergence-plan.ts. */
const DEFAULT_HEARTBEAT_SECS = 10;
const DEFAULT_LEASE_DURATION_SECS = 15;
/** Deadline for the proxies to reach the initial rings after start. */
const INITIAL_RINGS_TIMEOUT_MS = 30_000;
const POLL_INTERVAL_MS = 20;
/** Deadline of one call to the simulator's control server. */
const SIM_CONTROL_TIMEOUT_MS = 5_000;

interface Sample {
  index: number;
  kind: ChangeKind;
  pod: string;
  /** Change in the API fake -> the later of the two proxies' swap (log line `time`). */
  convergence_ms: number;
  per_proxy_ms: number[];
  /** Change -> the discovery leader's debounced recompute saw it (includes the debounce window). */
  leader_recompute_ms: number | null;
  seq: number;
  fingerprint: string;
}

/** Polls `check` until true; a timeout fails the run with what it was waiting for and the last error. */
async function pollUntil(check: () => Promise<boolean>, timeoutMs: number, description: string): Promise<void> {
  await waitUntil(check, { timeoutMs, intervalMs: POLL_INTERVAL_MS, description });
}

/** Whether a proxy routes on exactly these pods (its /admin/state rings, compared by URL). */
export async function onRings(proxy: ProxyReplica, expected: readonly SimPod[]): Promise<boolean> {
  const state = await proxy.adminState();
  if (!state.rings) return false;
  for (const role of ['prefill', 'decode'] as const) {
    const want = expected
      .filter((p) => p.role === role)
      .map((p) => p.url)
      .sort();
    const have = [...state.rings[role].members].sort();
    if (want.length !== have.length || want.some((u, i) => u !== have[i])) return false;
  }
  return true;
}

async function simControl(cluster: LocalCluster, pod: string, action: 'stop' | 'start'): Promise<void> {
  const res = await fetch(`${cluster.simControl}/pods/${pod}/${action}`, {
    method: 'POST',
    signal: AbortSignal.timeout(SIM_CONTROL_TIMEOUT_MS),
  });
  if (res.status !== 200) throw new Error(`sim control ${action} ${pod}: HTTP ${res.status} ${await res.text()}`);
}

export async function runConvergenceScenario(ctx: ScenarioContext): Promise<void> {
  const { changes, loadConcurrency, dwellMs } = changeRunSettings(ctx);
  const debounceMs = ctx.int('debounce-ms') ?? DEFAULT_DEBOUNCE_MS;

  ctx.log(
    `starting nats-server, the Kubernetes API fake, ${MEMBERS_PER_ROLE}P+${MEMBERS_PER_ROLE}D sim pods ` +
      `(+${SPARES_PER_ROLE} spares per role), 2 discovery (debounce ${debounceMs} ms, heartbeat ` +
      `${DEFAULT_HEARTBEAT_SECS} s, lease ${DEFAULT_LEASE_DURATION_SECS} s) and 2 proxies`,
  );
  const cluster = await startLocalCluster({
    prefill: MEMBERS_PER_ROLE,
    decode: MEMBERS_PER_ROLE,
    sparePerRole: SPARES_PER_ROLE,
    discoveries: 2,
    proxies: 2,
    debounceMs,
    heartbeatSecs: DEFAULT_HEARTBEAT_SECS,
    leaseDurationSecs: DEFAULT_LEASE_DURATION_SECS,
  });
  const stopOnSignal = () => {
    cluster.close().finally(() => process.exit(130));
  };
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);
  let load: SteadyLoad | undefined;
  let loadResult: SteadyLoadResult | undefined;
  let samples: Sample[] = [];
  try {
    const byName = new Map(cluster.simPods.map((p) => [p.name, p]));
    const { members, spares } = splitMembers(cluster.simPods);
    const proxies = cluster.proxies;
    await pollUntil(
      async () => (await Promise.all(proxies.map((p) => onRings(p, members)))).every(Boolean),
      INITIAL_RINGS_TIMEOUT_MS,
      'both proxies on the initial rings',
    );
    const leaderIndex = await findLeader(cluster);
    ctx.log(`initial rings reached; leader ${cluster.discoveries[leaderIndex]?.identity}; starting the load`);

    const running = new SteadyLoad({
      urls: proxies.map((p) => p.url),
      concurrency: loadConcurrency,
      model: MODEL,
      maxTokens: LOAD_MAX_TOKENS,
    });
    load = running;
    await sleep(dwellMs);

    const plan = planChanges(changes, members, spares);
    samples = await runChangePlan<SimPod, Sample>({
      api: cluster.api,
      plan,
      pods: byName,
      dwellMs,
      register: (pod) => cluster.addPod(pod),
      setServing: (pod, serving) => simControl(cluster, pod.name, serving ? 'start' : 'stop'),
      watch(change, pod, counts) {
        const expected = change.membersAfter.map((n) => byName.get(n) as SimPod);
        const proxyFrom = proxies.map((p) => p.proc.lines.length);
        const leader = cluster.discoveries[leaderIndex];
        const leaderFrom = leader?.proc.lines.length ?? 0;
        return async (t0) => {
          // Each proxy logs `snapshot applied` (info) right after it swapped to a snapshot with a new membership;
          // the first such line after the change with the expected member counts is this change (one member per
          // change).
          const swaps = await Promise.all(
            proxies.map(async (p, i) => {
              const line = await p.proc.waitFor(
                (l) => {
                  const s = parseSnapshotApplied(l);
                  return s !== undefined && s.prefill === counts.prefill && s.decode === counts.decode;
                },
                { stream: 'stdout', from: proxyFrom[i] ?? 0, timeoutMs: CONVERGENCE_TIMEOUT_MS },
              );
              return parseSnapshotApplied(line) as SnapshotApplied;
            }),
          );
          // Confirm against the proxies' own state: the rings hold exactly the expected pods, on one fingerprint.
          for (const [i, p] of proxies.entries()) {
            if (!(await onRings(p, expected)))
              throw new Error(
                `change ${change.index} (${change.kind} ${pod.name}): ${p.name} is not on the expected rings`,
              );
            const fp = (await p.adminState()).snapshot?.fingerprint;
            if (fp !== swaps[i]?.fingerprint)
              throw new Error(`change ${change.index}: ${p.name} reports ${fp}, logged ${swaps[i]?.fingerprint}`);
          }
          if (new Set(swaps.map((s) => s.fingerprint)).size !== 1)
            throw new Error(`change ${change.index}: the proxies swapped to different fingerprints`);
          const recompute = leader?.proc.lines
            .slice(leaderFrom)
            .map(parseMembershipChanged)
            .find((m) => m !== undefined);
          const perProxy = swaps.map((s) => s.timeMs - t0);
          const sample: Sample = {
            index: change.index,
            kind: change.kind,
            pod: pod.name,
            convergence_ms: Math.max(...perProxy),
            per_proxy_ms: perProxy,
            leader_recompute_ms: recompute ? recompute.timeMs - t0 : null,
            seq: swaps[0]?.seq ?? 0,
            fingerprint: swaps[0]?.fingerprint ?? '',
          };
          if (change.index % 10 === 0 || change.index === plan.length - 1)
            ctx.log(
              `change ${change.index + 1}/${plan.length} ${change.kind} ${pod.name}: ${sample.convergence_ms} ms ` +
                `(load: ${running.ok} ok, ${running.failed} failed)`,
            );
          return sample;
        };
      },
    });
    loadResult = await running.stop();
    load = undefined;
  } finally {
    if (load) await load.stop().catch(() => undefined);
    process.off('SIGINT', stopOnSignal);
    process.off('SIGTERM', stopOnSignal);
    await cluster.close();
  }

  // A non-default debounce is a comparison run: it gets its own results files.
  const name = debounceMs === DEFAULT_DEBOUNCE_MS ? ctx.name : `${ctx.name}-debounce-${debounceMs}`;
  await report(ctx, { name, debounceMs, loadConcurrency, dwellMs, samples, load: loadResult as SteadyLoadResult });
}

async function findLeader(cluster: LocalCluster): Promise<number> {
  let index = -1;
  await pollUntil(
    async () => {
      const states = await Promise.all(cluster.discoveries.map((d) => d.state()));
      index = states.findIndex((s) => s.leader);
      return index >= 0 && states.filter((s) => s.leader).length === 1;
    },
    INITIAL_RINGS_TIMEOUT_MS,
    'exactly one discovery leader',
  );
  return index;
}

async function report(
  ctx: ScenarioContext,
  r: {
    name: string;
    debounceMs: number;
    loadConcurrency: number;
    dwellMs: number;
    samples: Sample[];
    load: SteadyLoadResult;
  },
): Promise<void> {
  const machine = machineInfo();
  const byKind = convergenceByKind(r.samples);
  const { all, perKind } = byKind;
  const recomputes = r.samples.flatMap((s) => (s.leader_recompute_ms === null ? [] : [s.leader_recompute_ms]));
  const fanout = r.samples.flatMap((s) =>
    s.leader_recompute_ms === null ? [] : [s.convergence_ms - s.leader_recompute_ms],
  );
  const spread = r.samples.map((s) => Math.max(...s.per_proxy_ms) - Math.min(...s.per_proxy_ms));
  const method =
    'Start: Date.now() in the bench process right before the change is made in the Kubernetes API fake (which runs ' +
    "in that process). End: the `time` field of each proxy's `snapshot applied` log line, written right after it " +
    'swapped its rings to the new membership; the later of the two proxies counts. Both are the same machine clock ' +
    'with 1 ms resolution, so each sample is exact to about +-1 ms; the poll interval of the log reader does not ' +
    "enter. Each change is confirmed by both proxies' /admin/state (exact expected ring members, one fingerprint).";
  const json = {
    scenario: 'convergence',
    machine,
    command: ctx.command,
    measured: true,
    setup: {
      topology: `nats-server, Kubernetes API fake, ${MEMBERS_PER_ROLE}P+${MEMBERS_PER_ROLE}D sim pods (+${SPARES_PER_ROLE} spares per role) in one vllm-sim process, 2 discovery, 2 proxies (apps/discovery/scripts/local-cluster.ts)`,
      debounce_ms: r.debounceMs,
      debounce_semantics:
        'fixed window opened by the first pod event (not extended by later ones); the snapshot is computed when it closes',
      heartbeat_secs: DEFAULT_HEARTBEAT_SECS,
      lease_duration_secs: DEFAULT_LEASE_DURATION_SECS,
      changes: r.samples.length,
      dwell_ms: r.dwellMs,
      terminate_grace_ms: TERMINATE_GRACE_MS,
      load: {
        concurrency: r.loadConcurrency,
        max_tokens: LOAD_MAX_TOKENS,
        stream: true,
        through: 'both proxies, round robin',
      },
      resolution_ms: 1,
      percentiles: 'numpy linear interpolation',
      method,
    },
    convergence_ms: all,
    per_kind_ms: perKind,
    breakdown_ms: {
      change_to_leader_recompute: recomputes.length > 0 ? distribution(recomputes) : null,
      leader_recompute_to_both_proxies: fanout.length > 0 ? distribution(fanout) : null,
      spread_between_proxies: distribution(spread),
    },
    load: {
      requests_ok: r.load.ok,
      failed_requests: r.load.failed,
      failures: r.load.failures,
      duration_s: Math.round(r.load.durationS * 10) / 10,
      requests_per_s: Math.round((r.load.ok / r.load.durationS) * 10) / 10,
      per_proxy: r.load.perUrl,
    },
    samples: r.samples,
  };

  const md = [
    '# convergence — pod change -> both proxies on the new ring',
    '',
    machineMarkdown(machine, ctx.command),
    '',
    `Setup: ${json.setup.topology}. Discovery debounce **${r.debounceMs} ms** (fixed window from the first event), ` +
      `heartbeat ${DEFAULT_HEARTBEAT_SECS} s, lease ${DEFAULT_LEASE_DURATION_SECS} s. ${r.samples.length} changes, ` +
      `one at a time, each converged and then serving for ${r.dwellMs} ms before the next. ` +
      `Load during all changes: ${r.loadConcurrency} streamed completions in flight through both proxies.`,
    '',
    convergenceTable(byKind),
    '',
    'Where the time goes:',
    '',
    markdownTable(
      ['Stage', 'N', 'p50 (ms)', 'p90 (ms)', 'p99 (ms)', 'max (ms)'],
      [
        ...(json.breakdown_ms.change_to_leader_recompute
          ? [
              distributionRow(
                'change -> leader recomputes (watch event + debounce window)',
                json.breakdown_ms.change_to_leader_recompute,
              ),
            ]
          : []),
        ...(json.breakdown_ms.leader_recompute_to_both_proxies
          ? [
              distributionRow(
                'leader recomputes -> both proxies swapped (publish, NATS KV watch, apply)',
                json.breakdown_ms.leader_recompute_to_both_proxies,
              ),
            ]
          : []),
        distributionRow('first proxy -> second proxy', json.breakdown_ms.spread_between_proxies),
      ],
    ),
    '',
    `Requests during the changes: **${r.load.ok} ok, ${r.load.failed} failed** over ${json.load.duration_s} s ` +
      `(${json.load.requests_per_s} req/s).`,
    ...(r.load.failures.length > 0 ? ['', 'Failures (first ones):', '', ...r.load.failures.map((f) => `- ${f}`)] : []),
    '',
    `Measurement: ${method}`,
    '',
    'Change kinds: `unready`/`ready` flip the Ready condition; `delete`/`recreate` delete the pod object outright ' +
      'and create it again (its server keeps running); `terminate` sets deletionTimestamp (the pod leaves while still ' +
      `serving), then after ${TERMINATE_GRACE_MS} ms its server stops and the object is deleted, and the following ` +
      '`recreate` starts the server before creating the pod again; `scale-up`/`scale-down` create and delete a spare pod.',
  ].join('\n');
  await writeResults(r.name, json, md);
  ctx.log(
    `pod change -> both proxies on the new ring: n=${all.n} p50=${all.p50} p90=${all.p90} p99=${all.p99} max=${all.max} ms ` +
      `(debounce ${r.debounceMs} ms); load ${r.load.ok} ok, ${r.load.failed} failed`,
  );
  if (r.load.failed > 0)
    throw new Error(
      `${r.load.failed} requests failed during the changes (results written; first: ${r.load.failures[0]})`,
    );
}
