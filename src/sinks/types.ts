/**
 * Types shared by the destinations (sinks) and the outbox.
 */
import type { SinkError } from '../errors.js';
import type { ParsedFamily } from '../metrics/exposition.js';

/** How a pushgateway push replaces what is there (the protocol's own words). */
export type PushMethod = 'post' | 'put' | 'delete';

/** Where a secret comes from. Only the reference is ever stored (outbox), never the secret. */
export type SecretSource = { file: string } | { env: string } | { value: string };

export interface TlsOptions {
  /** PEM file of CAs to trust instead of the system's. */
  caFile?: string;
  /** Client certificate and key (mTLS). */
  certFile?: string;
  keyFile?: string;
  /** Skip certificate verification. Only when explicitly asked. @default false */
  insecureSkipVerify?: boolean;
}

export interface AuthOptions {
  basicAuth?: { username: string; password: SecretSource };
  bearerToken?: SecretSource;
  /** Extra request headers. */
  headers?: Record<string, string>;
}

export interface HttpOptions extends TlsOptions, AuthOptions {
  /** Per-attempt timeout, ms. @default 10000 */
  timeoutMs?: number;
  /** Attempts after the first. @default 3 */
  retries?: number;
  /** gzip the body. @default false */
  gzip?: boolean;
}

export interface PushgatewayDestination extends HttpOptions {
  kind: 'pushgateway';
  /** One or more gateways (an HA pair). */
  urls: string[];
  /** `all`: delivered when every gateway has it; `any`: when one has. @default 'all' */
  require?: 'all' | 'any';
}

export interface RemoteWriteDestination extends HttpOptions {
  kind: 'remote-write';
  url: string;
}

/** An OTLP/HTTP metrics endpoint (protobuf), e.g. `http://collector:4318/v1/metrics`. */
export interface OtlpDestination extends HttpOptions {
  kind: 'otlp';
  /** The full URL of the metrics endpoint, path included (`/v1/metrics` on a collector). */
  url: string;
}

export interface TextfileDestination {
  kind: 'textfile';
  /** Path ending in `.prom`. */
  path: string;
}

export type Destination =
  | PushgatewayDestination
  | RemoteWriteDestination
  | OtlpDestination
  | TextfileDestination;

/** One set of metrics to deliver: exposition text plus the push's job and grouping. */
export interface MetricsPayload {
  /** Text exposition format 0.0.4, each line ending in `\n`. */
  text: string;
  job: string;
  /** Grouping labels beyond `job` (Pushgateway); series labels for remote write. */
  grouping: Record<string, string>;
  /** @default 'post' */
  method?: PushMethod;
  /** When the values were measured, Unix ms (remote-write sample timestamps; kept across retries and outbox). */
  measuredAt: number;
}

/** The outcome of delivering one payload to a set of destinations. */
export interface DeliveryReport {
  /** Destinations (masked URL or path) that have the payload. */
  delivered: string[];
  /** Destinations where delivery failed after retries; the payload waits in the outbox. */
  queued: { destination: string; reason: string }[];
  /** Destinations that refused the payload as invalid; moved to the dead-letter folder. */
  deadLettered: { destination: string; reason: string }[];
  /** True when every destination has it (or, with `require: any`, enough of them). */
  isComplete: boolean;
}

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
  onRetry?: (info: { attempt: number; delayMs: number; error: SinkError }) => void;
}

/**
 * A payload with its families parsed and validated once (by `deliver`, or by the outbox from
 * a stored entry): what a sink sends, so no sink parses the text again.
 */
export interface MetricsBatch extends MetricsPayload {
  method: PushMethod;
  /** The families of `text`, validated with the push's rules (grouping labels, no timestamps). */
  families: ParsedFamily[];
}
