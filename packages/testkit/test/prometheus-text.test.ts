import { describe, expect, it } from 'vitest';
import { matchingSamples, metricSum, parsePrometheusText, sampleValue } from '../src/index.ts';

const TEXT = `# HELP req_total Requests.
# TYPE req_total counter
req_total{route="/v1/completions",status="200"} 3
req_total{route="/v1/completions",status="503"} 1
req_total{route="/v1/chat/completions",status="200"} 2
req_total_extra 99
latency_seconds_bucket{le="0.1"} 4
latency_seconds_bucket{le="+Inf"} 5
latency_seconds_sum 1.25
latency_seconds_count 5
gauge_with_timestamp 7 1700000000000
escaped{path="a\\"b\\\\c"} 1
`;

describe('Prometheus text', () => {
  it('parses names, labels (unescaped) and values, skipping comments', () => {
    const samples = parsePrometheusText(TEXT);
    expect(samples).toHaveLength(10);
    expect(samples[0]).toEqual({ name: 'req_total', labels: { route: '/v1/completions', status: '200' }, value: 3 });
    expect(samples.find((s) => s.name === 'latency_seconds_bucket' && s.labels.le === '+Inf')?.value).toBe(5);
    expect(samples.find((s) => s.name === 'gauge_with_timestamp')?.value).toBe(7);
    expect(samples.find((s) => s.name === 'escaped')?.labels.path).toBe('a"b\\c');
  });

  it('sums the samples whose labels include the ones asked for, by exact name', () => {
    expect(metricSum(TEXT, 'req_total')).toBe(6);
    expect(metricSum(TEXT, 'req_total', { status: '200' })).toBe(5);
    expect(metricSum(TEXT, 'req_total', { route: '/v1/completions', status: '503' })).toBe(1);
    expect(matchingSamples(TEXT, 'req_total', { status: '404' })).toEqual([]);
    expect(metricSum(TEXT, 'req_total', { status: '404' })).toBe(0);
    expect(sampleValue(TEXT, 'req_total', { status: '404' })).toBeUndefined();
    expect(sampleValue(TEXT, 'latency_seconds_sum')).toBe(1.25);
  });
});
