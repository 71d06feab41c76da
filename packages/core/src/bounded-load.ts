// biome-ignore-all lint/style/noNonNullAssertion: indices are in bounds by construction; checks would cost on the hot path
/**
 * Consistent hashing with bounded loads (Mirrokni, Thorup, Zadimoghaddam 2018; Envoy's
 * hash_balance_factor): walk the ring's failover order and take the first member whose in-flight
 * count, with this request added, stays within ceil(factor * (total + 1) / n), where total is the
 * in-flight sum over the walk's n members.
 *
 * With factor >= 1 some member always qualifies (they cannot all be at the cap), so the result is
 * undefined only for an empty walk. Factors below 1 are treated as 1.
 */
export function pickBoundedLoad(
  walk: readonly string[],
  inFlight: (member: string) => number,
  factor: number,
): string | undefined {
  const n = walk.length;
  if (n === 0) return undefined;
  const loads = new Array<number>(n);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const raw = inFlight(walk[i]!);
    // A broken counter must not stop routing: treat non-finite or negative counts as idle.
    const load = Number.isFinite(raw) && raw > 0 ? raw : 0;
    loads[i] = load;
    total += load;
  }
  const cap = boundedLoadCap(total, n, factor);
  for (let i = 0; i < n; i++) {
    if (loads[i]! + 1 <= cap) return walk[i];
  }
  // Unreachable for factor >= 1; kept so a float corner case still routes to the ring owner.
  return walk[0];
}

/** The per-member cap for `total` in-flight requests over `n` members, counting the new request. */
export function boundedLoadCap(total: number, n: number, factor: number): number {
  const f = Number.isFinite(factor) && factor > 1 ? factor : 1;
  return Math.ceil((f * (total + 1)) / n);
}
