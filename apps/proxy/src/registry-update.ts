// A new table's membership reaching the pod registry and the pod-metrics scraper. Each joiner costs
// per-pod state, a dozen metric series and a scrape timer, each leaver their removal: a few pods are
// microseconds, but a first 10,000-pod snapshot or a rolling restart of thousands is tens of
// milliseconds. So the work is in steps of REGISTRY_STEP_MEMBERS pods, run in slices (runInSlices),
// one table after the other in the order they were applied. A request routed meanwhile to a pod not
// registered yet gets its state on first use (PodRegistry.get), as a leg to any pod does.
import type { PodScraper } from './pod-scraper.ts';
import type { PodRegistry } from './pods.ts';
import { runInSteps } from './ring-builder.ts';
import type { RoutingTable } from './router-state.ts';

/** Pods joining or leaving per step: well under a millisecond of registry work. */
export const REGISTRY_STEP_MEMBERS = 128;

/** The registries' part of applying `table`, in steps; `merged` when its keyChanges hold against what they have. */
export function* registryUpdate(
  table: RoutingTable,
  merged: boolean,
  pods: PodRegistry,
  scraper: PodScraper | undefined,
): Generator<void, void> {
  const urlOf = (key: string) => [key, table.byKey.get(key)?.url ?? key] as const;
  let change: { joined: readonly string[]; left: readonly string[] };
  let scraperChange: { joined: readonly (readonly [string, string])[]; left: readonly string[] } | undefined;
  if (merged && table.keyChanges !== undefined) {
    change = table.keyChanges;
    scraperChange = scraper && { joined: change.joined.map(urlOf), left: change.left };
  } else {
    const keys = [...table.members.prefill, ...table.members.decode, ...table.members.plain];
    change = yield* pods.membershipChangeInSteps(keys);
    scraperChange = scraper && (yield* scraper.membershipChangeInSteps(keys.map(urlOf)));
  }
  yield* inSteps(change.joined, change.left, (j, l) => pods.changeMembers(j, l));
  if (scraper && scraperChange)
    yield* inSteps(scraperChange.joined, scraperChange.left, (j, l) => scraper.changeMembers(j, l));
}

/**
 * `apply(joined, left)` over the change, REGISTRY_STEP_MEMBERS at a time: a small change in one call
 * (exactly what a single changeMembers does), a large one leavers first, then joiners.
 */
function* inSteps<J>(
  joined: readonly J[],
  left: readonly string[],
  apply: (joined: readonly J[], left: readonly string[]) => void,
): Generator<void, void> {
  if (joined.length + left.length <= REGISTRY_STEP_MEMBERS) {
    apply(joined, left);
    return;
  }
  for (let i = 0; i < left.length; i += REGISTRY_STEP_MEMBERS) {
    apply([], left.slice(i, i + REGISTRY_STEP_MEMBERS));
    yield;
  }
  for (let i = 0; i < joined.length; i += REGISTRY_STEP_MEMBERS) {
    apply(joined.slice(i, i + REGISTRY_STEP_MEMBERS), []);
    yield;
  }
}

/** Registry updates one after the other, each in slices; the first runs at once while none is pending. */
export class RegistryUpdates {
  private tail: Promise<void> = Promise.resolve();
  private pending = 0;
  private readonly onError: (err: unknown) => void;
  private readonly sliceMs: number | undefined;

  /** `sliceMs`: the slice runInSteps runs (SLICE_MS unless given; 0 pauses at every step). */
  constructor(onError: (err: unknown) => void, options: { sliceMs?: number } = {}) {
    this.onError = onError;
    this.sliceMs = options.sliceMs;
  }

  /** Queues `steps` (a generator not started yet: it reads the registries when its turn comes). */
  run(steps: Generator<void, void>): void {
    const go = () =>
      runInSteps(steps, this.sliceMs)
        .catch(this.onError)
        .finally(() => {
          this.pending--;
        });
    this.pending++;
    // Nothing queued: the first slice runs now, so a small change is in the registries on return.
    this.tail = this.pending === 1 ? go() : this.tail.then(go);
  }

  /** Resolves once every update queued so far is done. */
  async settled(): Promise<void> {
    while (this.pending > 0) await this.tail;
  }
}
