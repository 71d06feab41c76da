import { describe, expect, it } from 'vitest';
import { connectNats } from '../src/index.ts';

describe('connectNats', () => {
  it('fails with a clear message when nothing listens', async () => {
    await expect(connectNats({ url: 'nats://127.0.0.1:1', name: 't' })).rejects.toThrow(
      /cannot connect to NATS at nats:\/\/127\.0\.0\.1:1/,
    );
  });

  it('fails with a clear message when the credentials file is missing', async () => {
    await expect(
      connectNats({ url: 'nats://127.0.0.1:1', name: 't', credsFile: '/nonexistent/x.creds' }),
    ).rejects.toThrow(/cannot read NATS credentials file \/nonexistent\/x\.creds/);
  });

  it('rejects an empty URL', async () => {
    await expect(connectNats({ url: ' , ', name: 't' })).rejects.toThrow(/NATS URL is empty/);
  });
});
