/** Reads Prometheus' text exposition format (what prom-client and vLLM serve on /metrics), for tests and bench. */

export interface Sample {
  /** The sample's name, with any _bucket/_sum/_count suffix. */
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

const SAMPLE_LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL_PAIR = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

function unescapeLabel(value: string): string {
  return value.replace(/\\(["\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c));
}

/** Every sample line; comments (# HELP, # TYPE) and blank lines are skipped. */
export function parsePrometheusText(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = SAMPLE_LINE.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const pair of (m[2] ?? '').matchAll(LABEL_PAIR)) labels[pair[1] as string] = unescapeLabel(pair[2] as string);
    const value =
      m[3] === '+Inf' ? Number.POSITIVE_INFINITY : m[3] === '-Inf' ? Number.NEGATIVE_INFINITY : Number(m[3]);
    samples.push({ name: m[1] as string, labels, value });
  }
  return samples;
}

/** The samples named `name` whose labels include every one of `labels`. */
export function matchingSamples(text: string, name: string, labels: Record<string, string> = {}): Sample[] {
  return parsePrometheusText(text).filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
}

/** The sum of the matching samples, or undefined when none matches. */
export function sampleValue(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  const found = matchingSamples(text, name, labels);
  return found.length === 0 ? undefined : found.reduce((acc, s) => acc + s.value, 0);
}

/** The sum of the matching samples, 0 when none matches (a counter not yet incremented). */
export function metricSum(text: string, name: string, labels: Record<string, string> = {}): number {
  return sampleValue(text, name, labels) ?? 0;
}
