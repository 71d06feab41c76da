/** Reads histograms from a Prometheus text exposition and estimates quantiles as histogram_quantile() does. */
import { parsePrometheusText } from '@pdrouter/testkit';

export interface Histogram {
  /** Cumulative counts by upper bound, ascending; the last bound is +Inf. */
  readonly buckets: readonly (readonly [le: number, count: number])[];
  readonly sum: number;
  readonly count: number;
}

const METRICS_TIMEOUT_MS = 10_000;

export async function fetchMetricsText(url: string): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(METRICS_TIMEOUT_MS) });
  if (!res.ok) throw new Error(`GET ${url} answered ${res.status}`);
  return res.text();
}

/** One histogram summed over every label set (apart from `le`). */
export function parseHistogram(text: string, name: string): Histogram {
  const byLe = new Map<number, number>();
  let sum = 0;
  let count = 0;
  for (const sample of parsePrometheusText(text)) {
    if (!Number.isFinite(sample.value)) continue;
    if (sample.name === `${name}_bucket`) {
      const le = sample.labels.le;
      if (le === undefined) continue;
      const bound = le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le);
      byLe.set(bound, (byLe.get(bound) ?? 0) + sample.value);
    } else if (sample.name === `${name}_sum`) sum += sample.value;
    else if (sample.name === `${name}_count`) count += sample.value;
  }
  return { buckets: [...byLe.entries()].sort((a, b) => a[0] - b[0]), sum, count };
}

/** after - before, bucket by bucket (the observations made between two scrapes). */
export function histogramDelta(after: Histogram, before: Histogram): Histogram {
  const prev = new Map(before.buckets);
  return {
    buckets: after.buckets.map(([le, c]) => [le, c - (prev.get(le) ?? 0)] as const),
    sum: after.sum - before.sum,
    count: after.count - before.count,
  };
}

/** Prometheus' histogram_quantile: linear interpolation inside the bucket holding the rank. */
export function histogramQuantile(q: number, h: Histogram): number | undefined {
  const total = h.buckets.at(-1)?.[1] ?? 0;
  if (total <= 0) return undefined;
  const rank = q * total;
  let prevLe = 0;
  let prevCount = 0;
  for (const [le, count] of h.buckets) {
    if (count >= rank) {
      if (le === Number.POSITIVE_INFINITY) return prevLe;
      return prevLe + ((le - prevLe) * (rank - prevCount)) / Math.max(1e-12, count - prevCount);
    }
    prevLe = le;
    prevCount = count;
  }
  return prevLe;
}
