// What a running process costs, read from /proc (Linux): CPU seconds and resident memory, of one process or
// of a process and its descendants (nginx workers, a gateway started through a shell).
import { readdir, readFile } from 'node:fs/promises';

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat (fields 14 and 15, in ticks). */
export async function processCpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces; the fields after it start past the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return (utime + stime) / CLOCK_TICKS_PER_S;
}

/** Linux's USER_HZ: /proc times are in 1/100 s on every mainstream architecture. */
const CLOCK_TICKS_PER_S = 100;

/** Resident and peak resident memory of a process in MiB, from /proc/<pid>/status. */
export async function processMemoryMiB(pid: number): Promise<{ rssMiB: number; peakRssMiB: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  return { rssMiB: kib('VmRSS') / 1024, peakRssMiB: kib('VmHWM') / 1024 };
}

/** CPU seconds of a process and all its live descendants (nginx workers, a gateway started through a shell). */
export async function processTreeCpuSeconds(pid: number): Promise<number> {
  let total = 0;
  for (const p of await processTree(pid)) {
    try {
      total += await processCpuSeconds(p);
    } catch {
      // the process ended between listing and reading
    }
  }
  return total;
}

export async function processTreeMemoryMiB(pid: number): Promise<{ rssMiB: number; peakRssMiB: number }> {
  let rssMiB = 0;
  let peakRssMiB = 0;
  for (const p of await processTree(pid)) {
    try {
      const m = await processMemoryMiB(p);
      rssMiB += m.rssMiB;
      peakRssMiB += m.peakRssMiB;
    } catch {
      // ended meanwhile
    }
  }
  return { rssMiB, peakRssMiB };
}

async function processTree(root: number): Promise<number[]> {
  const out = [root];
  for (let i = 0; i < out.length; i++) {
    try {
      const children = await readFile(`/proc/${out[i]}/task/${out[i]}/children`, 'utf8');
      for (const c of children.split(' ').filter(Boolean)) out.push(Number(c));
    } catch {
      // no children file (ended)
    }
  }
  return out;
}

/**
 * Open file descriptors of a process (/proc/<pid>/fd) and its soft RLIMIT_NOFILE (/proc/<pid>/limits, "Max open
 * files"; null when unlimited). A process at its limit cannot accept a connection: libuv then accepts and closes
 * it at once, which the client sees as a reset.
 */
export async function processOpenFiles(pid: number): Promise<{ open: number; limit: number | null }> {
  const [fds, limits] = await Promise.all([readdir(`/proc/${pid}/fd`), readFile(`/proc/${pid}/limits`, 'utf8')]);
  const soft = /^Max open files\s+(\S+)/m.exec(limits)?.[1];
  return { open: fds.length, limit: soft === undefined || soft === 'unlimited' ? null : Number(soft) };
}

/** Peak open file descriptors per process, sampled every `intervalMs` until stop(). */
export class OpenFilesSampler {
  readonly #pids: readonly number[];
  readonly #peaks = new Map<number, { open: number; limit: number | null }>();
  readonly #timer: NodeJS.Timeout;
  #sampling: Promise<void> | undefined;

  constructor(pids: readonly number[], intervalMs: number) {
    this.#pids = pids;
    this.#tick();
    this.#timer = setInterval(() => this.#tick(), intervalMs);
  }

  /** Stops sampling (after one last sample); the peak of every process sampled at least once. */
  async stop(): Promise<Map<number, { open: number; limit: number | null }>> {
    clearInterval(this.#timer);
    await this.#sampling;
    await this.#sample();
    return this.#peaks;
  }

  #tick(): void {
    this.#sampling ??= this.#sample().finally(() => {
      this.#sampling = undefined;
    });
  }

  async #sample(): Promise<void> {
    for (const pid of this.#pids) {
      try {
        const now = await processOpenFiles(pid);
        const peak = this.#peaks.get(pid);
        if (peak === undefined || now.open > peak.open) this.#peaks.set(pid, now);
      } catch {
        // ended meanwhile
      }
    }
  }
}
