// The embedded default (`npm start`): 8 prefill + 8 decode simulated vLLM pods in one child process
// (the simulator's CLI) and the router in another, in P/D consistent_hash mode on 127.0.0.1:10001, metrics
// on :29000. The router process holds only the router, so what a client measures against it is the router,
// not the router sharing one thread with sixteen simulated pods. This process only supervises the two.
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** Pods of each role the demo starts. */
export const DEMO_PODS_PER_ROLE = 8;
/** How long stopping may take before the children are killed. */
export const DEMO_STOP_TIMEOUT_MS = 5_000;
/** Deadline for the simulator's ready line (a cold Node start on a loaded machine). */
export const SIM_READY_TIMEOUT_MS = 30_000;
/** Deadline of the one /v1/models call the banner's example makes. */
const MODELS_TIMEOUT_MS = 5_000;
const DEFAULT_MODEL = 'meta-llama/Llama-3.1-8B-Instruct';

export const PROXY_MAIN = fileURLToPath(import.meta.resolve('@pdrouter/proxy/main'));
export const SIM_MAIN = fileURLToPath(import.meta.resolve('@pdrouter/vllm-sim/main'));

/** Router flags before the user's (which override them: the last value of a flag wins). */
export const DEMO_PROXY_DEFAULTS: readonly string[] = Object.freeze([
  '--pd-disaggregation',
  '--policy',
  'consistent_hash',
  '--host',
  '127.0.0.1',
  '--port',
  '10001',
  '--prometheus-port',
  '29000',
]);

interface SimReady {
  pods: { role: string; url: string }[];
}

interface Listening {
  url: string;
  metricsUrl: string;
}

/** The first JSON line of `child`'s stdout that `pick` accepts; rejects if the child exits first. */
export function firstLine<T>(
  child: ChildProcess,
  pick: (obj: Record<string, unknown>) => T | undefined,
  onOther: (line: string) => void = () => {},
): Promise<T> {
  return new Promise((resolve, reject) => {
    let found = false;
    const onExit = (code: number | null, signal: string | null) =>
      reject(new Error(`exited (${signal ?? code}) before it was ready`));
    child.once('exit', onExit);
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      if (!found) {
        let value: T | undefined;
        try {
          value = pick(JSON.parse(line) as Record<string, unknown>);
        } catch {
          value = undefined;
        }
        if (value !== undefined) {
          found = true;
          child.off('exit', onExit);
          resolve(value);
        }
      }
      onOther(line);
    });
  });
}

function exited(child: ChildProcess): Promise<number> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  if (child.signalCode !== null) return Promise.resolve(1);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code ?? 1)));
}

/** SIGTERM, then SIGKILL after the stop timeout; resolves with the exit code. */
async function stopChild(child: ChildProcess): Promise<number> {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), DEMO_STOP_TIMEOUT_MS);
  const code = await exited(child);
  clearTimeout(timer);
  return code;
}

/** Runs the demo with the user's router flags; resolves with the exit code for the process. */
export async function runDemo(args: readonly string[]): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(
      `npm start [-- router flags]: ${DEMO_PODS_PER_ROLE}+${DEMO_PODS_PER_ROLE} simulated pods behind the router.\n\n`,
    );
    return exited(spawn(process.execPath, [PROXY_MAIN, '--help'], { stdio: 'inherit' }));
  }
  // Own process groups: a terminal's Ctrl-C reaches only this process, which stops the children once, in order.
  const sim = spawn(
    process.execPath,
    [SIM_MAIN, '--prefill', String(DEMO_PODS_PER_ROLE), '--decode', String(DEMO_PODS_PER_ROLE)].concat([
      '--host',
      '127.0.0.1',
      '--base-port',
      '0',
      '--control-port',
      '0',
    ]),
    { stdio: ['ignore', 'pipe', 'inherit'], detached: true },
  );
  const simTimer = setTimeout(() => sim.kill('SIGKILL'), SIM_READY_TIMEOUT_MS);
  let ready: SimReady;
  try {
    ready = await firstLine(sim, (o) => (o.event === 'ready' ? (o as unknown as SimReady) : undefined));
  } catch (err) {
    process.stderr.write(`demo: the simulated pods did not start: ${(err as Error).message}\n`);
    return 1;
  } finally {
    clearTimeout(simTimer);
  }
  const podFlags = ready.pods.flatMap((p) =>
    p.role === 'prefill' || p.role === 'decode' ? [`--${p.role}`, p.url] : [],
  );
  const proxy = spawn(process.execPath, [PROXY_MAIN, ...DEMO_PROXY_DEFAULTS, ...podFlags, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
    detached: true,
  });
  const stopAll = async (): Promise<number> => {
    const code = await stopChild(proxy);
    await stopChild(sim);
    return code;
  };
  process.once('exit', () => {
    for (const child of [proxy, sim]) if (child.exitCode === null) child.kill('SIGKILL');
  });
  let stopping: Promise<number> | undefined;
  const onSignal = () => {
    stopping ??= stopAll();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const listening = firstLine(
    proxy,
    (o) => (o.msg === 'listening' && typeof o.url === 'string' ? (o as unknown as Listening) : undefined),
    (line) => process.stdout.write(`${line}\n`),
  );
  try {
    const at = await listening;
    printBanner(at, ready.pods.length, await servedModel(at.url));
  } catch {
    // The router refused its flags (exit 2) or failed to start: its own message is on stderr already.
  }
  const code = await Promise.race([exited(proxy), exited(sim).then(() => 1)]);
  return stopping ?? (code === 0 ? stopAll() : stopAll().then(() => code));
}

/** The model the pods serve, for the example request (the simulator's default when the router cannot say). */
async function servedModel(url: string): Promise<string> {
  try {
    const res = await fetch(`${url}/v1/models`, { signal: AbortSignal.timeout(MODELS_TIMEOUT_MS) });
    const body = (await res.json()) as { data?: { id?: string }[] };
    return body.data?.[0]?.id ?? DEFAULT_MODEL;
  } catch {
    return DEFAULT_MODEL;
  }
}

function printBanner(at: Listening, pods: number, model: string): void {
  const body = JSON.stringify({
    model,
    prompt: 'Explain what machine learning is in simple terms.',
    max_tokens: 64,
    stream: true,
  });
  process.stderr.write(
    [
      '',
      `pdrouter demo: ${pods} simulated pods (their own process) behind the router at ${at.url} (metrics ${at.metricsUrl})`,
      'Try:',
      `  curl -sN ${at.url}/v1/completions -H 'Content-Type: application/json' \\`,
      `    -d '${body}'`,
      `  curl -s ${at.url}/admin/state`,
      'Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );
}
