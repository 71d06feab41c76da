import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { parsePodGauges } from './pod-gauges.ts';

const VLLM_TEXT = `# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="meta-llama/Llama-3.1-8B-Instruct"} 3.0
# HELP vllm:num_requests_waiting Number of requests waiting to be processed.
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{engine="0",model_name="meta-llama/Llama-3.1-8B-Instruct"} 7.0
# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{engine="0",model_name="meta-llama/Llama-3.1-8B-Instruct"} 0.42
vllm:num_requests_running_total_not_this 99
vllm:time_to_first_token_seconds_bucket{le="0.001",model_name="m"} 12
`;

describe('parsePodGauges', () => {
  test("reads vLLM's running, waiting and KV-cache gauges", () => {
    expect(parsePodGauges(VLLM_TEXT)).toEqual({ ok: true, signals: { running: 3, waiting: 7, kvCacheUsage: 0.42 } });
  });

  test('sums the queue over model_name and engine series; KV usage is the fullest engine', () => {
    const text = [
      'vllm:num_requests_running{engine="0",model_name="a"} 2',
      'vllm:num_requests_running{engine="1",model_name="a"} 5',
      'vllm:num_requests_waiting{engine="0",model_name="a"} 1',
      'vllm:num_requests_waiting{engine="1",model_name="a"} 0',
      'vllm:kv_cache_usage_perc{engine="0",model_name="a"} 0.2',
      'vllm:kv_cache_usage_perc{engine="1",model_name="a"} 0.9',
    ].join('\n');
    expect(parsePodGauges(text)).toEqual({ ok: true, signals: { running: 7, waiting: 1, kvCacheUsage: 0.9 } });
  });

  test('older vLLM: vllm:gpu_cache_usage_perc when the new name is absent; the new name wins when both are there', () => {
    const old = 'vllm:num_requests_running{model_name="m"} 1\nvllm:gpu_cache_usage_perc{model_name="m"} 0.75\n';
    expect(parsePodGauges(old)).toEqual({ ok: true, signals: { running: 1, waiting: 0, kvCacheUsage: 0.75 } });
    const both = `${old}vllm:kv_cache_usage_perc{model_name="m"} 0.5\n`;
    expect(parsePodGauges(both)).toEqual({ ok: true, signals: { running: 1, waiting: 0, kvCacheUsage: 0.5 } });
  });

  test('no KV gauge: usage unknown, not 0', () => {
    expect(parsePodGauges('vllm:num_requests_waiting 4\n')).toEqual({
      ok: true,
      signals: { running: 0, waiting: 4, kvCacheUsage: undefined },
    });
  });

  test('label values holding braces, quotes and spaces; timestamps; CRLF line ends', () => {
    const text =
      'vllm:num_requests_running{model_name="a} \\"b\\" {c"} 2 1700000000000\r\n' +
      'vllm:num_requests_waiting{model_name="x"} +Inf\r\n' +
      'vllm:num_requests_waiting{model_name="y"} 1e1\r\n';
    expect(parsePodGauges(text)).toEqual({ ok: true, signals: { running: 2, waiting: 10, kvCacheUsage: undefined } });
  });

  test('samples that are not finite numbers >= 0 are skipped; a KV usage above 1 is capped', () => {
    const text = [
      'vllm:num_requests_running NaN',
      'vllm:num_requests_running -3',
      'vllm:num_requests_running 0x10',
      'vllm:num_requests_running ',
      'vllm:num_requests_running{model_name="unterminated 5',
      'vllm:num_requests_running 4',
      'vllm:kv_cache_usage_perc 1.5',
    ].join('\n');
    expect(parsePodGauges(text)).toEqual({ ok: true, signals: { running: 4, waiting: 0, kvCacheUsage: 1 } });
  });

  test('an exposition without the queue gauges is an error, never a pod at zero', () => {
    for (const text of ['', 'not metrics at all', '<html>502 Bad Gateway</html>', 'vllm:kv_cache_usage_perc 0.3\n']) {
      const r = parsePodGauges(text);
      expect(r.ok, text).toBe(false);
      if (!r.ok) expect(r.error).toContain('vllm:num_requests_running');
    }
  });

  test('never throws, whatever the text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (s) => {
        const r = parsePodGauges(`vllm:num_requests_running${s}\n${s}`);
        if (r.ok) {
          expect(Number.isFinite(r.signals.running) && r.signals.running >= 0).toBe(true);
          expect(Number.isFinite(r.signals.waiting) && r.signals.waiting >= 0).toBe(true);
        }
      }),
    );
  });
});
