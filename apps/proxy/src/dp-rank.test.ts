// --intra-node-data-parallel-size N: the router picks the rank (each pod is N ring members url@0..url@N-1)
// and sends it to vLLM in X-data-parallel-rank on both legs; a client's own header never reaches the pod.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestProxy, type TestProxy } from '../test/test-proxy.ts';

const KV = { remote_engine_id: 'e', remote_block_ids: [1], remote_host: '127.0.0.1', remote_port: 1 };

describe('data-parallel ranks', () => {
  let fixture: TestProxy;
  const seen: { rank: string | string[] | undefined; prefill: boolean }[] = [];
  beforeAll(async () => {
    fixture = await startTestProxy(
      (req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { kv_transfer_params?: unknown };
          const prefill = (body.kv_transfer_params as { do_remote_decode?: boolean } | undefined)?.do_remote_decode;
          seen.push({ rank: req.headers['x-data-parallel-rank'], prefill: prefill === true });
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ choices: [{ text: 'ok' }], kv_transfer_params: KV }));
        });
      },
      { flags: ['--intra-node-data-parallel-size', '4'] },
    );
  });
  afterAll(() => fixture.close());

  it('sends the chosen rank (0..N-1) on both legs instead of the client’s', async () => {
    for (let i = 0; i < 24; i++) {
      const res = await fetch(`${fixture.url}/v1/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-data-parallel-rank': '7' },
        body: JSON.stringify({ prompt: `user: s${i}, hi` }),
      });
      expect(res.status).toBe(200);
      await res.text();
    }
    expect(seen).toHaveLength(48);
    expect(seen.filter((s) => s.prefill)).toHaveLength(24);
    const ranks = new Set(seen.map((s) => s.rank));
    for (const r of ranks) expect(['0', '1', '2', '3']).toContain(r);
    // 24 sessions over 4 ranks of one pod: more than one rank is used.
    expect(ranks.size).toBeGreaterThan(1);
  });
});
