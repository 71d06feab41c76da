// The end-to-end fixture: simulated pods in child processes (the sim CLI) and proxies, in this process or
// as processes of their own (main.ts), started through one object that stops all of them when the suite
// (or describe block) it was made in ends. Everything stops in the reverse order it started, each stop
// under a deadline, and one stop failing does not keep the others from running.
import { type SpawnedProcess, withDeadline } from '@pdrouter/testkit';
import { afterAll } from 'vitest';
import {
  type ProxyProcess,
  pdArgs,
  proxyListening,
  type RunningProxy,
  type SimProcess,
  spawnProxyProcess,
  startProxy,
  startSimProcess,
} from './helpers.ts';

/** How long one stop (a proxy's drain, a process's exit, a server's close) may take before the teardown fails. */
export const STOP_DEADLINE_MS = 15_000;

export interface SimOptions {
  /** Pods of each role (a role left out has none). */
  prefill?: number;
  decode?: number;
  plain?: number;
  /** Further sim flags, after the pod counts. */
  flags?: string[];
}

export interface ProxyProcessOptions {
  env?: NodeJS.ProcessEnv;
}

export interface E2EFixture {
  /** A sim process with these pods, on 127.0.0.1 ports 0. */
  sim(options: SimOptions): Promise<SimProcess>;
  /** A proxy in this process with these flags, listening on 127.0.0.1 ports 0. */
  proxy(flags: string[]): Promise<RunningProxy>;
  /** A P/D proxy in this process in front of every prefill and decode pod of `sim`, then these flags. */
  pdProxy(sim: SimProcess, flags?: string[]): Promise<RunningProxy>;
  /**
   * The proxy as a process (main.ts) with exactly this command line (LOCAL_LISTEN_FLAGS are not added:
   * these tests are about command lines); resolves once it logs "listening".
   */
  proxyProcess(args: string[], options?: ProxyProcessOptions): Promise<ProxyProcess>;
  /** The same process as soon as it is spawned, for a command line that is to fail. */
  spawnProxy(args: string[], options?: ProxyProcessOptions): Promise<SpawnedProcess>;
  /** Something else the suite started (a NATS server, the Kubernetes API fake), stopped in turn with the rest. */
  adopt<T>(what: string, value: T, stop: (value: T) => Promise<unknown>): T;
  /** Stops the proxies started so far (in-process and processes), for an afterEach; the rest keeps running. */
  stopProxies(): Promise<void>;
  /** Stops everything; the afterAll the fixture registered calls it. */
  close(): Promise<void>;
}

interface Started {
  what: string;
  proxy: boolean;
  stop(): Promise<unknown>;
}

export interface E2EFixtureOptions {
  /** How long each stop may take (default STOP_DEADLINE_MS). */
  stopDeadlineMs?: number;
}

/** Makes a fixture and registers its close() as an afterAll of the current suite or describe block. */
export function e2eFixture(options: E2EFixtureOptions = {}): E2EFixture {
  const deadlineMs = options.stopDeadlineMs ?? STOP_DEADLINE_MS;
  const started: Started[] = [];
  /** Tracks a stop; the returned function runs it at once instead (a test ending what it started early). */
  const track = (what: string, proxy: boolean, stop: () => Promise<unknown>) => {
    const entry: Started = { what, proxy, stop };
    started.push(entry);
    return async (): Promise<void> => {
      const i = started.indexOf(entry);
      if (i >= 0) started.splice(i, 1);
      await stop();
    };
  };

  /** Runs the stops (last started first) under their deadlines; throws once all ran if any failed. */
  async function stopAll(pick: (s: Started) => boolean): Promise<void> {
    const errors: unknown[] = [];
    for (let i = started.length - 1; i >= 0; i--) {
      const s = started[i] as Started;
      if (!pick(s)) continue;
      started.splice(i, 1);
      try {
        await withDeadline(s.stop(), deadlineMs, `stopping ${s.what}`);
      } catch (err) {
        errors.push(err);
      }
    }
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, `${errors.length} stops failed`);
  }

  const fixture: E2EFixture = {
    async sim(options) {
      const counts = (['prefill', 'decode', 'plain'] as const).flatMap((role) =>
        options[role] === undefined ? [] : [`--${role}`, String(options[role])],
      );
      const sim = await startSimProcess([...counts, ...(options.flags ?? [])]);
      return { ...sim, close: track('the sim process', false, () => sim.close()) };
    },
    async proxy(flags) {
      const proxy = await startProxy(flags);
      return { ...proxy, close: track(`the proxy at ${proxy.url}`, true, () => proxy.close()) };
    },
    pdProxy(sim, flags = []) {
      return fixture.proxy([...pdArgs(sim), ...flags]);
    },
    async spawnProxy(args, options = {}) {
      const child = await spawnProxyProcess(args, options.env);
      track('the proxy process', true, () => child.stop());
      return child;
    },
    async proxyProcess(args, options = {}) {
      return proxyListening(await fixture.spawnProxy(args, options));
    },
    adopt(what, value, stop) {
      track(what, false, () => stop(value));
      return value;
    },
    stopProxies: () => stopAll((s) => s.proxy),
    close: () => stopAll(() => true),
  };
  // Each stop has its own deadline: the hook's is their sum for a suite that starts a few of everything.
  afterAll(() => fixture.close(), 4 * deadlineMs);
  return fixture;
}
