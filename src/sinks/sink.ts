/**
 * The one interface every destination implements, and the table of them. A new kind of
 * destination adds a {@link Sink} here; the outbox, `deliver()` and the messages ask the sink
 * for every per-kind rule instead of switching on the kind.
 */
import { maskUrl } from '../errors.js';
import type { ParsedFamily } from '../metrics/exposition.js';
import { checkOtlpFamilies } from './otlp-encode.js';
import type { MetricsBatch, PushMethod, SendOptions, Target } from './types.js';

/** A kind of destination: how it is named, what replaces what, how a batch is sent. */
export interface Sink<T extends Target = Target> {
  readonly kind: T['kind'];
  /** What people call it in messages: `gateway`, `remote write`, `textfile`. */
  readonly noun: string;
  /** The target's stable id, for people and the outbox: kind plus masked URL or path. */
  describe(target: T): string;
  /** True when a sample may not carry `job` or a grouping label (the destination adds them). */
  readonly refusesGroupingLabels: boolean;
  /**
   * Refuses families this protocol cannot carry (OTLP: a summary), before anything is stored.
   * @throws InvalidMetricsError naming the family and its line
   */
  checkFamilies?(families: ParsedFamily[]): void;
  /** True when a newer payload of a group sent with `method` makes the older ones irrelevant. */
  replacesGroup(method: PushMethod): boolean;
  /**
   * Sends one batch; retries by itself (the target's `timeoutMs`, `retries`).
   * @throws InvalidMetricsError when the batch cannot go to this kind of destination
   * @throws SinkError when the target refused it or could not be reached
   */
  send(batch: MetricsBatch, target: T, opts: SendOptions): Promise<void>;
}

function shortUrl(url: string): string {
  const masked = maskUrl(url);
  return masked.endsWith('/') ? masked.slice(0, -1) : masked;
}

// The senders load lazily: `status` and `--help` never pay for zlib, protobuf or snappy.
const SINKS: { [K in Target['kind']]: Sink<Extract<Target, { kind: K }>> } = {
  pushgateway: {
    kind: 'pushgateway',
    noun: 'gateway',
    describe: (t) => `pushgateway ${shortUrl(t.url)}`,
    refusesGroupingLabels: true,
    replacesGroup: (m) => m === 'put' || m === 'delete',
    send: async (b, t, o) => (await import('./pushgateway.js')).sendToPushgateway(b, t, o),
  },
  'remote-write': {
    kind: 'remote-write',
    noun: 'remote write',
    describe: (t) => `remote-write ${shortUrl(t.url)}`,
    refusesGroupingLabels: false,
    // Samples are history: every one of them goes, in order.
    replacesGroup: () => false,
    send: async (b, t, o) => (await import('./remote-write.js')).sendRemoteWrite(b, t, o),
  },
  otlp: {
    kind: 'otlp',
    noun: 'otlp',
    describe: (t) => `otlp ${shortUrl(t.url)}`,
    refusesGroupingLabels: false,
    checkFamilies: (families) => checkOtlpFamilies(families),
    // Data points are history: every one of them goes, in order.
    replacesGroup: () => false,
    send: async (b, t, o) => (await import('./otlp.js')).sendOtlp(b, t, o),
  },
  textfile: {
    kind: 'textfile',
    noun: 'textfile',
    describe: (t) => `textfile ${t.path}`,
    // The file's series get job and grouping, overriding a same-named sample label.
    refusesGroupingLabels: false,
    // Each write leaves the whole file as the newest payload says.
    replacesGroup: () => true,
    send: async (b, t, o) => (await import('./textfile.js')).writeTextfile(b, t, o),
  },
};

/** True when `kind` names a destination kind (a sink of the table). */
export function isSinkKind(kind: string): kind is Target['kind'] {
  return Object.hasOwn(SINKS, kind);
}

/** The sink of a destination kind. */
export function sinkFor<K extends Target['kind']>(kind: K): Sink<Extract<Target, { kind: K }>>;
export function sinkFor(kind: string): Sink;
export function sinkFor(kind: string): Sink {
  const sink = (SINKS as Record<string, Sink | undefined>)[kind];
  if (!sink) throw new TypeError(`unknown destination kind ${JSON.stringify(kind)}`);
  return sink;
}
