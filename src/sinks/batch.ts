/**
 * A payload's families, parsed and validated once on the way to the sinks.
 */
import { validateExposition } from '../metrics/exposition.js';
import type { MetricsBatch, MetricsPayload } from './types.js';

/**
 * Parses and validates a payload once (no timestamps; with `refuseGroupingLabels`, the default,
 * `job` and the grouping labels on no sample: the rule of every destination together); a
 * `delete` has no families. A batch is returned as is.
 * @throws InvalidMetricsError naming the line
 */
export function toBatch(payload: MetricsPayload | MetricsBatch, refuseGroupingLabels = true): MetricsBatch {
  if ('families' in payload) return payload;
  const method = payload.method ?? 'post';
  const groupingLabels = refuseGroupingLabels ? ['job', ...Object.keys(payload.grouping)] : [];
  const families = method === 'delete' ? [] : validateExposition(payload.text, { groupingLabels });
  return { ...payload, method, families };
}
