// OpenTelemetry tracing (--enable-trace): one SERVER span per generation request, continued from the
// client's W3C traceparent, and one CLIENT span per leg (role, pod, attempt, status, whether kv transfer
// params travelled), whose traceparent goes to the pod. Spans are exported over OTLP/HTTP (JSON) in
// batches. vllm-router exports OTLP over gRPC to host:port; here --otlp-traces-endpoint is the collector's
// OTLP/HTTP address (port 4318 by convention), `/v1/traces` appended when it has no path.
// With tracing off nothing here is created: the request path checks one `undefined`.
import {
  type Context,
  defaultTextMapGetter,
  defaultTextMapSetter,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { type TracingSettings, tracesUrl } from './tracing-settings.ts';

/** How long finished spans wait before a batch is sent. */
export const TRACE_EXPORT_DELAY_MS = 1000;
const SHUTDOWN_TIMEOUT_MS = 5000;

type Headers = Readonly<Record<string, string | string[] | undefined>>;

export interface LegEnd {
  status?: number;
  failure?: string;
  kvTransferParams?: boolean;
}

export class LegTrace {
  /** traceparent (and tracestate) for the pod. */
  readonly headers: Record<string, string> = {};
  private readonly span: Span;

  constructor(span: Span, ctx: Context, propagator: W3CTraceContextPropagator) {
    this.span = span;
    propagator.inject(trace.setSpan(ctx, span), this.headers, defaultTextMapSetter);
  }

  status(status: number): void {
    this.span.setAttribute('http.response.status_code', status);
  }

  end(e: LegEnd): void {
    if (e.status !== undefined) this.span.setAttribute('http.response.status_code', e.status);
    if (e.kvTransferParams !== undefined) this.span.setAttribute('pdrouter.kv_transfer_params', e.kvTransferParams);
    if (e.failure !== undefined) {
      this.span.setAttribute('error.type', e.failure);
      this.span.setStatus({ code: SpanStatusCode.ERROR, message: e.failure });
    }
    this.span.end();
  }
}

export class RequestTrace {
  private readonly span: Span;
  private readonly ctx: Context;
  private readonly tracing: Tracing;

  constructor(tracing: Tracing, span: Span, parent: Context) {
    this.tracing = tracing;
    this.span = span;
    this.ctx = trace.setSpan(parent, span);
  }

  leg(role: string, pod: string, attempt: number): LegTrace {
    const span = this.tracing.tracer.startSpan(
      `${role} leg`,
      {
        kind: SpanKind.CLIENT,
        attributes: { 'pdrouter.role': role, 'pdrouter.pod': pod, 'pdrouter.attempt': attempt, 'server.address': pod },
      },
      this.ctx,
    );
    return new LegTrace(span, this.ctx, this.tracing.propagator);
  }

  status(status: number): void {
    this.span.setAttribute('http.response.status_code', status);
    if (status >= 500) this.span.setStatus({ code: SpanStatusCode.ERROR });
  }

  fail(code: string, status: number): void {
    this.span.setAttribute('error.type', code);
    this.status(status);
    if (status < 500) return;
    this.span.setStatus({ code: SpanStatusCode.ERROR, message: code });
  }

  end(): void {
    this.span.end();
  }
}

export class Tracing {
  readonly tracer;
  readonly propagator = new W3CTraceContextPropagator();
  private readonly provider: TracerProvider;
  private readonly excluded: ReadonlySet<string>;

  constructor(settings: TracingSettings) {
    this.excluded = new Set(settings.excludedPaths);
    const exporter = new OTLPTraceExporter(settings.endpoint ? { url: tracesUrl(settings.endpoint) } : {});
    this.provider = new TracerProvider({
      // Parent-based, as vllm-router's: a sampled client trace is always continued.
      sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(settings.samplingRatio) }),
      resource: resourceFromAttributes({ 'service.name': 'pdrouter' }),
      spanProcessors: [new BatchSpanProcessor({ exporter, scheduledDelayMillis: TRACE_EXPORT_DELAY_MS })],
    });
    this.tracer = this.provider.getTracer('pdrouter');
  }

  /** The request's span, continued from the client's traceparent; undefined for an excluded path. */
  startRequest(route: string, headers: Headers): RequestTrace | undefined {
    if (this.excluded.has(route)) return undefined;
    const carrier: Record<string, string> = {};
    for (const name of ['traceparent', 'tracestate']) {
      const v = headers[name];
      if (v !== undefined) carrier[name] = Array.isArray(v) ? (v[0] ?? '') : v;
    }
    const parent = this.propagator.extract(ROOT_CONTEXT, carrier, defaultTextMapGetter);
    const span = this.tracer.startSpan(
      `POST ${route}`,
      { kind: SpanKind.SERVER, attributes: { 'http.request.method': 'POST', 'http.route': route } },
      parent,
    );
    return new RequestTrace(this, span, parent);
  }

  /** Sends the spans still buffered. */
  async shutdown(): Promise<void> {
    await Promise.race([
      this.provider.shutdown(),
      new Promise<void>((resolve) => setTimeout(resolve, SHUTDOWN_TIMEOUT_MS).unref()),
    ]);
  }
}
