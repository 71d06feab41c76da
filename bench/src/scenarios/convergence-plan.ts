/**
 * The sequence of pod changes the convergence scenario makes, decided up front (pure, no I/O) so a run is
 * reproducible and each change's expected membership is known before it is made.
 *
 * Changes come in leave/join pairs, so the membership returns to its starting point after every pair and each
 * change moves exactly one member:
 * - `unready` / `ready`: the Ready condition flips (the pod keeps running);
 * - `delete` / `recreate`: the pod object is deleted outright, then created again (new uid);
 * - `terminate` / `recreate`: deletionTimestamp set (the pod leaves while it still serves), then its server stops
 *   and the object is deleted; later the server starts again and the pod is created again;
 * - `scale-up` / `scale-down`: a spare pod, not registered at start, is created and later deleted.
 * Pods are taken in turn, alternating roles, so every member and both rings get changes.
 */

/** Discovery's default --debounce-ms (apps/discovery/src/flags.ts): the setting measured unless --debounce-ms says otherwise. */
export const DEFAULT_DEBOUNCE_MS = 250;

export type ChangeKind = 'unready' | 'ready' | 'delete' | 'recreate' | 'terminate' | 'scale-up' | 'scale-down';

export interface PlanPod {
  readonly name: string;
  readonly role: 'prefill' | 'decode';
}

export interface PlannedChange {
  readonly index: number;
  readonly kind: ChangeKind;
  readonly pod: PlanPod;
  /** Whether the pod is a member after the change. */
  readonly joins: boolean;
  /** Names of every member after the change, sorted. */
  readonly membersAfter: readonly string[];
}

const PAIRS: readonly (readonly [ChangeKind, ChangeKind])[] = [
  ['unready', 'ready'],
  ['delete', 'recreate'],
  ['terminate', 'recreate'],
  ['scale-up', 'scale-down'],
];

/** Pods of both roles interleaved: prefill-0, decode-0, prefill-1, decode-1, ... */
function alternateRoles(pods: readonly PlanPod[]): PlanPod[] {
  const prefill = pods.filter((p) => p.role === 'prefill');
  const decode = pods.filter((p) => p.role === 'decode');
  const out: PlanPod[] = [];
  for (let i = 0; i < Math.max(prefill.length, decode.length); i++) {
    if (prefill[i]) out.push(prefill[i] as PlanPod);
    if (decode[i]) out.push(decode[i] as PlanPod);
  }
  return out;
}

export function planChanges(count: number, members: readonly PlanPod[], spares: readonly PlanPod[]): PlannedChange[] {
  if (!Number.isInteger(count) || count < 1) throw new Error(`the number of changes must be >= 1, got ${count}`);
  if (members.length === 0) throw new Error('at least one member pod is needed');
  const memberOrder = alternateRoles(members);
  const spareOrder = alternateRoles(spares);
  const current = new Set(members.map((p) => p.name));
  const changes: PlannedChange[] = [];
  let nextMember = 0;
  let nextSpare = 0;
  for (let pair = 0; changes.length < count; pair++) {
    let [leave, join] = PAIRS[pair % PAIRS.length] as readonly [ChangeKind, ChangeKind];
    let pod: PlanPod;
    if (leave === 'scale-up') {
      if (spareOrder.length === 0) {
        // No spare pods: scale the members instead.
        [leave, join] = ['delete', 'recreate'];
        pod = memberOrder[nextMember++ % memberOrder.length] as PlanPod;
      } else pod = spareOrder[nextSpare++ % spareOrder.length] as PlanPod;
    } else pod = memberOrder[nextMember++ % memberOrder.length] as PlanPod;
    for (const kind of [leave, join]) {
      if (changes.length >= count) break;
      const joins = kind === 'ready' || kind === 'recreate' || kind === 'scale-up';
      if (joins) current.add(pod.name);
      else current.delete(pod.name);
      changes.push({ index: changes.length, kind, pod, joins, membersAfter: [...current].sort() });
    }
  }
  return changes;
}
