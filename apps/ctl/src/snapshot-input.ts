import { readFile } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { parseSnapshot, type Snapshot } from '@pdrouter/core';
import { readNatsSnapshot } from './nats-snapshot-input.ts';

export interface SnapshotInputOptions {
  /** Directory relative file paths resolve against (the user's working directory). */
  cwd: string;
  /** Pool to read from a NATS source (default "default"). */
  pool?: string;
  /** NATS credentials file for a nats:// source. */
  natsCreds?: string;
}

/** True for sources that name a NATS server rather than a file. */
export function isNatsSource(source: string): boolean {
  return /^(nats|tls|wss?):\/\//.test(source);
}

/**
 * Loads and validates a snapshot from a file path or a NATS URL. Throws an Error whose message
 * names the source and what is wrong with it.
 */
export async function loadSnapshot(source: string, options: SnapshotInputOptions): Promise<Snapshot> {
  if (isNatsSource(source)) {
    const raw = await readNatsSnapshot(source, {
      ...(options.pool === undefined ? {} : { pool: options.pool }),
      ...(options.natsCreds === undefined ? {} : { natsCreds: options.natsCreds }),
    });
    const parsed = parseSnapshot(raw);
    if (!parsed.ok) throw new Error(`${source}: ${parsed.error}`);
    return parsed.snapshot;
  }
  const path = isAbsolute(source) ? source : resolve(options.cwd, source);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(`${source}: cannot read snapshot file (${code ?? (err as Error).message})`);
  }
  const parsed = parseSnapshot(text);
  if (!parsed.ok) throw new Error(`${source}: ${parsed.error}`);
  return parsed.snapshot;
}
