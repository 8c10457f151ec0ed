/**
 * The OTLP metrics wire format: a payload as one `ExportMetricsServiceRequest`, built in
 * the OpenTelemetry SDK's metrics data model (`ResourceMetrics`) and serialized to protobuf
 * by the OpenTelemetry project's own `@opentelemetry/otlp-transformer`; no protobuf
 * definitions of ours.
 *
 * The mapping (docs/otlp.md):
 * - `job` becomes the resource attribute `service.name`, the grouping label `instance`
 *   becomes `service.instance.id`, every other grouping label a resource attribute of its
 *   own name;
 * - a gauge (and an untyped family) becomes an OTLP Gauge, a counter a monotonic
 *   cumulative Sum, a histogram an explicit-bucket cumulative Histogram; a summary has no
 *   counterpart in the SDK's data model and is refused;
 * - a series' labels become its data point's attributes; every point is at `measuredAt`.
 *
 * Specs: https://opentelemetry.io/docs/specs/otlp/ (OTLP/HTTP),
 * opentelemetry-proto's opentelemetry/proto/metrics/v1/metrics.proto, and
 * https://opentelemetry.io/docs/specs/otel/compatibility/prometheus_and_openmetrics/
 * (how Prometheus names and types map onto OTLP and back).
 */
import type { HrTime, ValueType } from '@opentelemetry/api';
import type {
  AggregationTemporality,
  DataPointType,
  GaugeMetricData,
  HistogramMetricData,
  MetricData,
  ResourceMetrics,
  SumMetricData,
} from '@opentelemetry/sdk-metrics';
import { InvalidMetricsError } from '../errors.js';
import { histogramSeries, type ParsedFamily, validateExposition } from '../metrics/exposition.js';
import { getVersion } from '../version.js';
import { checkGroupingLabels, checkJob } from './grouping-key.js';
import type { MetricsPayload } from './types.js';

/** The instrumentation scope every metric is sent under (its version is resticprom's). */
export const OTLP_SCOPE_NAME = 'resticprom';

/** The resource attribute that carries `job`. */
export const SERVICE_NAME = 'service.name';
/** The resource attribute that carries the grouping label `instance`. */
export const SERVICE_INSTANCE_ID = 'service.instance.id';

/**
 * The resource attributes of a push: `service.name` = job, `service.instance.id` = the
 * grouping label `instance`, every other grouping label under its own name; empty values
 * are left out (Prometheus treats an empty label as no label).
 */
export function otlpResourceAttributes(
  job: string,
  grouping: Record<string, string>,
): Record<string, string> {
  const out: Record<string, string> = { [SERVICE_NAME]: job };
  for (const [name, value] of Object.entries(grouping)) {
    if (value === '') continue;
    out[name === 'instance' ? SERVICE_INSTANCE_ID : name] = value;
  }
  return out;
}

/**
 * The OTLP unit of a metric named with a Prometheus base-unit suffix: `s` for `_seconds`,
 * `By` for `_bytes` (UCUM, as the OpenTelemetry semantic conventions write them), else none.
 * Receivers that append units to names (Prometheus 3) see the suffix already there and keep
 * the name as it is.
 */
export function otlpUnit(familyName: string): string {
  if (familyName.endsWith('_seconds')) return 's';
  if (familyName.endsWith('_bytes')) return 'By';
  return '';
}

/** Unix ms as OpenTelemetry's `HrTime` (`[seconds, nanoseconds]`). */
function toHrTime(ms: number): HrTime {
  const seconds = Math.floor(ms / 1000);
  return [seconds, Math.floor((ms - seconds * 1000) * 1e6)];
}

/** Unknown start of a cumulative series (the OTLP data model's 0). */
const UNKNOWN_START: HrTime = [0, 0];

/** A sample's labels as data point attributes: empty values left out. */
function attributesOf(labels: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels)) if (v !== '') out[k] = v;
  return out;
}

/**
 * Refuses what OTLP (in the SDK's data model) cannot carry: a summary.
 * @throws InvalidMetricsError naming the family and its first line
 */
export function checkOtlpFamilies(families: ParsedFamily[]): void {
  for (const fam of families) {
    if (fam.type === 'summary') {
      throw new InvalidMetricsError(
        `family ${fam.name} is a summary, which an otlp destination cannot carry (send its quantiles as gauges, or use a histogram)`,
        fam.samples[0]?.line ?? 0,
      );
    }
  }
}

/** The enums of the SDK's data model, loaded with it. */
interface Enums {
  gauge: DataPointType.GAUGE;
  sum: DataPointType.SUM;
  histogram: DataPointType.HISTOGRAM;
  cumulative: AggregationTemporality;
  double: ValueType;
}

/** Name (as it is), HELP as description, unit from the name's suffix; values as doubles. */
function descriptorOf(fam: ParsedFamily, enums: Enums): MetricData['descriptor'] {
  return { name: fam.name, description: fam.help ?? '', unit: otlpUnit(fam.name), valueType: enums.double };
}

function numberMetric(fam: ParsedFamily, at: HrTime, enums: Enums): MetricData {
  const isCounter = fam.type === 'counter';
  const dataPoints = fam.samples.map((s) => {
    const attributes = attributesOf(s.labels);
    // A gauge's start time means nothing; a counter's start is not known to us.
    return { startTime: isCounter ? UNKNOWN_START : at, endTime: at, attributes, value: s.value };
  });
  const descriptor = descriptorOf(fam, enums);
  if (isCounter) {
    const sum: SumMetricData = {
      descriptor,
      aggregationTemporality: enums.cumulative,
      dataPointType: enums.sum,
      dataPoints,
      isMonotonic: true,
    };
    return sum;
  }
  const gauge: GaugeMetricData = {
    descriptor,
    aggregationTemporality: enums.cumulative,
    dataPointType: enums.gauge,
    dataPoints,
  };
  return gauge;
}

/** A Prometheus histogram (cumulative `le` buckets) as OTLP explicit buckets (a count per bucket). */
function histogramMetric(fam: ParsedFamily, at: HrTime, enums: Enums): MetricData {
  const dataPoints = histogramSeries(fam).map((h) => {
    const attributes = attributesOf(h.labels);
    // OTLP bounds are the finite `le`s; the last bucket (+Inf) has none.
    const boundaries = h.buckets.filter((b) => b.le !== Number.POSITIVE_INFINITY).map((b) => b.le);
    const counts = h.buckets.map((b, i) => b.value - (i === 0 ? 0 : (h.buckets[i - 1]?.value ?? 0)));
    const value = {
      buckets: { boundaries, counts },
      count: h.count?.value ?? 0,
      ...(h.sum === undefined ? {} : { sum: h.sum.value }),
    };
    return { startTime: UNKNOWN_START, endTime: at, attributes, value };
  });
  const histogram: HistogramMetricData = {
    descriptor: descriptorOf(fam, enums),
    aggregationTemporality: enums.cumulative,
    dataPointType: enums.histogram,
    dataPoints,
  };
  return histogram;
}

/**
 * Builds the OTLP `ResourceMetrics` of a payload (see the file's header for the mapping):
 * one resource, one scope (`resticprom` and its version), one metric per family.
 *
 * @throws InvalidMetricsError when the text is not valid exposition, the job is empty, a
 *   grouping label name is bad, or a family is a summary
 */
export async function buildResourceMetrics(payload: MetricsPayload): Promise<ResourceMetrics> {
  checkJob(payload.job);
  checkGroupingLabels(payload.grouping);
  const families = validateExposition(payload.text, { allowTimestamps: false });
  checkOtlpFamilies(families);
  // Loaded here, not at the top: only a run with an otlp destination pays for them.
  const [{ ValueType }, { AggregationTemporality, DataPointType }, { resourceFromAttributes }] =
    await Promise.all([
      import('@opentelemetry/api'),
      import('@opentelemetry/sdk-metrics'),
      import('@opentelemetry/resources'),
    ]);
  const enums: Enums = {
    gauge: DataPointType.GAUGE,
    sum: DataPointType.SUM,
    histogram: DataPointType.HISTOGRAM,
    cumulative: AggregationTemporality.CUMULATIVE,
    double: ValueType.DOUBLE,
  };
  const at = toHrTime(payload.measuredAt);
  const metrics = families
    .filter((fam) => fam.samples.length > 0)
    .map((fam) =>
      fam.type === 'histogram' ? histogramMetric(fam, at, enums) : numberMetric(fam, at, enums),
    );
  return {
    resource: resourceFromAttributes(otlpResourceAttributes(payload.job, payload.grouping)),
    scopeMetrics: [{ scope: { name: OTLP_SCOPE_NAME, version: getVersion() }, metrics }],
  };
}

/** Serializes `ResourceMetrics` as an OTLP/HTTP protobuf `ExportMetricsServiceRequest`. */
export async function serializeResourceMetrics(rm: ResourceMetrics): Promise<Uint8Array> {
  const { ProtobufMetricsSerializer } = await import('@opentelemetry/otlp-transformer');
  const bytes = ProtobufMetricsSerializer.serializeRequest(rm);
  if (!bytes) throw new InvalidMetricsError('the OTLP serializer produced no request', 0);
  return bytes;
}

/** What an OTLP receiver said it did not take (`ExportMetricsPartialSuccess`). */
export interface OtlpPartialSuccess {
  rejectedDataPoints: number;
  errorMessage: string;
}

/**
 * Reads an OTLP/HTTP protobuf `ExportMetricsServiceResponse` (with OpenTelemetry's own
 * deserializer) and returns its partial success when the receiver rejected data points;
 * undefined for a full success (an empty body, no rejected points) or a body that is not
 * such a response (a proxy's text: the 2xx status is what counts).
 */
export async function parseOtlpResponse(body: Uint8Array): Promise<OtlpPartialSuccess | undefined> {
  if (body.length === 0) return undefined;
  const { ProtobufMetricsSerializer } = await import('@opentelemetry/otlp-transformer');
  let partial: { rejectedDataPoints?: unknown; errorMessage?: unknown } | undefined;
  try {
    partial = ProtobufMetricsSerializer.deserializeResponse(body).partialSuccess as typeof partial;
  } catch {
    return undefined;
  }
  const rejected = Number(partial?.rejectedDataPoints ?? 0);
  if (!partial || !(rejected > 0)) return undefined;
  const message = typeof partial.errorMessage === 'string' ? partial.errorMessage : '';
  return { rejectedDataPoints: rejected, errorMessage: message };
}
