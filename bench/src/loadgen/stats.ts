/** numpy's reductions as `vllm bench serve` uses them, with `np.x(values or 0)`: an empty list reads as [0]. */

export function mean(values: readonly number[]): number {
  if (values.length === 0) return 0;
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}

/** Population standard deviation (numpy's default ddof = 0). */
export function std(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const m = mean(values);
  let acc = 0;
  for (const v of values) acc += (v - m) * (v - m);
  return Math.sqrt(acc / values.length);
}

/** numpy.percentile with its default 'linear' method on an already sorted array. */
export function percentileSorted(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = ((sorted.length - 1) * p) / 100;
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  const a = sorted[lo] as number;
  const b = sorted[hi] as number;
  return a + (b - a) * (rank - lo);
}

export function percentile(values: readonly number[], p: number): number {
  return percentileSorted(sortedCopy(values), p);
}

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

export function sortedCopy(values: readonly number[]): number[] {
  return Array.from(Float64Array.from(values).sort());
}

export interface Summary {
  readonly mean: number;
  readonly median: number;
  readonly std: number;
  readonly percentiles: ReadonlyArray<readonly [p: number, value: number]>;
}

/** Mean, median, std and the selected percentiles of values given in seconds, returned in milliseconds. */
export function summarizeMs(valuesS: readonly number[], selectedPercentiles: readonly number[]): Summary {
  const sorted = sortedCopy(valuesS);
  return {
    mean: mean(sorted) * 1000,
    median: percentileSorted(sorted, 50) * 1000,
    std: std(sorted) * 1000,
    percentiles: selectedPercentiles.map((p) => [p, percentileSorted(sorted, p) * 1000] as const),
  };
}
