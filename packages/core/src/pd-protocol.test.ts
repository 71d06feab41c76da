import { describe, expect, test } from 'vitest';
import {
  buildDecodeBody,
  buildPrefillBody,
  extractKvTransferParams,
  isPdRoute,
  newRequestId,
  PREFILL_KV_TRANSFER_PARAMS,
} from './pd-protocol.ts';

const kvPrefill = {
  do_remote_decode: true,
  do_remote_prefill: false,
  remote_engine_id: null,
  remote_block_ids: null,
  remote_host: null,
  remote_port: null,
};

function frozenCopy<T>(value: T): T {
  return structuredClone(value);
}

describe('buildPrefillBody', () => {
  test('completions: stream off, one token, kv params, other fields kept', () => {
    const body = {
      model: 'm',
      prompt: 'hello',
      max_tokens: 100,
      stream: true,
      stream_options: { include_usage: true },
      min_tokens: 10,
      temperature: 0,
      ignore_eos: true,
    };
    const before = frozenCopy(body);
    const out = buildPrefillBody('/v1/completions', body);
    expect(out).toEqual({
      model: 'm',
      prompt: 'hello',
      max_tokens: 1,
      stream: false,
      temperature: 0,
      ignore_eos: true,
      kv_transfer_params: kvPrefill,
    });
    expect(body).toEqual(before);
  });

  test('max_completion_tokens is set to 1 only when present', () => {
    const chat = { messages: [{ role: 'user', content: 'x' }], max_completion_tokens: 50, min_completion_tokens: 5 };
    const before = frozenCopy(chat);
    const out = buildPrefillBody('/v1/chat/completions', chat);
    expect(out.max_completion_tokens).toBe(1);
    expect(out.max_tokens).toBe(1);
    expect('min_completion_tokens' in out).toBe(false);
    expect(chat).toEqual(before);
    const without = buildPrefillBody('/v1/chat/completions', { messages: [] });
    expect('max_completion_tokens' in without).toBe(false);
    expect(without.max_tokens).toBe(1);
    expect(without.stream).toBe(false);
    expect('stream_options' in without).toBe(false);
  });

  test('responses: max_output_tokens is 1 and max_tokens is not added', () => {
    const body = { input: 'hi', max_output_tokens: 300, stream: true };
    const out = buildPrefillBody('/v1/responses', body);
    expect(out).toEqual({ input: 'hi', max_output_tokens: 1, stream: false, kv_transfer_params: kvPrefill });
    expect(body.max_output_tokens).toBe(300);
  });

  test('kv params are a fresh object, not the shared constant; a client kv_transfer_params is replaced', () => {
    const out = buildPrefillBody('/v1/completions', { prompt: 'x', kv_transfer_params: { evil: true } });
    expect(out.kv_transfer_params).toEqual(PREFILL_KV_TRANSFER_PARAMS);
    expect(out.kv_transfer_params).not.toBe(PREFILL_KV_TRANSFER_PARAMS);
    expect(Object.isFrozen(PREFILL_KV_TRANSFER_PARAMS)).toBe(true);
  });
});

describe('buildDecodeBody', () => {
  test('the original body plus the prefill kv params, verbatim', () => {
    const body = { prompt: 'x', max_tokens: 100, stream: true, stream_options: { include_usage: true }, min_tokens: 3 };
    const before = frozenCopy(body);
    const kv = {
      do_remote_prefill: true,
      do_remote_decode: false,
      remote_engine_id: 'e1',
      remote_block_ids: [1, 2, 3],
      remote_host: '10.0.0.1',
      remote_port: 5600,
      remote_request_id: 'r',
      tp_size: 1,
    };
    const out = buildDecodeBody('/v1/completions', body, kv);
    expect(out).toEqual({ ...before, kv_transfer_params: kv });
    expect(out.kv_transfer_params).toBe(kv);
    expect(body).toEqual(before);
  });
});

describe('extractKvTransferParams', () => {
  test('only a top-level object counts', () => {
    expect(extractKvTransferParams({ id: 'x', kv_transfer_params: { remote_engine_id: 'e' } })).toEqual({
      remote_engine_id: 'e',
    });
    expect(extractKvTransferParams({ error: { message: 'boom' } })).toBeUndefined();
    expect(extractKvTransferParams({ kv_transfer_params: null })).toBeUndefined();
    expect(extractKvTransferParams({ kv_transfer_params: [1] })).toBeUndefined();
    expect(extractKvTransferParams('text')).toBeUndefined();
    expect(extractKvTransferParams(null)).toBeUndefined();
  });
});

describe('request ids and routes', () => {
  test('uuid v4, unique', () => {
    const a = newRequestId();
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(newRequestId()).not.toBe(a);
  });

  test('isPdRoute', () => {
    expect(isPdRoute('/v1/completions')).toBe(true);
    expect(isPdRoute('/v1/models')).toBe(false);
  });
});
