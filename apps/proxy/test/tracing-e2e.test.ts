// --enable-trace against a real OTLP/HTTP receiver started here: the proxy's exporter posts JSON to
// /v1/traces and the test decodes what arrives. One server span per request, continued from the
// client's traceparent; one client span per leg, whose traceparent is what the pod received.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { minimalPdPod, startTestProxy } from './test-proxy.ts';

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: { key: string; value: OtlpValue }[];
}
interface OtlpExport {
  resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[];
}

const SERVER = 2;
const CLIENT = 3;
const received: OtlpSpan[] = [];
const contentTypes: string[] = [];
let receiver: Server;
let receiverAddress: string;
const podHeaders: IncomingHttpHeaders[] = [];

const pod = minimalPdPod(podHeaders);

const attr = (span: OtlpSpan, key: string): string | number | boolean | undefined => {
  const v = span.attributes.find((a) => a.key === key)?.value;
  if (v === undefined) return undefined;
  if (v.intValue !== undefined) return Number(v.intValue);
  return v.stringValue ?? v.boolValue;
};

beforeAll(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.url === '/v1/traces') {
        contentTypes.push(req.headers['content-type'] ?? '');
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as OtlpExport;
        for (const rs of body.resourceSpans) for (const ss of rs.scopeSpans) received.push(...ss.spans);
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  receiverAddress = `127.0.0.1:${(receiver.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((r) => receiver.close(() => r()));
});

const completion = (url: string, headers: Record<string, string> = {}) =>
  request(`${url}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model: 'm', prompt: 'hi', max_tokens: 2, stream: true }),
  });

describe('--enable-trace', () => {
  it('exports a request span continuing the client trace, with a child span per leg sent to the pod', async () => {
    received.length = 0;
    podHeaders.length = 0;
    const fixture = await startTestProxy(pod, {
      flags: ['--enable-trace', '--otlp-traces-endpoint', receiverAddress, '--otel-sampling-ratio', '0'],
    });
    const clientTrace = '4bf92f3577b34da6a3ce929d0e0e4736';
    const clientSpan = '00f067aa0ba902b7';
    const res = await completion(fixture.url, { traceparent: `00-${clientTrace}-${clientSpan}-01` });
    expect(await res.body.text()).toContain('[DONE]');
    // Unsampled by the ratio (0) and without a sampled parent: nothing is exported for this one.
    const unsampled = await completion(fixture.url);
    await unsampled.body.text();
    await fixture.close(); // flushes the exporter

    expect(contentTypes.every((t) => t.startsWith('application/json'))).toBe(true);
    const server = received.filter((s) => s.kind === SERVER);
    expect(server).toHaveLength(1);
    const root = server[0] as OtlpSpan;
    expect(root.traceId).toBe(clientTrace);
    expect(root.parentSpanId).toBe(clientSpan);
    expect(root.name).toBe('POST /v1/completions');
    expect(attr(root, 'http.response.status_code')).toBe(200);

    const legs = received.filter((s) => s.kind === CLIENT);
    expect(legs.map((s) => attr(s, 'pdrouter.role')).sort()).toEqual(['decode', 'prefill']);
    for (const leg of legs) {
      expect(leg.traceId).toBe(clientTrace);
      expect(leg.parentSpanId).toBe(root.spanId);
      expect(attr(leg, 'pdrouter.attempt')).toBe(0);
      expect(attr(leg, 'http.response.status_code')).toBe(200);
      expect(attr(leg, 'pdrouter.kv_transfer_params')).toBe(true);
      expect(String(attr(leg, 'pdrouter.pod'))).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    }
    // Each leg's pod got that leg's span as its parent.
    const sent = podHeaders.slice(0, 2).map((h) => h.traceparent);
    expect(sent.sort()).toEqual(legs.map((l) => `00-${clientTrace}-${l.spanId}-01`).sort());
  });

  it('samples new traces at --otel-sampling-ratio and skips --otel-excluded-paths', async () => {
    received.length = 0;
    const fixture = await startTestProxy(pod, {
      flags: [
        '--enable-trace',
        '--otlp-traces-endpoint',
        `http://${receiverAddress}`,
        '--otel-excluded-paths',
        '/v1/chat/completions',
      ],
    });
    await (await completion(fixture.url)).body.text();
    const chat = await request(`${fixture.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }], stream: true }),
    });
    await chat.body.text();
    await fixture.close();
    const server = received.filter((s) => s.kind === SERVER);
    expect(server.map((s) => s.name)).toEqual(['POST /v1/completions']);
    expect(server[0]?.parentSpanId ?? '').toBe('');
  });

  it("with tracing off the client's traceparent reaches the pods unchanged", async () => {
    podHeaders.length = 0;
    const fixture = await startTestProxy(pod);
    await (
      await completion(fixture.url, { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' })
    ).body.text();
    await fixture.close();
    // The client's own traceparent is an end-to-end header and passes through unchanged.
    expect(podHeaders.map((h) => h.traceparent)).toEqual([
      '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    ]);
  });
});
