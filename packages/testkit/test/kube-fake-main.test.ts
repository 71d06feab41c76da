import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { kubectlFor } from '../src/kubectl.ts';
import { runCommand } from '../src/run-command.ts';
import { spawnProcess, stopAllProcesses } from '../src/spawn-process.ts';

const MAIN = join(import.meta.dirname, '..', 'src', 'kube-fake-main.ts');

afterEach(async () => {
  await stopAllProcesses('SIGKILL');
});

describe('kube-fake-main (the fake as a process)', () => {
  it('prints a ready line with a kubeconfig kubectl can use, and stops on SIGTERM', async () => {
    const p = await spawnProcess(process.execPath, [MAIN, '--namespace', 'demo'], {
      readyLine: (l) => l.includes('"event":"ready"'),
    });
    const ready = JSON.parse(p.lines.find((l) => l.includes('"event":"ready"')) ?? '{}') as {
      url: string;
      kubeconfig: string;
      namespace: string;
    };
    expect(ready.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(ready.namespace).toBe('demo');
    const kubectl = await kubectlFor(ready.kubeconfig);
    try {
      const r = await kubectl.run(['get', 'pods']);
      expect(r.code).toBe(0);
      expect(r.stderr).toContain('No resources found in demo namespace.');
    } finally {
      kubectl.close();
    }
    expect(await p.stop('SIGTERM', 5_000)).toBe(0);
  });

  it('gives each subject of --rbac files a kubeconfig whose token kubectl sends and the Role limits', async () => {
    const dir = join(import.meta.dirname, '..', '..', '..', 'deploy', 'k8s', 'base', 'discovery');
    const p = await spawnProcess(
      process.execPath,
      [MAIN, '--namespace', 'pd', '--rbac', join(dir, 'role.yaml'), '--rbac', join(dir, 'role-binding.yaml')],
      { readyLine: (l) => l.includes('"event":"ready"') },
    );
    const ready = JSON.parse(p.lines.find((l) => l.includes('"event":"ready"')) ?? '{}') as {
      kubeconfigs: Record<string, string>;
    };
    const path = ready.kubeconfigs['system:serviceaccount:pd:pdrouter-discovery'];
    expect(path).toBeDefined();
    const kubectl = await kubectlFor(path ?? '');
    try {
      expect((await kubectl.run(['get', 'pods'])).code).toBe(0);
      // The Role grants list and watch, not get: 403 before any 404.
      const denied = await kubectl.run(['get', 'pod', 'decode-0']);
      expect(denied.code).not.toBe(0);
      expect(denied.stderr).toContain(
        'pods "decode-0" is forbidden: User "system:serviceaccount:pd:pdrouter-discovery" cannot get resource "pods"',
      );
    } finally {
      kubectl.close();
    }
    expect(await p.stop('SIGTERM', 5_000)).toBe(0);
  });

  it('refuses a bad flag value with exit code 2', async () => {
    const r = await runCommand(process.execPath, [MAIN, '--port', 'many']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--port expects an integer');
  });
});
