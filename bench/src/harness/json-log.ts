/**
 * Reads the JSON log lines the proxy and discovery write on stdout (`{"time":"<ISO 8601>","level":..,"msg":..}`).
 * Their `time` is the writer's wall clock with millisecond resolution, the same clock as this process's `Date.now()`
 * on one machine, so an event's moment can be taken from the line itself rather than from when it was read.
 */

export interface SnapshotApplied {
  readonly timeMs: number;
  readonly fingerprint: string;
  readonly seq: number;
  readonly prefill: number;
  readonly decode: number;
}

function parseLine(line: string, msg: string): (Record<string, unknown> & { timeMs: number }) | undefined {
  if (!line.includes(`"msg":"${msg}"`)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const o = parsed as Record<string, unknown>;
  if (o.msg !== msg || typeof o.time !== 'string') return undefined;
  const timeMs = Date.parse(o.time);
  return Number.isNaN(timeMs) ? undefined : { ...o, timeMs };
}

/** The proxy's info line after it swapped its rings to a snapshot with a new membership. */
export function parseSnapshotApplied(line: string): SnapshotApplied | undefined {
  const o = parseLine(line, 'snapshot applied');
  if (!o) return undefined;
  const { fingerprint, seq, prefill, decode } = o;
  if (typeof fingerprint !== 'string' || typeof seq !== 'number') return undefined;
  if (typeof prefill !== 'number' || typeof decode !== 'number') return undefined;
  return { timeMs: o.timeMs, fingerprint, seq, prefill, decode };
}

/** Discovery's info line when a debounced recompute found members joined or left (the debounce window closed). */
export function parseMembershipChanged(line: string): { timeMs: number; role: string } | undefined {
  const o = parseLine(line, 'membership changed');
  if (!o || typeof o.role !== 'string') return undefined;
  return { timeMs: o.timeMs, role: o.role };
}
