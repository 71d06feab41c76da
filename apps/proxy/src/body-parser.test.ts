// Large bodies are prepared on a worker thread: the same result as on the event loop, errors as RouterError.
import { RouterError } from '@pdrouter/core';
import { afterAll, describe, expect, it } from 'vitest';
import { BODY_WORKER_MIN_BYTES, BodyParser } from './body-parser.ts';
import { type PrepareOptions, prepareBody } from './prepare-body.ts';

const parser = new BodyParser(1);
afterAll(() => parser.close());

const OPTIONS: PrepareOptions = {
  route: '/v1/chat/completions',
  prefill: true,
  hashKey: { mode: 'vllm-router', headers: { 'x-session-id': 's1' } },
};

describe('body preparation off the event loop', () => {
  it('gives a large body the same bytes, object, hash and prefill body as on the loop', async () => {
    const text = 'é漢 '.repeat(BODY_WORKER_MIN_BYTES);
    const received = Buffer.from(
      JSON.stringify({ model: 'm', messages: [{ role: 'user', content: text }], kv_transfer_params: { x: 1 } }),
    );
    expect(received.length).toBeGreaterThan(BODY_WORKER_MIN_BYTES);
    const onLoop = prepareBody(received, OPTIONS);
    const offLoop = await parser.prepare(received, OPTIONS);
    expect(offLoop.body).toEqual(onLoop.body);
    expect(offLoop.body.kv_transfer_params).toBeUndefined();
    expect(offLoop.raw.equals(onLoop.raw)).toBe(true);
    expect(offLoop.hash).toEqual(onLoop.hash);
    expect(offLoop.prefillBody?.equals(onLoop.prefillBody as Buffer)).toBe(true);
  });

  it('hashes the routing text into prefix blocks off the loop as on it (scoring policies, selective P/D)', async () => {
    const received = Buffer.from(
      JSON.stringify({
        model: 'm',
        messages: [
          { role: 'system', content: 'policy '.repeat(BODY_WORKER_MIN_BYTES / 4) },
          { role: 'user', content: 'hello' },
        ],
      }),
    );
    const options = { ...OPTIONS, prefix: true };
    const onLoop = prepareBody(received, options);
    const offLoop = await parser.prepare(received, options);
    expect(onLoop.prefix?.hashes.length).toBeGreaterThan(100);
    expect(offLoop.prefix).toEqual(onLoop.prefix);
    expect(offLoop.promptTokens).toBe(onLoop.promptTokens);
    expect(onLoop.promptTokens).toBe(Math.ceil((onLoop.prefix?.chars ?? 0) / 4));
    expect(prepareBody(received, OPTIONS).prefix).toBeUndefined();
  });

  it('keeps the received bytes when nothing was removed', async () => {
    const received = Buffer.from(JSON.stringify({ model: 'm', prompt: 'x'.repeat(BODY_WORKER_MIN_BYTES) }));
    const p = await parser.prepare(received, { route: '/v1/completions', prefill: false });
    expect(p.raw).toBe(received);
    expect(p.prefillBody).toBeUndefined();
  });

  it('rejects a bad large body with the RouterError the loop would throw', async () => {
    const received = Buffer.from(`{"model":"m","prompt":"${'x'.repeat(BODY_WORKER_MIN_BYTES)}"`);
    let onLoop: unknown;
    try {
      prepareBody(received, OPTIONS);
    } catch (err) {
      onLoop = err;
    }
    const offLoop = await parser.prepare(received, OPTIONS).catch((err: unknown) => err);
    expect(offLoop).toBeInstanceOf(RouterError);
    expect((offLoop as RouterError).code).toBe((onLoop as RouterError).code);
    expect((offLoop as RouterError).status).toBe(400);
    expect((offLoop as RouterError).message).toBe((onLoop as RouterError).message);
  });

  it('missing required field from a worker keeps its param', async () => {
    const received = Buffer.from(JSON.stringify({ model: 'm', pad: 'x'.repeat(BODY_WORKER_MIN_BYTES) }));
    const err = (await parser.prepare(received, OPTIONS).catch((e: unknown) => e)) as RouterError;
    expect(err.param).toBe('messages');
  });
});
