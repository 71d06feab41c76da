import type { SeededRandom } from './rng.ts';

/**
 * Send times (seconds after the start) for n requests, as `vllm bench serve` computes them: at an infinite rate all
 * at 0; with burstiness = inf evenly spaced at 1/rate; otherwise gaps drawn from Gamma(shape = burstiness,
 * scale = 1 / (rate * burstiness)) (burstiness 1 is a Poisson process), accumulated, then rescaled so the last
 * request goes out at n / rate exactly, which keeps throughput comparable across seeds.
 */
export function arrivalOffsetsS(n: number, requestRate: number, burstiness: number, rng: SeededRandom): number[] {
  if (!(burstiness > 0)) throw new RangeError(`a positive burstiness factor is expected, got ${burstiness}`);
  if (!(requestRate > 0)) throw new RangeError(`--request-rate must be > 0, got ${requestRate}`);
  const delays = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    if (requestRate === Number.POSITIVE_INFINITY) delays[i] = 0;
    else if (burstiness === Number.POSITIVE_INFINITY) delays[i] = 1 / requestRate;
    else delays[i] = rng.gamma(burstiness, 1 / (requestRate * burstiness));
  }
  for (let i = 1; i < n; i++) delays[i] = (delays[i] as number) + (delays[i - 1] as number);
  const last = delays[n - 1] ?? 0;
  if (last !== 0) {
    const factor = n / requestRate / last;
    for (let i = 0; i < n; i++) delays[i] = (delays[i] as number) * factor;
  }
  return delays;
}
