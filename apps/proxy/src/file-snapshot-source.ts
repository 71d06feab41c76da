// Members from a snapshot file (--snapshot-file), re-read when it changes. The directory is watched (so an
// atomic rename or a Kubernetes ConfigMap symlink swap is seen) and the file is also polled, because
// fs.watch is best-effort on some filesystems.
import { type FSWatcher, watch } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { parseSnapshot } from '@pdrouter/core';
import type { SnapshotSource } from './snapshot-source.ts';

/** How often the file is re-read even when no change event arrived. */
export const SNAPSHOT_FILE_POLL_INTERVAL_MS = 2000;
/** Change events come in bursts (truncate + write); wait this long before reading. */
export const SNAPSHOT_FILE_DEBOUNCE_MS = 50;

export interface FileSnapshotSourceOptions {
  pollIntervalMs?: number;
  /** Reads the file (default fs.readFile as UTF-8); tests count the reads through it. */
  readText?: (path: string) => Promise<string>;
}

export function fileSnapshotSource(path: string, options: FileSnapshotSourceOptions = {}): SnapshotSource {
  const readText = options.readText ?? ((p: string) => readFile(p, 'utf8'));
  let lastText: string | undefined;
  let lastError: string | undefined;
  let watcher: FSWatcher | undefined;
  let poll: NodeJS.Timeout | undefined;
  let debounce: NodeJS.Timeout | undefined;
  let closed = false;

  return {
    description: `file ${path}`,
    async start(apply, reject) {
      const load = async () => {
        if (closed) return;
        let text: string;
        try {
          text = await readText(path);
        } catch (err) {
          const reason = `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
          if (reason !== lastError) reject(reason);
          lastError = reason;
          return;
        }
        // Unchanged content is not a new snapshot; partial writes show up as parse errors and are retried.
        if (text === lastText) return;
        const parsed = parseSnapshot(text);
        if (!parsed.ok) {
          const reason = `${path}: ${parsed.error}`;
          if (reason !== lastError) reject(reason);
          lastError = reason;
          return;
        }
        lastText = text;
        lastError = undefined;
        apply(parsed.snapshot);
      };
      const schedule = () => {
        clearTimeout(debounce);
        debounce = setTimeout(() => void load(), SNAPSHOT_FILE_DEBOUNCE_MS);
        debounce.unref();
      };
      await load();
      try {
        watcher = watch(dirname(path), (_event, name) => {
          if (name === null || name === basename(path) || name.startsWith('..')) schedule();
        });
        watcher.on('error', () => {});
        watcher.unref();
      } catch {
        // Polling below still picks changes up.
      }
      poll = setInterval(() => void load(), options.pollIntervalMs ?? SNAPSHOT_FILE_POLL_INTERVAL_MS);
      poll.unref();
    },
    async close() {
      closed = true;
      watcher?.close();
      clearInterval(poll);
      clearTimeout(debounce);
    },
  };
}
