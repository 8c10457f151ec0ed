/**
 * The Prometheus remote write 1.0 sink: the payload's samples as one
 * snappy-compressed protobuf `WriteRequest`, every sample at `measuredAt`.
 *
 * Spec: https://prometheus.io/docs/specs/prw/remote_write_spec/ and
 * prompb/remote.proto, prompb/types.proto in prometheus/prometheus.
 */
import { InvalidMetricsError } from '../errors.js';
import type { ParsedFamily } from '../metrics/exposition.js';
import { toBatch } from './batch.js';
import { checkGroupingLabels, checkJob } from './grouping-key.js';
import { sendHttp } from './http.js';
import type { MetricsBatch, MetricsPayload, RemoteWriteDestination, SendOptions } from './types.js';

/** One label of a series. */
export interface RemoteWriteLabel {
  name: string;
  value: string;
}

/** One series with its samples (timestamps in Unix ms). */
export interface RemoteWriteSeries {
  labels: RemoteWriteLabel[];
  samples: { value: number; timestamp: number }[];
}

/** Metadata of one metric family. */
export interface RemoteWriteMetadata {
  /** 0 unknown, 1 counter, 2 gauge, 3 histogram, 5 summary. */
  type: number;
  metricFamilyName: string;
  help: string;
}

/** A remote write 1.0 `WriteRequest`, before encoding. */
export interface WriteRequest {
  timeseries: RemoteWriteSeries[];
  metadata: RemoteWriteMetadata[];
}

const METRIC_TYPE: Record<ParsedFamily['type'], number> = {
  untyped: 0,
  counter: 1,
  gauge: 2,
  histogram: 3,
  summary: 5,
};

/** The protobuf schema of remote write 1.0 (prompb), the fields we send. */
const SCHEMA = {
  nested: {
    prometheus: {
      nested: {
        WriteRequest: {
          fields: {
            timeseries: { rule: 'repeated', type: 'TimeSeries', id: 1 },
            metadata: { rule: 'repeated', type: 'MetricMetadata', id: 3 },
          },
        },
        TimeSeries: {
          fields: {
            labels: { rule: 'repeated', type: 'Label', id: 1 },
            samples: { rule: 'repeated', type: 'Sample', id: 2 },
          },
        },
        Label: { fields: { name: { type: 'string', id: 1 }, value: { type: 'string', id: 2 } } },
        Sample: { fields: { value: { type: 'double', id: 1 }, timestamp: { type: 'int64', id: 2 } } },
        MetricMetadata: {
          fields: {
            type: { type: 'MetricType', id: 1 },
            metricFamilyName: { type: 'string', id: 2 },
            help: { type: 'string', id: 4 },
            unit: { type: 'string', id: 5 },
          },
          nested: {
            MetricType: {
              values: {
                UNKNOWN: 0,
                COUNTER: 1,
                GAUGE: 2,
                HISTOGRAM: 3,
                GAUGEHISTOGRAM: 4,
                SUMMARY: 5,
                INFO: 6,
                STATESET: 7,
              },
            },
          },
        },
      },
    },
  },
};

/**
 * Builds the WriteRequest of a payload. Labels of each series: `__name__`, the
 * sample's labels, `job` and the grouping labels (a grouping label wins over a
 * same-named sample label, as on the Pushgateway), sorted by name, empty values
 * dropped. Every sample has timestamp `measuredAt`. Histograms and summaries
 * become their `_bucket`, `_sum`, `_count` (and quantile) series. Metadata
 * (type, help) is included per family.
 *
 * @throws InvalidMetricsError when the text is not valid, the job is empty, a
 *   grouping label name is bad, or two series become one after adding the grouping
 */
export function buildWriteRequest(payload: MetricsPayload | MetricsBatch): WriteRequest {
  checkJob(payload.job);
  checkGroupingLabels(payload.grouping);
  const { families } = toBatch(payload, false);
  const added: Record<string, string> = { job: payload.job, ...payload.grouping };
  const timeseries: RemoteWriteSeries[] = [];
  const metadata: RemoteWriteMetadata[] = [];
  const seen = new Map<string, number>();
  for (const fam of families) {
    metadata.push({ type: METRIC_TYPE[fam.type], metricFamilyName: fam.name, help: fam.help ?? '' });
    for (const s of fam.samples) {
      const merged: Record<string, string> = { ...s.labels, ...added, __name__: s.name };
      const labels = Object.keys(merged)
        .sort()
        .map((name) => ({ name, value: merged[name] as string }))
        .filter((l) => l.value !== '');
      const key = JSON.stringify(labels);
      const first = seen.get(key);
      if (first !== undefined) {
        throw new InvalidMetricsError(
          `series ${s.name} is the same as the one on line ${first} once job and grouping labels are added`,
          s.line,
        );
      }
      seen.set(key, s.line);
      timeseries.push({ labels, samples: [{ value: s.value, timestamp: payload.measuredAt }] });
    }
  }
  return { timeseries, metadata };
}

interface ProtoType {
  fromObject(o: object): unknown;
  encode(m: unknown): { finish(): Uint8Array };
  decode(b: Uint8Array): unknown;
  toObject(m: unknown, o: object): object;
}

let writeRequestType: ProtoType | undefined;

async function loadWriteRequestType(): Promise<ProtoType> {
  if (writeRequestType) return writeRequestType;
  const mod = await import('protobufjs');
  const protobuf = (mod as unknown as { default?: typeof mod }).default ?? mod;
  const root = protobuf.Root.fromJSON(SCHEMA);
  writeRequestType = root.lookupType('prometheus.WriteRequest') as unknown as ProtoType;
  return writeRequestType;
}

/** Encodes a WriteRequest as protobuf (not yet compressed). */
export async function encodeWriteRequest(req: WriteRequest): Promise<Uint8Array> {
  const type = await loadWriteRequestType();
  return type.encode(type.fromObject(req)).finish();
}

/** Decodes a protobuf WriteRequest (for tests and debugging); int64 timestamps become numbers. */
export async function decodeWriteRequest(bytes: Uint8Array): Promise<WriteRequest> {
  const type = await loadWriteRequestType();
  return type.toObject(type.decode(bytes), { longs: Number, enums: Number, defaults: true }) as WriteRequest;
}

interface Snappy {
  compress(b: Uint8Array): Uint8Array;
  uncompress(b: Uint8Array): Uint8Array;
}

/** snappyjs, the block format (not the framed one). */
export async function loadSnappy(): Promise<Snappy> {
  // @ts-expect-error snappyjs ships no type declarations
  const mod = (await import('snappyjs')) as { default?: Snappy } & Snappy;
  return mod.default ?? mod;
}

/**
 * Sends a payload to a remote write 1.0 endpoint (Prometheus with
 * `--web.enable-remote-write-receiver`, Mimir, Thanos Receive, VictoriaMetrics,
 * Cortex...). Remote write has no delete: a `delete` payload does nothing
 * (the series go stale on their own).
 *
 * @throws InvalidMetricsError for an invalid payload (before any network call)
 * @throws SinkError when the endpoint refuses it (4xx other than 429: not
 *   retryable) or cannot be reached after the retries
 */
export async function sendRemoteWrite(
  payload: MetricsPayload | MetricsBatch,
  target: RemoteWriteDestination,
  opts: SendOptions = {},
): Promise<void> {
  if (payload.method === 'delete') return;
  const req = buildWriteRequest(payload);
  const proto = await encodeWriteRequest(req);
  const snappy = await loadSnappy();
  const body = snappy.compress(proto);
  await sendHttp(
    {
      method: 'POST',
      url: target.url,
      body,
      headers: {
        'Content-Encoding': 'snappy',
        'Content-Type': 'application/x-protobuf',
        'X-Prometheus-Remote-Write-Version': '0.1.0',
      },
      action: 'writing to',
    },
    target,
    opts,
  );
}
