import { describe, expect, it } from 'vitest';
import { DEFAULT_SNAPSHOT_BUCKET, parseNatsSnapshotUrl } from '../src/index.ts';

describe('parseNatsSnapshotUrl', () => {
  it('splits server, pool and bucket', () => {
    expect(parseNatsSnapshotUrl('nats://127.0.0.1:4222/default')).toEqual({
      natsUrl: 'nats://127.0.0.1:4222',
      pool: 'default',
      bucket: DEFAULT_SNAPSHOT_BUCKET,
    });
    expect(parseNatsSnapshotUrl('tls://u:p@nats.example:4443/pool-b?bucket=other')).toEqual({
      natsUrl: 'tls://u:p@nats.example:4443',
      pool: 'pool-b',
      bucket: 'other',
    });
  });

  it('takes the default pool when the URL names none, and only then', () => {
    expect(parseNatsSnapshotUrl('nats://h:1', 'fallback').pool).toBe('fallback');
    expect(parseNatsSnapshotUrl('nats://h:1/', 'fallback').pool).toBe('fallback');
    expect(parseNatsSnapshotUrl('nats://h:1/named', 'fallback').pool).toBe('named');
  });

  it.each([
    ['http://h:1/p', /unsupported scheme http:/],
    ['nats://h:1', /missing pool/],
    ['nats://h:1/a/b', /may not contain/],
    ['not a url', /not a URL/],
  ])('rejects %s', (input, message) => {
    expect(() => parseNatsSnapshotUrl(input)).toThrow(message);
  });
});
