/**
 * One delivery target per destination address, and the single entry point that
 * delivers a payload to a target. The outbox and `deliver()` build on this.
 */
import { maskUrl } from '../errors.js';
import type { ParsedFamily } from '../metrics/exposition.js';
import { checkOtlpFamilies } from './otlp-encode.js';
import type {
  Destination,
  MetricsPayload,
  OtlpDestination,
  PushgatewayDestination,
  RemoteWriteDestination,
  TextfileDestination,
} from './types.js';

/** A Pushgateway target: one gateway URL with the destination's HTTP settings. */
export type PushgatewayTarget = Omit<PushgatewayDestination, 'urls' | 'require'> & {
  kind: 'pushgateway';
  url: string;
};

/** One place a payload goes to: a single gateway, a remote write or OTLP endpoint, or a textfile. */
export type Target = PushgatewayTarget | RemoteWriteDestination | OtlpDestination | TextfileDestination;

/** Dependencies and hooks of a delivery; tests swap them. */
export interface SendOptions {
  /**
   * A fetch to send with instead of Node's `http`/`https` modules (tests, custom
   * transports). It is called with `method`, `headers`, `body`, `signal` and
   * `redirect: 'manual'`; the TLS settings (ca-file, client certificate,
   * insecureSkipVerify) are then the fetch's own business.
   * @default a request with `node:http` / `node:https` carrying the TLS settings
   */
  fetch?: typeof fetch;
  /** Aborts the delivery, including a wait between retries. */
  signal?: AbortSignal;
  /** Where `{ env: NAME }` secrets are read from. @default process.env */
  env?: NodeJS.ProcessEnv;
  /** Waits between retries. @default a timer (aborted by `signal`) */
  sleep?: (ms: number) => Promise<void>;
  /** Source of the backoff jitter, in [0, 1). @default Math.random */
  random?: () => number;
  /**
   * Called before each wait for a retry: `attempt` is the attempt that just
   * failed (1 = the first), `delayMs` the wait, `error` why it failed.
   */
  onRetry?: (info: { attempt: number; delayMs: number; error: import('../errors.js').SinkError }) => void;
}

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

function shortUrl(url: string): string {
  const masked = maskUrl(url);
  return masked.endsWith('/') ? masked.slice(0, -1) : masked;
}

/**
 * A stable name for a target, for people and for the outbox: the kind and the
 * masked URL or the path, e.g. `pushgateway https://gw:9091`,
 * `remote-write https://mimir/api/v1/push`, `textfile /var/lib/node_exporter/restic.prom`.
 */
export function describeTarget(t: Target): string {
  if (t.kind === 'textfile') return `textfile ${t.path}`;
  return `${t.kind} ${shortUrl(t.url)}`;
}

/**
 * Refuses, before anything is stored or sent, families that a target's protocol cannot
 * carry: a summary for OTLP. The other kinds take every family the exposition validator accepts.
 * @throws InvalidMetricsError naming the family and its line
 */
export function checkFamiliesFor(target: Target, families: ParsedFamily[]): void {
  if (target.kind === 'otlp') checkOtlpFamilies(families);
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
  switch (target.kind) {
    case 'pushgateway': {
      const { sendToPushgateway } = await import('./pushgateway.js');
      return sendToPushgateway(payload, target, opts);
    }
    case 'remote-write': {
      const { sendRemoteWrite } = await import('./remote-write.js');
      return sendRemoteWrite(payload, target, opts);
    }
    case 'otlp': {
      const { sendOtlp } = await import('./otlp.js');
      return sendOtlp(payload, target, opts);
    }
    case 'textfile': {
      const { writeTextfile } = await import('./textfile.js');
      return writeTextfile(payload, target, opts);
    }
  }
}
