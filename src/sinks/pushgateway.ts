/**
 * The Pushgateway sink: push (PUT, replace the group), add (POST, replace the
 * same-named families) and delete (DELETE, drop the group).
 *
 * Spec: https://github.com/prometheus/pushgateway#api
 */
import { gzipSync } from 'node:zlib';
import type { Registry, RegistryContentType } from 'prom-client';
import { InvalidMetricsError, maskUrl, SinkError } from '../errors.js';
import { registryToText } from '../metrics/registry.js';
import { toBatch } from './batch.js';
import { encodeGroupingPath } from './grouping-key.js';
import { type HttpRequest, sendHttp } from './http.js';
import type {
  HttpOptions,
  MetricsBatch,
  MetricsPayload,
  PushgatewayTarget,
  PushMethod,
  SendOptions,
} from './types.js';

/** Content-Type of a text format 0.0.4 body. */
export const TEXT_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** The URL of a group on a gateway: the base URL (its path kept) plus `/metrics/job/...`. */
export function groupUrl(baseUrl: string, job: string, grouping: Record<string, string>): string {
  const path = encodeGroupingPath(job, grouping);
  let u: URL;
  try {
    u = new URL(baseUrl);
  } catch (err) {
    const shown = maskUrl(baseUrl);
    throw new SinkError(
      `invalid Pushgateway URL ${shown}`,
      { url: shown, isRetryable: true, kind: 'setup' },
      { cause: err },
    );
  }
  // Keep a path prefix (a gateway behind a reverse proxy at /pushgateway).
  u.pathname = `${u.pathname.replace(/\/+$/, '')}${path}`;
  return u.toString();
}

/**
 * Sends a payload to one gateway. The body is validated first (the grouping
 * labels and `job` must not be on any sample; no timestamps) so a bad payload
 * never reaches the network; a {@link MetricsBatch} is already validated and its
 * text is sent as it is.
 *
 * @throws InvalidMetricsError for an invalid payload; SinkError from the gateway
 */
export async function sendToPushgateway(
  payload: MetricsPayload | MetricsBatch,
  target: PushgatewayTarget,
  opts: SendOptions = {},
): Promise<void> {
  const method: PushMethod = payload.method ?? 'post';
  const url = groupUrl(target.url, payload.job, payload.grouping);
  if (method === 'delete') {
    await sendHttp({ method: 'DELETE', url, action: 'deleting' }, target, opts);
    return;
  }
  toBatch(payload);
  const raw = Buffer.from(payload.text, 'utf8');
  const req: HttpRequest = {
    method: method === 'put' ? 'PUT' : 'POST',
    url,
    headers: { 'Content-Type': TEXT_CONTENT_TYPE },
    body: target.gzip ? gzipSync(raw) : raw,
    action: 'pushing to',
  };
  if (target.gzip) (req.headers as Record<string, string>)['Content-Encoding'] = 'gzip';
  await sendHttp(req, target, opts);
}

/** Options of {@link pushToGateway}, {@link addToGateway} and {@link deleteFromGateway}. */
export interface GatewayOptions extends HttpOptions, SendOptions {
  /** Base URL of the gateway, e.g. `https://pushgateway.example:9091`. */
  url: string;
  /** The `job` label of the group. */
  job: string;
  /** Grouping labels beyond `job`, e.g. `{ instance: 'daily' }`. @default {} */
  grouping?: Record<string, string>;
  /** The metrics, from a prom-client registry (ignored by delete). */
  registry?: Registry<RegistryContentType>;
  /** The metrics as text exposition format 0.0.4 (ignored by delete). */
  text?: string;
}

async function bodyOf(opts: GatewayOptions): Promise<string> {
  if (opts.registry && opts.text !== undefined)
    throw new InvalidMetricsError('give either registry or text, not both');
  if (opts.registry) return registryToText(opts.registry);
  if (opts.text !== undefined) return opts.text;
  throw new InvalidMetricsError('give the metrics as registry or text');
}

async function gatewayCall(method: PushMethod, opts: GatewayOptions): Promise<void> {
  const {
    url,
    job,
    grouping = {},
    registry: _r,
    text: _t,
    fetch,
    signal,
    env,
    sleep,
    random,
    onRetry,
    ...http
  } = opts;
  const text = method === 'delete' ? '' : await bodyOf(opts);
  const send: SendOptions = {};
  if (fetch) send.fetch = fetch;
  if (signal) send.signal = signal;
  if (env) send.env = env;
  if (sleep) send.sleep = sleep;
  if (random) send.random = random;
  if (onRetry) send.onRetry = onRetry;
  await sendToPushgateway(
    { text, job, grouping, method, measuredAt: Date.now() },
    { ...http, kind: 'pushgateway', url },
    send,
  );
}

/**
 * Pushes metrics with PUT: they replace every metric of the group
 * (client_golang's `Push`).
 *
 * @throws InvalidMetricsError before any network call when the metrics or the grouping are invalid
 * @throws SinkError when the gateway refuses them or cannot be reached after the retries
 * @example
 * import { Registry, Gauge } from 'prom-client';
 * const registry = new Registry();
 * new Gauge({ name: 'backup_files', help: 'Files backed up', registers: [registry] }).set(42);
 * await pushToGateway({ url: 'https://gw:9091', job: 'nfs_backup', grouping: { instance: 'daily' }, registry });
 */
export async function pushToGateway(opts: GatewayOptions): Promise<void> {
  await gatewayCall('put', opts);
}

/**
 * Adds metrics with POST: they replace only the metric families of the same
 * names in the group (client_golang's `Add`; the seed's `PushAdd`).
 *
 * @throws InvalidMetricsError before any network call when the metrics or the grouping are invalid
 * @throws SinkError when the gateway refuses them or cannot be reached after the retries
 * @example
 * await addToGateway({
 *   url: 'https://gw:9091', job: 'nfs_backup', grouping: { instance: 'daily' },
 *   text: '# TYPE backup_files gauge\nbackup_files 42\n',
 *   basicAuth: { username: 'push', password: { env: 'GATEWAY_PASSWORD' } },
 * });
 */
export async function addToGateway(opts: GatewayOptions): Promise<void> {
  await gatewayCall('post', opts);
}

/**
 * Deletes a group with DELETE. Groups with more grouping labels are left alone
 * (deleting `{job="x"}` keeps `{job="x",instance="y"}`).
 *
 * @throws InvalidMetricsError before any network call when the grouping is invalid
 * @throws SinkError when the gateway refuses or cannot be reached after the retries
 * @example
 * await deleteFromGateway({ url: 'https://gw:9091', job: 'nfs_backup', grouping: { instance: 'daily' } });
 */
export async function deleteFromGateway(opts: Omit<GatewayOptions, 'registry' | 'text'>): Promise<void> {
  await gatewayCall('delete', opts);
}
