// A whole distributed deployment on one machine, from real processes: nats-server, the Kubernetes API fake,
// a vllm-sim process serving every simulated pod, discovery replicas and proxy replicas. Used by the
// end-to-end tests (random ports) and by the demo (fixed ports).
import { join } from 'node:path';
import {
  type KubeApiFake,
  type NatsServer,
  podManifest,
  ROLE_LABEL,
  type SpawnedProcess,
  spawnProcess,
  startKubeApiFake,
  startNatsServer,
} from '@pdrouter/testkit';
import { discoveryKubeconfig, discoveryRbac } from './deploy-rbac.ts';

export const REPO_ROOT = join(import.meta.dirname, '../../..');
const DISCOVERY_MAIN = join(REPO_ROOT, 'apps/discovery/src/main.ts');
const PROXY_MAIN = join(REPO_ROOT, 'apps/proxy/src/main.ts');
const SIM_MAIN = join(REPO_ROOT, 'packages/vllm-sim/src/main.ts');
/** Deadline for each child process to print its ready line (cold Node start on a loaded 2-core machine). */
export const PROCESS_READY_TIMEOUT_MS = 30_000;
/** Deadline of one HTTP call to a component's admin endpoint. */
export const ADMIN_CALL_TIMEOUT_MS = 5_000;

export interface SimPod {
  name: string;
  role: 'prefill' | 'decode';
  url: string;
  port: number;
}

export interface LocalClusterOptions {
  /** Sim pods registered as Kubernetes pods at start. */
  prefill: number;
  decode: number;
  /** Extra sim pods per role, running but not registered (for scale-up). */
  sparePerRole?: number;
  discoveries?: number;
  proxies?: number;
  leaseDurationSecs?: number;
  debounceMs?: number;
  heartbeatSecs?: number;
  /** Fixed ports for a demo: sim pods from simBasePort, proxies at proxyBasePort + 2i (metrics +1), discovery at discoveryBasePort + i. */
  ports?: { simBasePort: number; proxyBasePort: number; discoveryBasePort: number; apiPort: number; natsPort: number };
  /** Extra arguments of nats-server (e.g. `-m PORT` for its monitoring endpoints). */
  natsArgs?: readonly string[];
  /** Extra flags of the vllm-sim process (e.g. timing or per-pod speed for a benchmark). */
  simArgs?: readonly string[];
  /** Extra flags of every proxy started at start-up (startProxy can add more per replica). */
  proxyArgs?: readonly string[];
  /** Extra log lines of every child go here (the demo prints nothing by default). */
  onLine?: (component: string, line: string) => void;
}

export interface DiscoveryReplica {
  readonly identity: string;
  readonly url: string;
  readonly proc: SpawnedProcess;
  state(): Promise<DiscoveryStateView>;
}

export interface DiscoveryStateView {
  identity: string;
  leader: boolean;
  epoch: number | null;
  seq: number;
  fingerprint: string | null;
  members: { prefill: string[]; decode: string[]; plain: string[] };
}

export interface ProxyReplica {
  readonly name: string;
  readonly url: string;
  readonly metricsUrl: string;
  readonly proc: SpawnedProcess;
  adminState(): Promise<ProxyStateView>;
}

export interface ProxyStateView {
  snapshot: { pool: string; epoch: number; seq: number; fingerprint: string } | null;
  rings: Record<'prefill' | 'decode' | 'plain', { fingerprint: string; members: string[] }> | null;
}

export interface LocalCluster {
  readonly nats: NatsServer;
  readonly api: KubeApiFake;
  /** The kubeconfig discovery runs with: its ServiceAccount's token, deploy/'s Role enforced. */
  readonly discoveryKubeconfig: string;
  readonly sim: SpawnedProcess;
  readonly simControl: string;
  readonly simPods: readonly SimPod[];
  readonly discoveries: DiscoveryReplica[];
  readonly proxies: ProxyReplica[];
  readonly namespace: string;
  /** Registers a sim pod as a Running pod (Ready unless ready: false). */
  addPod(pod: SimPod, options?: { ready?: boolean }): void;
  startDiscovery(index: number): Promise<DiscoveryReplica>;
  /** Starts proxy replica `index` with the cluster's proxyArgs and then `extraArgs` (a later flag wins). */
  startProxy(index: number, extraArgs?: readonly string[]): Promise<ProxyReplica>;
  close(): Promise<void>;
}

export async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(ADMIN_CALL_TIMEOUT_MS) });
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
  return (await res.json()) as T;
}

function listeningUrls(line: string): { url: string; metricsUrl?: string } | undefined {
  if (!line.includes('"listening"')) return undefined;
  try {
    const parsed = JSON.parse(line) as { msg?: string; url?: string; metricsUrl?: string };
    if (parsed.msg !== 'listening' || typeof parsed.url !== 'string') return undefined;
    return { url: parsed.url, ...(parsed.metricsUrl === undefined ? {} : { metricsUrl: parsed.metricsUrl }) };
  } catch {
    return undefined;
  }
}

export async function startLocalCluster(options: LocalClusterOptions): Promise<LocalCluster> {
  const started: { close(): Promise<unknown> }[] = [];
  const closeAll = async () => {
    for (const c of started.reverse()) await c.close().catch(() => {});
  };
  try {
    const ports = options.ports;
    const nats = await startNatsServer({
      ...(ports ? { port: ports.natsPort } : {}),
      ...(options.natsArgs ? { extraArgs: options.natsArgs } : {}),
    });
    started.push(nats);
    // deploy/'s Role is the discovery replicas' whole permission; graceful deletion is on (the fake's default).
    const api = await startKubeApiFake({ ...(ports ? { port: ports.apiPort } : {}), rbac: discoveryRbac() });
    const discoveryConfig = discoveryKubeconfig(api);
    started.push(api);
    const spare = options.sparePerRole ?? 0;
    const node = process.execPath;
    const watchLines = (component: string, proc: SpawnedProcess) => {
      if (!options.onLine) return;
      proc.proc.stdout?.on('data', (d: Buffer) => {
        for (const l of d.toString('utf8').split('\n')) if (l) options.onLine?.(component, l);
      });
    };

    const sim = await spawnProcess(
      node,
      [
        SIM_MAIN,
        '--prefill',
        String(options.prefill + spare),
        '--decode',
        String(options.decode + spare),
        '--base-port',
        String(ports?.simBasePort ?? 0),
        '--host',
        '127.0.0.1',
        ...(options.simArgs ?? []),
      ],
      {
        name: 'vllm-sim',
        readyLine: (l) => l.includes('"event":"ready"'),
        timeoutMs: PROCESS_READY_TIMEOUT_MS,
        cwd: REPO_ROOT,
      },
    );
    started.push({ close: () => sim.stop() });
    const ready = JSON.parse(sim.lines.find((l) => l.includes('"event":"ready"')) as string) as {
      pods: { name: string; role: string; url: string }[];
      control: string;
    };
    const simPods: SimPod[] = ready.pods.map((p) => ({
      name: p.name,
      role: p.role === 'prefill' ? 'prefill' : 'decode',
      url: p.url,
      port: Number(new URL(p.url).port),
    }));

    const namespace = api.namespace;
    const addPod = (pod: SimPod, o: { ready?: boolean } = {}) => {
      api.createPod(
        podManifest({ name: pod.name, role: pod.role, ip: '127.0.0.1', port: pod.port, ready: o.ready ?? true }),
      );
    };
    for (const role of ['prefill', 'decode'] as const) {
      const wanted = role === 'prefill' ? options.prefill : options.decode;
      for (const pod of simPods.filter((p) => p.role === role).slice(0, wanted)) addPod(pod);
    }

    const discoveries: DiscoveryReplica[] = [];
    const proxies: ProxyReplica[] = [];

    const startDiscovery = async (index: number): Promise<DiscoveryReplica> => {
      const identity = `discovery-${index}`;
      const proc = await spawnProcess(
        node,
        [
          DISCOVERY_MAIN,
          '--kubeconfig',
          discoveryConfig,
          '--namespace',
          namespace,
          '--prefill-selector',
          `${ROLE_LABEL}=prefill`,
          '--decode-selector',
          `${ROLE_LABEL}=decode`,
          '--nats-url',
          nats.url,
          '--identity',
          identity,
          '--lease-duration-secs',
          String(options.leaseDurationSecs ?? 15),
          '--debounce-ms',
          String(options.debounceMs ?? 250),
          '--heartbeat-secs',
          String(options.heartbeatSecs ?? 10),
          '--watch-backoff-min-ms',
          '200',
          '--watch-backoff-max-ms',
          '2000',
          '--http-host',
          '127.0.0.1',
          '--http-port',
          String(ports ? ports.discoveryBasePort + index : 0),
        ],
        {
          name: identity,
          readyLine: (l) => listeningUrls(l) !== undefined,
          timeoutMs: PROCESS_READY_TIMEOUT_MS,
          cwd: REPO_ROOT,
        },
      );
      watchLines(identity, proc);
      started.push({ close: () => proc.stop('SIGTERM', 5_000) });
      const url = listeningUrls(proc.lines.find((l) => listeningUrls(l) !== undefined) as string)?.url as string;
      const replica: DiscoveryReplica = {
        identity,
        url,
        proc,
        state: () => getJson<DiscoveryStateView>(`${url}/state`),
      };
      discoveries[index] = replica;
      return replica;
    };

    const startProxy = async (index: number, extraArgs: readonly string[] = []): Promise<ProxyReplica> => {
      const name = `proxy-${index}`;
      const port = ports ? ports.proxyBasePort + 2 * index : 0;
      const proc = await spawnProcess(
        node,
        [
          PROXY_MAIN,
          '--pd-disaggregation',
          '--nats-url',
          nats.url,
          '--pool',
          'default',
          '--host',
          '127.0.0.1',
          '--port',
          String(port),
          '--prometheus-host',
          '127.0.0.1',
          '--prometheus-port',
          String(ports ? port + 1 : 0),
          ...(options.proxyArgs ?? []),
          ...extraArgs,
        ],
        { name, readyLine: (l) => listeningUrls(l) !== undefined, timeoutMs: PROCESS_READY_TIMEOUT_MS, cwd: REPO_ROOT },
      );
      watchLines(name, proc);
      started.push({ close: () => proc.stop('SIGTERM', 5_000) });
      const urls = listeningUrls(proc.lines.find((l) => listeningUrls(l) !== undefined) as string);
      const replica: ProxyReplica = {
        name,
        url: urls?.url as string,
        metricsUrl: urls?.metricsUrl as string,
        proc,
        adminState: () => getJson<ProxyStateView>(`${urls?.url}/admin/state`),
      };
      proxies[index] = replica;
      return replica;
    };

    const nDisc = options.discoveries ?? 2;
    const nProxy = options.proxies ?? 2;
    await Promise.all(Array.from({ length: nDisc }, (_, i) => startDiscovery(i)));
    await Promise.all(Array.from({ length: nProxy }, (_, i) => startProxy(i)));

    return {
      nats,
      api,
      discoveryKubeconfig: discoveryConfig,
      sim,
      simControl: ready.control,
      simPods,
      discoveries,
      proxies,
      namespace,
      addPod,
      startDiscovery,
      startProxy,
      async close() {
        // Proxies and discovery first (they drain and release the Lease), then NATS, the API and the pods.
        await Promise.all([...proxies, ...discoveries].filter(Boolean).map((r) => r.proc.stop('SIGTERM', 5_000)));
        await closeAll();
      },
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
