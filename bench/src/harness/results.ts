import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT } from './machine.ts';

export const RESULTS_DIR = join(REPO_ROOT, 'bench', 'results');

/** Writes bench/results/<name>.json and <name>.md (and any extra files, e.g. a chart). */
export async function writeResults(
  name: string,
  json: unknown,
  markdown: string,
  extra: Record<string, string> = {},
): Promise<string[]> {
  await mkdir(RESULTS_DIR, { recursive: true });
  const files = [join(RESULTS_DIR, `${name}.json`), join(RESULTS_DIR, `${name}.md`)];
  await writeFile(files[0] as string, `${JSON.stringify(json, null, 2)}\n`);
  await writeFile(files[1] as string, markdown.endsWith('\n') ? markdown : `${markdown}\n`);
  for (const [file, content] of Object.entries(extra)) {
    const path = join(RESULTS_DIR, file);
    await writeFile(path, content);
    files.push(path);
  }
  return files;
}

/** A Markdown table from a header and rows of cells. */
export function markdownTable(header: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const line = (cells: readonly (string | number)[]): string => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

export function fmt(n: number | undefined, digits = 2): string {
  if (n === undefined || Number.isNaN(n)) return 'n/a';
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}
