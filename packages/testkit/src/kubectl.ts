import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireBinary } from './find-binary.ts';
import { type CommandResult, RUN_COMMAND_TIMEOUT_MS, runCommand } from './run-command.ts';
import { type SpawnedProcess, type SpawnOptions, spawnProcess } from './spawn-process.ts';

/**
 * The real kubectl pointed at a kubeconfig (the API fake's), with a private discovery cache so runs
 * never read or write ~/.kube. Throws the "install it" message when kubectl is missing.
 */
export interface Kubectl {
  readonly binary: string;
  /** Client minor version (32 for 1.32): `patch --subresource` needs >= 24. */
  readonly minorVersion: number;
  readonly supportsSubresource: boolean;
  run(args: readonly string[], options?: { timeoutMs?: number; input?: string }): Promise<CommandResult>;
  /** run(), throwing with kubectl's stderr unless it exits 0; returns stdout. */
  ok(args: readonly string[], options?: { timeoutMs?: number; input?: string }): Promise<string>;
  /** A long-running kubectl (e.g. `get pods -w`). */
  spawn(args: readonly string[], options?: SpawnOptions): Promise<SpawnedProcess>;
  /** Removes the private cache directory. */
  close(): void;
}

export async function kubectlFor(kubeconfigPath: string): Promise<Kubectl> {
  const binary = requireBinary('kubectl', 'KUBECTL_BIN');
  const cacheDir = mkdtempSync(join(tmpdir(), 'pdrouter-kubectl-'));
  const base = ['--kubeconfig', kubeconfigPath, '--cache-dir', cacheDir];
  const version = await runCommand(binary, ['version', '--client', '-o', 'json'], {
    timeoutMs: RUN_COMMAND_TIMEOUT_MS,
  });
  const minorVersion = parseMinor(version.stdout);
  const kubectl: Kubectl = {
    binary,
    minorVersion,
    supportsSubresource: minorVersion >= 24,
    run: (args, o = {}) => runCommand(binary, [...base, ...args], o),
    async ok(args, o = {}) {
      const r = await kubectl.run(args, o);
      if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} exited ${r.code}: ${r.stderr.trim()}`);
      return r.stdout;
    },
    spawn: (args, o = {}) => spawnProcess(binary, [...base, ...args], { name: 'kubectl', ...o }),
    close: () => rmSync(cacheDir, { recursive: true, force: true }),
  };
  return kubectl;
}

function parseMinor(versionJson: string): number {
  try {
    const parsed = JSON.parse(versionJson) as { clientVersion?: { minor?: string } };
    const minor = Number.parseInt(parsed.clientVersion?.minor ?? '', 10);
    return Number.isFinite(minor) ? minor : 0;
  } catch {
    return 0;
  }
}
