/**
 * One delivery target per destination address, and the single entry point that
 * delivers a payload to a target. The outbox and `deliver()` build on this.
 */
import type { ParsedFamily } from '../metrics/exposition.js';
import { toBatch } from './batch.js';
import { sinkFor } from './sink.js';
import type { Destination, MetricsPayload, SendOptions, Target } from './types.js';

export type { PushgatewayTarget, SendOptions, Target } from './types.js';

/**
 * Expands a destination into its targets: one per gateway URL of a Pushgateway
 * destination (`require` is the caller's business), the destination itself otherwise.
 */
export function expandTargets(dest: Destination): Target[] {
  if (dest.kind === 'pushgateway') {
    const { urls, require: _require, ...rest } = dest;
    return urls.map((url) => ({ ...rest, kind: 'pushgateway', url }));
  }
  return [dest];
}

/**
 * A stable name for a target, for people and for the outbox: the kind and the
 * masked URL or the path, e.g. `pushgateway https://gw:9091`,
 * `remote-write https://mimir/api/v1/push`, `textfile /var/lib/node_exporter/restic.prom`.
 */
export function describeTarget(t: Target): string {
  return sinkFor(t.kind).describe(t);
}

/**
 * Refuses, before anything is stored or sent, families that a target's protocol cannot
 * carry (a summary for OTLP); see {@link Sink.checkFamilies}.
 * @throws InvalidMetricsError naming the family and its line
 */
export function checkFamiliesFor(target: Target, families: ParsedFamily[]): void {
  sinkFor(target.kind).checkFamilies?.(families);
}

/**
 * Delivers a payload to one target, retrying by itself (see the target's
 * `timeoutMs` and `retries`). Pushgateway: PUT (`push`), POST (`add`) or DELETE
 * (`delete`, the text is ignored) to the group's URL. Remote write: one
 * WriteRequest with every sample at `payload.measuredAt`. OTLP: one
 * ExportMetricsServiceRequest, likewise at `measuredAt`. Textfile: an atomic
 * write of the `.prom` file (`delete` removes it).
 *
 * @throws InvalidMetricsError when the payload is not valid (before any network call)
 * @throws SinkError when the target refused it or could not be reached;
 *   `isRetryable` says whether trying again later may succeed
 */
export async function sendToTarget(
  payload: MetricsPayload,
  target: Target,
  opts: SendOptions = {},
): Promise<void> {
  const sink = sinkFor(target.kind);
  await sink.send(toBatch(payload, sink.refusesGroupingLabels), target, opts);
}
