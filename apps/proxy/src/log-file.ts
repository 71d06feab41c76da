// --log-dir: the log lines also go to a file in that directory, rotated daily as vllm-router's
// (tracing-appender's Rotation::DAILY: `<prefix>.YYYY-MM-DD`, the UTC date, a new file at UTC midnight,
// old files kept). The prefix is `pdrouter` where vllm-router's is `vllm-router`, and the lines are the
// same JSON lines as on stdout. Writes are synchronous appends: a log line is rare next to a request, and
// nothing written before an exit is lost.
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';

export const LOG_FILE_PREFIX = 'pdrouter';

export interface LogFile {
  /** The file written now. */
  readonly path: string;
  write(line: string): void;
  close(): void;
}

export interface LogFileOptions {
  readonly now?: () => number;
  /** Told once when a write fails (disk full, directory removed); the next day's file is tried again. */
  readonly onError?: (err: Error) => void;
}

export function logFileName(ms: number): string {
  return `${LOG_FILE_PREFIX}.${new Date(ms).toISOString().slice(0, 10)}`;
}

/** Opens today's file (creating the directory as vllm-router does); throws when that is impossible. */
export function openLogFile(dir: string, options: LogFileOptions = {}): LogFile {
  const now = options.now ?? Date.now;
  mkdirSync(dir, { recursive: true });
  let name = logFileName(now());
  let fd: number | undefined = openSync(join(dir, name), 'a', 0o640);
  let failed = false;
  const fail = (err: unknown): void => {
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch {}
    }
    fd = undefined;
    if (!failed) options.onError?.(err instanceof Error ? err : new Error(String(err)));
    failed = true;
  };
  return {
    get path() {
      return join(dir, name);
    },
    write(line) {
      const today = logFileName(now());
      if (today !== name) {
        if (fd !== undefined) closeSync(fd);
        fd = undefined;
        name = today;
        failed = false;
        try {
          fd = openSync(join(dir, name), 'a', 0o640);
        } catch (err) {
          fail(err);
        }
      }
      if (fd === undefined) return;
      try {
        writeSync(fd, line);
      } catch (err) {
        fail(err);
      }
    },
    close() {
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
    },
  };
}
