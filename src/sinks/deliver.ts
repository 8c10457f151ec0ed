/**
 * Delivers a payload to its destinations without ever losing it: the payload is first
 * written to the outbox (one entry per target), then the outbox is flushed oldest first,
 * so what an outage, a crash or a `kill -9` interrupts is sent by the next run.
 */
import { OutboxBusyError, UsageError } from '../errors.js';
import { validateExposition } from '../metrics/exposition.js';
import { ensureStateDir } from '../state/dir.js';
import { checkGroupingLabels, checkJob } from './grouping-key.js';
import {
  type FlushReport,
  Outbox,
  type OutboxEntry,
  type OutboxEvent,
  type SendFunction,
  setRunInFlight,
} from './outbox.js';
import { checkFamiliesFor, describeTarget, expandTargets, type SendOptions, type Target } from './target.js';
import type { DeliveryReport, Destination, HttpOptions, MetricsPayload } from './types.js';

/** Bounds and locking of the outbox, see {@link Outbox}. */
export interface OutboxLimits {
  /** @default 1000 */
  maxEntries?: number;
  /** @default 52428800 (50 MiB) */
  maxBytes?: number;
  /** How long to wait for another resticprom delivering from the same outbox, ms. @default 60000 */
  lockTimeoutMs?: number;
}

/** Options of {@link deliver}. */
export interface DeliverOptions {
  /** The state directory; the outbox is `<stateDir>/outbox`. */
  stateDir: string;
  /** Passed to every send: `fetch`, `env`, `sleep`, `onRetry`... */
  sendOptions?: SendOptions;
  outbox?: OutboxLimits;
  /** Stops sending; what is not sent stays in the outbox. */
  signal?: AbortSignal;
  /** The sender. @default sendToTarget */
  send?: SendFunction;
  /** Clock, Unix ms. @default Date.now */
  now?: () => number;
  /**
   * The run these metrics belong to. Its entries are stored first, then `record` writes the
   * run's history record (the commit point), and only then is anything sent. Entries of a
   * run that was never recorded (the process was killed in between) are dropped unsent by
   * the next flush, so the gateway never shows a run the history does not hold, and every
   * run the history holds has its metrics in the outbox. `record` runs exactly once when
   * the entries were stored; its error is thrown.
   * @default none (plain push: entries are sent at once)
   */
  run?: { id: string; record: () => Promise<void> };
}

/** A {@link DeliveryReport} plus what happened in the outbox. */
export interface DeliverResult extends DeliveryReport {
  /** `<stateDir>/outbox`. */
  outboxDir: string;
  /** Entries waiting in the outbox afterwards (this payload's and older ones). */
  pendingCount: number;
  /** What the flush did with entries of earlier runs. */
  earlier: FlushReport;
  /** Older entries this payload replaced (a PUT, DELETE or textfile write). */
  superseded: OutboxEvent[];
  /** Oldest entries dropped to keep the outbox within its bounds. */
  dropped: OutboxEvent[];
  /** One line per drop or other problem that did not stop delivery. */
  warnings: string[];
}

/**
 * Delivers `payload` to every destination: writes it to the outbox (one entry per target,
 * fsynced), then sends, per target, older pending entries first and this one last; targets
 * go in parallel. A retryable failure leaves the entry queued, a refusal (non-retryable
 * 4xx) moves it to `dead/`. `isComplete` honours `require: 'all' | 'any'` of a multi-gateway
 * destination. Every queue, drop and dead letter is in the result.
 * @throws {InvalidMetricsError} when the text is not valid exposition, or a target cannot carry
 *   it (a summary for OTLP): nothing sent or stored.
 * @throws {StateError} when the state directory cannot be used.
 */
export async function deliver(
  payload: MetricsPayload,
  destinations: Destination[],
  opts: DeliverOptions,
): Promise<DeliverResult> {
  if (destinations.length === 0) throw new UsageError('no destination given');
  checkJob(payload.job);
  checkGroupingLabels(payload.grouping);
  const perDestination = destinations.map((d) => expandTargets(d));
  const targets = perDestination.flat();
  if ((payload.method ?? 'post') !== 'delete') {
    const families = validateExposition(payload.text, {
      groupingLabels: ['job', ...Object.keys(payload.grouping)],
    });
    for (const t of targets) checkFamiliesFor(t, families);
  }
  const run = opts.run ? { runId: opts.run.id } : undefined;
  if (opts.run) setRunInFlight(opts.run.id, true);
  try {
    return await deliverStored(payload, destinations, perDestination, targets, run, opts);
  } finally {
    if (opts.run) setRunInFlight(opts.run.id, false);
  }
}

async function deliverStored(
  payload: MetricsPayload,
  destinations: Destination[],
  perDestination: Target[][],
  targets: Target[],
  run: { runId: string } | undefined,
  opts: DeliverOptions,
): Promise<DeliverResult> {
  await ensureStateDir(opts.stateDir);
  const outbox = new Outbox({
    stateDir: opts.stateDir,
    ...opts.outbox,
    ...(opts.now ? { now: opts.now } : {}),
  });
  try {
    return await outbox.withLock(async () => {
      const enq = await outbox.enqueue(payload, targets, undefined, run);
      await opts.run?.record();
      const flush = await outbox.flush({
        credentials: credentialsFor(targets),
        ...flushExtras(opts),
      });
      return buildResult(destinations, perDestination, enq.entries, flush, outbox, {
        superseded: enq.superseded,
        dropped: enq.dropped,
        warnings: enq.warnings,
      });
    });
  } catch (err) {
    if (!(err instanceof OutboxBusyError)) throw err;
    // Another run has been delivering for longer than we wait: store ours without the lock;
    // that run or the next one sends it, after the older entries of its group.
    const entries = await outbox.store(payload, targets, run);
    await opts.run?.record();
    const reason = `${err.message}; this run's metrics wait in the outbox for the next flush`;
    return {
      delivered: [],
      queued: entries.map((e) => ({ destination: e.targetId, reason })),
      deadLettered: [],
      isComplete: false,
      outboxDir: outbox.dir,
      pendingCount: await outbox.count(),
      earlier: emptyFlushReport(),
      superseded: [],
      dropped: [],
      warnings: [reason],
    };
  }
}

/** Options of {@link flushPending}. */
export interface FlushPendingOptions {
  stateDir: string;
  sendOptions?: SendOptions;
  /**
   * Where inline secrets (not stored in entries) come from: destinations whose targets match
   * entries by id, or a function from target id to credentials.
   */
  credentials?: Destination[] | ((targetId: string) => Partial<HttpOptions> | undefined);
  outbox?: OutboxLimits;
  signal?: AbortSignal;
  send?: SendFunction;
  now?: () => number;
}

/**
 * Sends what waits in the outbox, oldest first per target and group; see {@link Outbox.flush}.
 * Returns an empty report without creating anything when there is no outbox yet.
 */
export async function flushPending(opts: FlushPendingOptions): Promise<FlushReport & { outboxDir: string }> {
  await ensureStateDir(opts.stateDir);
  const outbox = new Outbox({
    stateDir: opts.stateDir,
    ...opts.outbox,
    ...(opts.now ? { now: opts.now } : {}),
  });
  const credentials = Array.isArray(opts.credentials)
    ? credentialsFor(opts.credentials.flatMap((d) => expandTargets(d)))
    : opts.credentials;
  const report = await outbox.flush({ ...(credentials ? { credentials } : {}), ...flushExtras(opts) });
  return { ...report, outboxDir: outbox.dir };
}

/** Credentials (basic auth, bearer token, headers) of `targets`, looked up by target id. */
export function credentialsFor(targets: Target[]): (targetId: string) => Partial<HttpOptions> | undefined {
  const byId = new Map<string, Partial<HttpOptions>>();
  for (const t of targets) {
    if (t.kind === 'textfile') continue;
    const c: Partial<HttpOptions> = {};
    if (t.basicAuth) c.basicAuth = t.basicAuth;
    if (t.bearerToken) c.bearerToken = t.bearerToken;
    if (t.headers) c.headers = t.headers;
    byId.set(describeTarget(t), c);
  }
  return (id) => byId.get(id);
}

function flushExtras(opts: {
  sendOptions?: SendOptions;
  signal?: AbortSignal;
  send?: SendFunction;
}): Pick<import('./outbox.js').FlushOptions, 'sendOptions' | 'signal' | 'send'> {
  return {
    ...(opts.sendOptions ? { sendOptions: opts.sendOptions } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.send ? { send: opts.send } : {}),
  };
}

function emptyFlushReport(): FlushReport {
  return { delivered: [], pending: [], deadLettered: [], superseded: [], corrupt: [], remaining: 0 };
}

/** Splits a flush report into this payload's outcome per target and the earlier entries'. */
function buildResult(
  destinations: Destination[],
  perDestination: Target[][],
  mine: OutboxEntry[],
  flush: FlushReport,
  outbox: Outbox,
  extra: Pick<DeliverResult, 'superseded' | 'dropped' | 'warnings'>,
): DeliverResult {
  const ids = new Set(mine.map((e) => e.id));
  const isMine = (e: OutboxEvent) => ids.has(e.id);
  const report: DeliverResult = {
    delivered: flush.delivered.filter(isMine).map((e) => e.target),
    queued: [
      ...flush.pending.filter(isMine).map((e) => ({ destination: e.target, reason: e.reason ?? 'pending' })),
      // Only a newer entry stored meanwhile by another run can supersede ours; it carries the group.
      ...flush.superseded
        .filter(isMine)
        .map((e) => ({ destination: e.target, reason: e.reason ?? 'superseded' })),
    ],
    deadLettered: flush.deadLettered
      .filter(isMine)
      .map((e) => ({ destination: e.target, reason: e.reason ?? 'refused' })),
    isComplete: false,
    outboxDir: outbox.dir,
    pendingCount: flush.remaining,
    earlier: {
      delivered: flush.delivered.filter((e) => !isMine(e)),
      pending: flush.pending.filter((e) => !isMine(e)),
      deadLettered: flush.deadLettered.filter((e) => !isMine(e)),
      superseded: flush.superseded.filter((e) => !isMine(e)),
      corrupt: flush.corrupt,
      remaining: flush.remaining,
    },
    ...extra,
  };
  const delivered = new Set(report.delivered);
  report.isComplete = destinations.every((d, i) => {
    const targets = perDestination[i] ?? [];
    const ok = targets.filter((t) => delivered.has(describeTarget(t))).length;
    return d.kind === 'pushgateway' && d.require === 'any' ? ok >= 1 : ok === targets.length;
  });
  return report;
}
