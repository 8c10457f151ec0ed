/**
 * The OTLP sink: a payload as one OTLP/HTTP protobuf `ExportMetricsServiceRequest`, POSTed
 * with the sinks' HTTP transport (TLS, auth, timeouts, retries and backoff as for the
 * other destinations). The wire format comes from `otlp-encode.ts`, which loads the
 * OpenTelemetry packages only when an otlp destination sends.
 *
 * Spec: https://opentelemetry.io/docs/specs/otlp/#otlphttp
 */
import { gzipSync } from 'node:zlib';
import { maskUrl, SinkError } from '../errors.js';
import { type HttpRequest, sendHttp } from './http.js';
import { buildResourceMetrics, parseOtlpResponse, serializeResourceMetrics } from './otlp-encode.js';
import type { MetricsPayload, OtlpDestination, SendOptions } from './types.js';

/** Content-Type of an OTLP/HTTP protobuf request. */
export const OTLP_CONTENT_TYPE = 'application/x-protobuf';

/**
 * Sends a payload to an OTLP/HTTP metrics endpoint (an OpenTelemetry Collector's
 * `/v1/metrics`, Prometheus 3's `/api/v1/otlp/v1/metrics`, VictoriaMetrics'
 * `/opentelemetry/v1/metrics`, a hosted OTLP store...). Every data point is at
 * `payload.measuredAt`, so a payload that waited in the outbox keeps its time. OTLP has
 * no delete: a `delete` payload does nothing (the series go stale on their own).
 *
 * @throws InvalidMetricsError for a payload OTLP cannot carry (before any network call)
 * @throws SinkError when the endpoint refuses it (4xx other than 429: not retryable), answers
 *   with a partial success that rejected data points (not retryable), or cannot be reached
 *   after the retries
 */
export async function sendOtlp(
  payload: MetricsPayload,
  target: OtlpDestination,
  opts: SendOptions = {},
): Promise<void> {
  if (payload.method === 'delete') return;
  const raw = await serializeResourceMetrics(await buildResourceMetrics(payload));
  const req: HttpRequest = {
    method: 'POST',
    url: target.url,
    body: target.gzip ? gzipSync(raw) : raw,
    headers: {
      'Content-Type': OTLP_CONTENT_TYPE,
      ...(target.gzip ? { 'Content-Encoding': 'gzip' } : {}),
    },
    action: 'sending OTLP to',
  };
  const res = await sendHttp(req, target, opts);
  // A 200 may still say that some points were not taken; OTLP says not to send them again.
  const partial = await parseOtlpResponse(res.bytes);
  if (partial) {
    const url = maskUrl(target.url);
    const body = `rejected ${partial.rejectedDataPoints} data point(s)${partial.errorMessage ? `: ${partial.errorMessage}` : ''}`;
    throw new SinkError(`${url} ${body}`, {
      url,
      status: res.status,
      body,
      isRetryable: false,
      kind: 'status',
    });
  }
}
