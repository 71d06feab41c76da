// The generators' file writes: a generated document, or one marked block of a README, by repository path.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { replaceReadmeBlock } from './readme-blocks.ts';

const REPO_ROOT = join(import.meta.dirname, '..', '..', '..');

export function writeDoc(repoPath: string, text: string): void {
  writeFileSync(join(REPO_ROOT, repoPath), text);
}

/** Replaces the block between `<!-- readme:NAME:start -->` and its end marker in the file at `repoPath`. */
export function rewriteReadmeBlock(repoPath: string, name: string, content: string): void {
  const file = join(REPO_ROOT, repoPath);
  writeFileSync(file, replaceReadmeBlock(readFileSync(file, 'utf8'), name, content, repoPath));
}
