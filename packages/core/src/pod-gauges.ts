// vLLM's queue and KV-cache gauges out of a pod's /metrics text (Prometheus' text exposition format).
// Only the few lines routing reads are parsed; everything else (histograms, other families, comments) is
// skipped by its first characters, so a scrape of a large exposition costs a scan and no allocation per
// line. Nothing a pod sends makes it throw: an exposition without the gauges is an error result.
import type { PodSignals } from './pod-signals.ts';

export const WAITING_METRIC = 'vllm:num_requests_waiting';
export const RUNNING_METRIC = 'vllm:num_requests_running';
export const KV_USAGE_METRIC = 'vllm:kv_cache_usage_perc';
/** What vLLM before 0.10 called vllm:kv_cache_usage_perc. */
export const KV_USAGE_METRIC_OLD = 'vllm:gpu_cache_usage_perc';

export type PodGaugesResult =
  | { readonly ok: true; readonly signals: PodSignals }
  | { readonly ok: false; readonly error: string };

const NAMES = [WAITING_METRIC, RUNNING_METRIC, KV_USAGE_METRIC, KV_USAGE_METRIC_OLD] as const;
type Name = (typeof NAMES)[number];

/** The value of a sample line whose labels start at `from` ('{' or whitespace), or NaN when it has none. */
function sampleValue(line: string, from: number): number {
  let i = from;
  if (line.charCodeAt(i) === 123 /* { */) {
    // Label values are quoted and may hold '}' or escaped quotes.
    let quoted = false;
    for (i++; i < line.length; i++) {
      const c = line.charCodeAt(i);
      if (quoted) {
        if (c === 92 /* \ */) i++;
        else if (c === 34 /* " */) quoted = false;
      } else if (c === 34) quoted = true;
      else if (c === 125 /* } */) break;
    }
    if (i >= line.length) return Number.NaN;
    i++;
  }
  const rest = line.slice(i).trim();
  if (rest === '') return Number.NaN;
  // An optional timestamp follows the value.
  const space = rest.search(/\s/);
  const token = space < 0 ? rest : rest.slice(0, space);
  // Number('') is 0 and Number('0x1') is 1: only what the format allows (Go's ParseFloat) counts.
  if (!/^[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|Inf|NaN)$/.test(token)) return Number.NaN;
  return token.endsWith('Inf') ? (token.startsWith('-') ? -Infinity : Infinity) : Number(token);
}

/** Which of NAMES the line is a sample of (its name followed by labels or a space), if any. */
function nameOf(line: string): Name | undefined {
  if (!line.startsWith('vllm:')) return undefined;
  for (const name of NAMES) {
    if (!line.startsWith(name)) continue;
    const next = line.charCodeAt(name.length);
    if (next === 123 || next === 32 || next === 9) return name;
  }
  return undefined;
}

/**
 * The pod's gauges: running and waiting summed over every series (one per model_name and engine: a
 * data-parallel pod exports one per engine), KV-cache usage the highest series (the fullest engine is
 * the one that preempts), from vllm:kv_cache_usage_perc or, when a pod has only the old name,
 * vllm:gpu_cache_usage_perc. Samples whose value is not a finite number >= 0 are skipped. An error
 * when neither queue gauge is there: that is not a vLLM pod's /metrics.
 */
export function parsePodGauges(text: string): PodGaugesResult {
  const sums: Record<Name, number> = Object.create(null);
  const seen = new Set<Name>();
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    // Fast skip: comments, other families and blank lines never reach nameOf's loop.
    if (text.charCodeAt(start) === 118 /* v */) {
      const line = text.slice(start, end);
      const name = nameOf(line);
      if (name !== undefined) {
        const value = sampleValue(line, name.length);
        if (Number.isFinite(value) && value >= 0) {
          const kv = name === KV_USAGE_METRIC || name === KV_USAGE_METRIC_OLD;
          sums[name] = seen.has(name) ? (kv ? Math.max(sums[name], value) : sums[name] + value) : value;
          seen.add(name);
        }
      }
    }
    start = end + 1;
  }
  if (!seen.has(WAITING_METRIC) && !seen.has(RUNNING_METRIC))
    return { ok: false, error: `no ${RUNNING_METRIC} or ${WAITING_METRIC} sample with a valid value` };
  const kv = seen.has(KV_USAGE_METRIC)
    ? sums[KV_USAGE_METRIC]
    : seen.has(KV_USAGE_METRIC_OLD)
      ? sums[KV_USAGE_METRIC_OLD]
      : undefined;
  return {
    ok: true,
    signals: {
      waiting: seen.has(WAITING_METRIC) ? sums[WAITING_METRIC] : 0,
      running: seen.has(RUNNING_METRIC) ? sums[RUNNING_METRIC] : 0,
      kvCacheUsage: kv === undefined ? undefined : Math.min(1, kv),
    },
  };
}
