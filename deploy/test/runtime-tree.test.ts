// The image's inputs: scripts/build-runtime.sh (the Dockerfile's build stage) produces a tree from which
// the apps start with nothing else, the way the final stage runs them: `node apps/proxy/src/main.ts`.
import {
  existsSync,
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { runCommand, type SpawnedProcess, spawnProcess } from '@pdrouter/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rendered, workloads } from './support/k8s.ts';

const REPO = resolve(import.meta.dirname, '..', '..');
const DOCKERFILE = join(REPO, 'deploy', 'docker', 'Dockerfile');
/** Where the distroless base keeps node; the Dockerfile and the manifests' `command:` both use it. */
const IMAGE_NODE = '/nodejs/bin/node';
/** The build is a pnpm install from the local store: seconds; the margin is for a cold, loaded machine. */
const BUILD_TIMEOUT_MS = 45_000;
/** Deadline for a started process to print its ready/listening line. */
const START_TIMEOUT_MS = 15_000;
/** The proxy drains for up to --drain-timeout-secs after SIGTERM; the test sets 2 s. */
const EXIT_TIMEOUT_MS = 10_000;

interface Started {
  proc: SpawnedProcess;
  line: Record<string, unknown>;
}

const children: SpawnedProcess[] = [];

function jsonOf(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Starts `node <script> ...args` from the tree (cwd = tree) and resolves with the first JSON line matching. */
async function startFromTree(
  tree: string,
  script: string,
  args: string[],
  ready: (l: Record<string, unknown>) => boolean,
): Promise<Started> {
  const isReady = (text: string): boolean => {
    const line = jsonOf(text);
    return line !== undefined && ready(line);
  };
  const proc = await spawnProcess(process.execPath, [script, ...args], {
    cwd: tree,
    env: { PATH: process.env.PATH ?? '' },
    readyLine: isReady,
    timeoutMs: START_TIMEOUT_MS,
  });
  children.push(proc);
  return { proc, line: jsonOf(proc.lines.find(isReady) as string) as Record<string, unknown> };
}

function walk(dir: string, visit: (path: string) => void): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    visit(path);
    if (entry.isDirectory() && !entry.isSymbolicLink()) walk(path, visit);
  }
}

describe('runtime tree (scripts/build-runtime.sh)', () => {
  let tree: string;

  /** The dev overlay's simulator image tree (packages/vllm-sim only). */
  let simTree: string;

  beforeAll(
    async () => {
      tree = mkdtempSync(join(tmpdir(), 'pdrouter-runtime-'));
      simTree = mkdtempSync(join(tmpdir(), 'pdrouter-sim-runtime-'));
      const build = (out: string, ...entries: string[]) =>
        runCommand('bash', [join(REPO, 'scripts', 'build-runtime.sh'), out, ...entries], {
          timeoutMs: BUILD_TIMEOUT_MS,
        }).then((r) => {
          if (r.code !== 0) throw new Error(`build-runtime.sh ${out} exited with ${r.code}:\n${r.stderr}`);
        });
      await build(tree);
      await build(simTree, 'packages/vllm-sim');
    },
    2 * BUILD_TIMEOUT_MS + 5_000,
  );

  afterAll(async () => {
    await Promise.all(children.map((c) => c.stop('SIGKILL', 0)));
    if (tree) rmSync(tree, { recursive: true, force: true });
    if (simTree) rmSync(simTree, { recursive: true, force: true });
  });

  it('holds the apps at their real paths, linked to the workspace packages, without tests or dev tools', () => {
    for (const entry of ['apps/proxy/src/main.ts', 'apps/discovery/src/main.ts', 'apps/ctl/src/main.ts']) {
      expect(statSync(join(tree, entry)).isFile(), entry).toBe(true);
    }
    // Workspace packages stay outside node_modules (type stripping skips node_modules).
    expect(realpathSync(join(tree, 'apps/proxy/node_modules/@pdrouter/core'))).toBe(
      realpathSync(join(tree, 'packages/core')),
    );
    const pnpmDir = readdirSync(join(tree, 'node_modules/.pnpm'));
    for (const dev of ['vitest@', 'typescript@', '@biomejs+biome@', 'turbo@', 'openai@']) {
      expect(
        pnpmDir.some((d) => d.startsWith(dev)),
        dev,
      ).toBe(false);
    }
    expect(pnpmDir.some((d) => d.startsWith('hono@'))).toBe(true);
    const problems: string[] = [];
    walk(tree, (path) => {
      const rel = relative(tree, path);
      const st = lstatSync(path);
      if (st.isSymbolicLink()) {
        const target = readlinkSync(path);
        const resolved = resolve(join(path, '..'), target);
        if (target.startsWith('/') || relative(tree, resolved).startsWith('..'))
          problems.push(`link out of tree: ${rel}`);
      } else if (rel.endsWith('.test.ts') && !rel.includes('node_modules')) problems.push(`test file: ${rel}`);
      // The image runs as uid 65532 over root-owned files: everything must be world-readable.
      else if ((st.mode & 0o004) === 0) problems.push(`not world-readable: ${rel}`);
    });
    expect(problems).toEqual([]);
  });

  it('holds no simulator, demo, test helper or test fixture', () => {
    for (const absent of [
      'packages/vllm-sim/src',
      'packages/testkit/src',
      'apps/demo/src',
      'bench/src',
      'deploy/src',
    ]) {
      expect(existsSync(join(tree, absent)), absent).toBe(false);
    }
    const found: string[] = [];
    walk(tree, (path) => {
      const rel = relative(tree, path);
      if (rel.startsWith('node_modules/.pnpm')) return;
      const name = rel.split('/').at(-1) ?? '';
      if (/^(test|tests|__fixtures__|test-support)$/.test(name) || /^(demo|test-proxy)\.ts$/.test(name))
        found.push(rel);
      if (/node_modules\/@pdrouter\/(vllm-sim|testkit|demo|bench|deploy)$/.test(rel)) found.push(rel);
    });
    expect(found).toEqual([]);
  });

  it('starts the proxy against simulated pods: /health, a P/D completion, /metrics, clean SIGTERM', async () => {
    // The simulator is not in the tree (the image never runs it): it starts from the repository.
    const sim = await startFromTree(
      tree,
      join(REPO, 'packages/vllm-sim/src/main.ts'),
      ['--prefill', '1', '--decode', '1', '--base-port', '0'],
      (l) => l.event === 'ready',
    );
    const pods = sim.line.pods as { role: string; url: string }[];
    const url = (role: string) => pods.find((p) => p.role === role)?.url ?? '';
    const proxy = await startFromTree(
      tree,
      'apps/proxy/src/main.ts',
      [
        '--pd-disaggregation',
        '--prefill',
        url('prefill'),
        '--decode',
        url('decode'),
        '--host',
        '127.0.0.1',
        '--port',
        '0',
        '--prometheus-port',
        '0',
        '--drain-timeout-secs',
        '2',
      ],
      (l) => l.msg === 'listening',
    );
    const base = String(proxy.line.url);
    for (const probe of ['/health', '/liveness', '/readiness'])
      expect((await fetch(`${base}${probe}`)).status, probe).toBe(200);
    const models = (await (await fetch(`${base}/v1/models`)).json()) as { data: { id: string }[] };
    const model = models.data[0]?.id;
    expect(model).toBeDefined();
    const completion = await fetch(`${base}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model, prompt: 'the runtime tree serves a request', max_tokens: 4 }),
    });
    expect(completion.status).toBe(200);
    const body = (await completion.json()) as { choices: { text: string }[] };
    expect(body.choices[0]?.text.length).toBeGreaterThan(0);
    const metrics = await (await fetch(String(proxy.line.metricsUrl))).text();
    expect(metrics).toMatch(/^vllm_router_requests_total\{route="\/v1\/completions"\} 1$/m);
    expect(await proxy.proc.stop('SIGTERM', EXIT_TIMEOUT_MS)).toBe(0);
    await sim.proc.stop('SIGTERM', EXIT_TIMEOUT_MS);
  });

  it('loads the whole discovery and pdrouterctl module graphs', async () => {
    for (const app of ['apps/discovery/src/main.ts', 'apps/ctl/src/main.ts']) {
      const { code, stdout } = await runCommand(process.execPath, [app, '--help'], {
        cwd: tree,
        timeoutMs: START_TIMEOUT_MS,
      });
      expect(code, app).toBe(0);
      expect(stdout, app).toMatch(/usage/i);
    }
  });

  it('matches the Dockerfile: entry points in the tree, non-root user, the ports the manifests use', async () => {
    const dockerfile = readFileSync(DOCKERFILE, 'utf8');
    expect(dockerfile).toContain('bash scripts/build-runtime.sh /runtime && ');
    expect(dockerfile).toContain('bash scripts/build-runtime.sh /sim-runtime packages/vllm-sim\n');
    expect(dockerfile).toMatch(/^COPY --from=build \/runtime \/app$/m);
    expect(dockerfile).toMatch(/^COPY --from=build \/sim-runtime \/app$/m);
    expect(dockerfile).toMatch(/^USER 65532:65532$/m);
    expect(dockerfile).toMatch(/^ARG NODE_VERSION=24\.\d+\.\d+$/m);
    const pnpm = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')).packageManager as string;
    expect(dockerfile).toContain(`ARG PNPM_VERSION=${pnpm.replace('pnpm@', '')}`);
    const entrypoints = [...dockerfile.matchAll(/^ENTRYPOINT \["([^"]+)", "([^"]+)"\]$/gm)];
    expect(entrypoints.map((m) => m[2])).toEqual([
      'apps/proxy/src/main.ts',
      'apps/discovery/src/main.ts',
      'packages/vllm-sim/src/main.ts',
    ]);
    for (const m of entrypoints) {
      expect(m[1]).toBe(IMAGE_NODE);
      const imageTree = m[2]?.startsWith('packages/vllm-sim/') ? simTree : tree;
      expect(statSync(join(imageTree, m[2] as string)).isFile()).toBe(true);
    }
    expect(dockerfile).toMatch(/^EXPOSE 10001 29000$/m);
    expect(dockerfile).toMatch(/^EXPOSE 9090$/m);
  });

  it('runs every `command:` the overlays give the pdrouter images from a file in the tree', async () => {
    let checked = 0;
    for (const name of ['base', 'overlays/seed', 'overlays/dev'] as const) {
      for (const w of workloads(await rendered(name))) {
        for (const c of w.spec.template.spec.containers) {
          if (!c.image.startsWith('ghcr.io/pdrouter/') || !c.command) continue;
          expect(c.command[0]).toBe(IMAGE_NODE);
          const imageTree = c.image.startsWith('ghcr.io/pdrouter/vllm-sim:') ? simTree : tree;
          expect(statSync(join(imageTree, c.command[1] as string)).isFile(), c.command[1]).toBe(true);
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(0);
  });

  it("starts the dev overlay's simulated pods with their own arguments (bound to 127.0.0.1 here)", async () => {
    const sims = workloads(await rendered('overlays/dev'))
      .flatMap((w) => w.spec.template.spec.containers)
      .filter((c) => c.command?.[1]?.includes('vllm-sim'));
    expect(sims.length).toBe(2);
    for (const c of sims) {
      // Only the addresses change: a test binds 127.0.0.1 and random ports, never the pod's.
      const local: Record<string, string> = {
        '--host': '127.0.0.1',
        '--advertise-host': '127.0.0.1',
        '--base-port': '0',
      };
      const args = (c.args ?? []).map((a, i, all) => local[all[i - 1] ?? ''] ?? a);
      const sim = await startFromTree(simTree, c.command?.[1] as string, args, (l) => l.event === 'ready');
      const pods = sim.line.pods as { url: string }[];
      expect(pods).toHaveLength(1);
      expect((await fetch(`${pods[0]?.url}/health`)).status).toBe(200);
      await sim.proc.stop('SIGTERM', EXIT_TIMEOUT_MS);
    }
  });
});
