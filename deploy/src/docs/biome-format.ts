import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

/** The repository's formatter: generated files are written as `biome check` wants them, so lint and the
 * drift tests agree. */
const BIOME = join(import.meta.dirname, '..', '..', '..', 'node_modules', '.bin', 'biome');
/** Formatting a few hundred lines takes milliseconds; the margin is for a loaded machine. */
export const BIOME_FORMAT_TIMEOUT_MS = 30_000;

/** Formats `text` as biome would format a file at `repoPath` (relative to the repository root). */
export function biomeFormat(text: string, repoPath: string): string {
  return execFileSync(BIOME, ['format', `--stdin-file-path=${repoPath}`], {
    input: text,
    cwd: join(import.meta.dirname, '..', '..', '..'),
    encoding: 'utf8',
    timeout: BIOME_FORMAT_TIMEOUT_MS,
    stdio: ['pipe', 'pipe', 'ignore'],
  });
}
