// Garbage collection in a measured process: full collections on demand (the heap a structure holds,
// without the garbage building it made) and the collections V8 ran in a window, with the longest pause.
import { constants, type PerformanceEntry, PerformanceObserver } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** The heap in use after two full collections, in bytes. */
export function collectedHeapBytes(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

export interface GcSeen {
  collections: number;
  longestPauseMs: number;
  /** V8's kind of the longest collection: minor (scavenge), major (mark-compact), incremental or weak callbacks. */
  longestKind: string;
}

/** Garbage collections in a window: how many, and the longest pause (V8 stops the event loop for it). */
export class GcWatch {
  private count = 0;
  private longestMs = 0;
  private longestKind = '';
  private readonly observer = new PerformanceObserver((list) => this.add(list.getEntries()));

  start(): void {
    this.count = 0;
    this.longestMs = 0;
    this.longestKind = '';
    this.observer.observe({ entryTypes: ['gc'] });
  }

  stop(): GcSeen {
    // Entries are delivered asynchronously: take what is queued before disconnecting.
    this.add(this.observer.takeRecords());
    this.observer.disconnect();
    return {
      collections: this.count,
      longestPauseMs: Math.round(this.longestMs * 100) / 100,
      longestKind: this.longestKind,
    };
  }

  private add(entries: PerformanceEntry[]): void {
    for (const entry of entries) {
      this.count++;
      if (entry.duration > this.longestMs) {
        this.longestMs = entry.duration;
        this.longestKind = gcKindName((entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind);
      }
    }
  }
}

function gcKindName(kind: number | undefined): string {
  if (kind === constants.NODE_PERFORMANCE_GC_MINOR) return 'minor';
  if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) return 'major';
  if (kind === constants.NODE_PERFORMANCE_GC_INCREMENTAL) return 'incremental';
  if (kind === constants.NODE_PERFORMANCE_GC_WEAKCB) return 'weak callbacks';
  return 'unknown';
}
