import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { terminateChild, trackChild } from './child-registry.ts';
import { requireBinary } from './find-binary.ts';
import { canConnect } from './tcp-probe.ts';
import { StopWaiting, waitUntil } from './wait.ts';

export interface NatsServerOptions {
  /** Enable JetStream with a private store directory (default true: the snapshots live in a KV bucket). */
  jetstream?: boolean;
  /** Fixed port; default a random free one chosen by nats-server itself (`-p -1`). */
  port?: number;
  /** Deadline for the server to accept connections (default NATS_START_TIMEOUT_MS). */
  startTimeoutMs?: number;
  /** Extra command-line arguments, appended last. */
  extraArgs?: readonly string[];
}

export interface NatsServer {
  /** nats://127.0.0.1:PORT, stable across restart(). */
  readonly url: string;
  readonly port: number;
  /** JetStream store directory (kept across stop/kill/restart, removed by close()). */
  readonly storeDir: string;
  /** The server's pid while running. */
  readonly pid: number | undefined;
  readonly running: boolean;
  /** The server's recent log lines (for failure messages). */
  logs(): string[];
  /** Graceful shutdown (SIGTERM); the store is kept so start()/restart() recover it. */
  stop(): Promise<void>;
  /** Abrupt death (SIGKILL), as in a crash; the store is kept. */
  kill(): Promise<void>;
  /** Starts again on the same port with the same store (after stop() or kill()). */
  start(): Promise<void>;
  /** stop() then start(): same port, same store. */
  restart(): Promise<void>;
  /** Stops the server and removes its temporary directories. Idempotent. */
  close(): Promise<void>;
}

/** Generous: a loaded 2-core machine can take seconds to start a Go binary and recover a store. */
export const NATS_START_TIMEOUT_MS = 15_000;
/** Grace for a SIGTERM'd nats-server to flush JetStream and exit before SIGKILL. */
export const NATS_STOP_GRACE_MS = 5_000;
const HOST = '127.0.0.1';
const LOG_LINES_KEPT = 200;

/** Starts the real nats-server binary on 127.0.0.1; throws a clear error when it is not installed. */
export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServer> {
  const binary = requireBinary('nats-server', 'NATS_SERVER_BIN');
  const jetstream = options.jetstream ?? true;
  const startTimeoutMs = options.startTimeoutMs ?? NATS_START_TIMEOUT_MS;
  const workDir = mkdtempSync(join(tmpdir(), 'pdrouter-nats-'));
  const storeDir = join(workDir, 'store');
  const portsDir = join(workDir, 'ports');
  const logLines: string[] = [];
  let child: ChildProcess | undefined;
  let port = options.port ?? -1;
  let closed = false;

  const launch = async (): Promise<void> => {
    rmSync(portsDir, { recursive: true, force: true });
    mkdirSync(portsDir);
    const args = ['-a', HOST, '-p', String(port), '--ports_file_dir', portsDir];
    if (jetstream) args.push('-js', '-sd', storeDir);
    args.push(...(options.extraArgs ?? []));
    const proc = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    trackChild(proc);
    const keep = (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line) continue;
        logLines.push(line);
        if (logLines.length > LOG_LINES_KEPT) logLines.shift();
      }
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    let spawnError: Error | undefined;
    proc.once('error', (err) => {
      spawnError = err;
    });
    try {
      const boundPort = await waitUntil(
        async () => {
          if (spawnError) throw new StopWaiting(`cannot run ${binary}: ${spawnError.message}`);
          if (proc.exitCode !== null || proc.signalCode !== null) {
            throw new StopWaiting(`nats-server exited during start (code ${proc.exitCode}, signal ${proc.signalCode})`);
          }
          const p = port > 0 ? port : readPortsFile(portsDir, proc.pid);
          return p !== undefined && (await canConnect(HOST, p)) ? p : undefined;
        },
        { timeoutMs: startTimeoutMs, intervalMs: 20, description: 'nats-server to accept connections' },
      );
      port = boundPort;
    } catch (err) {
      await terminateChild(proc, 'SIGKILL', 0);
      const msg = err instanceof Error ? err.message : String(err);
      throw new Error(`${msg}\n--- nats-server log (last lines) ---\n${logLines.slice(-30).join('\n')}`);
    }
  };

  const halt = async (signal: NodeJS.Signals) => {
    const proc = child;
    if (!proc) return;
    await terminateChild(proc, signal, signal === 'SIGKILL' ? 0 : NATS_STOP_GRACE_MS);
    child = undefined;
  };

  try {
    await launch();
  } catch (err) {
    rmSync(workDir, { recursive: true, force: true });
    throw err;
  }

  const isRunning = () => child !== undefined && child.exitCode === null && child.signalCode === null;
  const server: NatsServer = {
    get url() {
      return `nats://${HOST}:${port}`;
    },
    get port() {
      return port;
    },
    storeDir,
    get pid() {
      return isRunning() ? child?.pid : undefined;
    },
    get running() {
      return isRunning();
    },
    logs: () => [...logLines],
    stop: () => halt('SIGTERM'),
    kill: () => halt('SIGKILL'),
    async start() {
      if (closed) throw new Error('nats-server was closed');
      if (isRunning()) return;
      await launch();
    },
    async restart() {
      await halt('SIGTERM');
      await server.start();
    },
    async close() {
      if (closed) return;
      closed = true;
      await halt('SIGTERM');
      rmSync(workDir, { recursive: true, force: true });
    },
  };
  return server;
}

/** nats-server writes `nats-server_<pid>.ports` = {"nats":["nats://127.0.0.1:PORT"]} once it listens. */
function readPortsFile(dir: string, pid: number | undefined): number | undefined {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return undefined;
  }
  const name = names.find((n) => n.endsWith(`_${pid}.ports`)) ?? names.find((n) => n.endsWith('.ports'));
  if (!name) return undefined;
  try {
    const parsed = JSON.parse(readFileSync(join(dir, name), 'utf8')) as { nats?: string[] };
    const url = parsed.nats?.[0];
    const port = url ? Number(new URL(url).port) : Number.NaN;
    return Number.isInteger(port) && port > 0 ? port : undefined;
  } catch {
    return undefined; // partially written; the next poll reads it again
  }
}
