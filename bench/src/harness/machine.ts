import { execFileSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';

/** Where and on what a result was measured: printed at the top of every results file. */
export interface MachineInfo {
  readonly cpuModel: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly node: string;
  readonly commit: string;
  readonly date: string;
}

export const REPO_ROOT = new URL('../../../', import.meta.url).pathname.replace(/\/$/, '');

export function machineInfo(): MachineInfo {
  const list = cpus();
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'apps', 'packages', 'bench/src'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    }).trim();
    if (dirty.length > 0) commit += '+uncommitted';
  } catch {
    // not a git checkout: keep 'unknown'
  }
  return {
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    cores: list.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    commit,
    date: new Date().toISOString(),
  };
}

export function machineMarkdown(m: MachineInfo, command: string): string {
  return [
    `- Machine: ${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, Node ${m.node}`,
    `- Commit: \`${m.commit}\``,
    `- Command: \`${command}\``,
    `- Date: ${m.date}`,
  ].join('\n');
}
