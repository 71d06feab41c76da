import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/**
 * Debian installs some daemons (nats-server) in /usr/sbin, which is not on every user's PATH; looking
 * there too keeps the tests from failing on a machine where the package is installed.
 */
const EXTRA_DIRS = ['/usr/sbin', '/usr/local/sbin', '/sbin'];

export class MissingBinaryError extends Error {
  override readonly name = 'MissingBinaryError';
}

/** Resolves a program to an absolute path, or undefined. `envOverride` names a variable holding a path. */
export function findBinary(name: string, envOverride?: string): string | undefined {
  const override = envOverride ? process.env[envOverride] : undefined;
  if (override) return isExecutable(override) ? override : undefined;
  const dirs = [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...EXTRA_DIRS];
  for (const dir of dirs) {
    const candidate = join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/** Like findBinary, but throws the clear "install it" message the suites must show instead of skipping. */
export function requireBinary(name: string, envOverride?: string): string {
  const found = findBinary(name, envOverride);
  if (found) return found;
  const hint = envOverride ? ` (or set ${envOverride} to its path)` : '';
  throw new MissingBinaryError(`${name} not found on PATH: run scripts/ensure-system-deps.sh${hint}`);
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
