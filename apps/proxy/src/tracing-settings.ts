// What --enable-trace and its flags configure, apart from tracing.ts so the configuration loads no OpenTelemetry code.

export interface TracingSettings {
  /** OTLP/HTTP traces URL; undefined: OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT or the exporter's default. */
  readonly endpoint?: string;
  readonly samplingRatio: number;
  readonly excludedPaths: readonly string[];
}

/** `host:port`, `http://host:port` or a full URL, as the OTLP/HTTP traces URL. */
export function tracesUrl(endpoint: string): string {
  const url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(endpoint) ? endpoint : `http://${endpoint}`);
  if (url.pathname === '/' || url.pathname === '') url.pathname = '/v1/traces';
  return url.toString();
}
