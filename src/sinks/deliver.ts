/**
 * Delivers a payload to its destinations without ever losing it: the payload is first
 * written to the outbox (one entry per target), then the outbox is flushed oldest first,
 * so what an outage, a crash or a `kill -9` interrupts is sent by the next run.
 */
import { OutboxBusyError, UsageError } from '../errors.js';
import { ensureStateDir } from '../state/dir.js';
import { toBatch } from './batch.js';
import { checkGroupingLabels, checkJob } from './grouping-key.js';
import { withRunInFlight } from './outbox/run-commit.js';
import {
  emptyFlushReport,
  type FlushOptions,
  type FlushReport,
  Outbox,
  type OutboxEntry,
  type OutboxEvent,
  quarantineWarning,
  type RequeueSource,
  type RunScopeRef,
  type SendFunction,
} from './outbox.js';
import { sinkFor } from './sink.js';
import { describeTarget, expandTargets } from './target.js';
import type {
  DeliveryReport,
  Destination,
  HttpOptions,
  MetricsBatch,
  MetricsPayload,
  SendOptions,
  Target,
} from './types.js';

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
   * `scope` says what ran, so a destination's acceptance confirms the run (see `outbox/confirmed.ts`).
   * @default none (plain push: entries are sent at once)
   */
  run?: { id: string; scope?: RunScopeRef; record: () => Promise<void> };
  /**
   * Where the caller's config sends each run scope: with it, before this payload is stored,
   * recorded runs whose metrics were not confirmed delivered and have no entry waiting are
   * re-queued from the latest metrics (see `outbox/requeue.ts`). @default none
   */
  requeue?: RequeueSource;
  /**
   * The caller has just checked the state directory (`ensureStateDir`), as a run's
   * `finishRun` does before it saves the latest metrics: not checked again. @default false
   */
  isStateDirChecked?: boolean;
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
  /** Recorded runs re-queued from the latest metrics before this payload (their entry was lost). */
  requeued: OutboxEvent[];
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
  // Parsed and validated once here; the sinks send these families (see MetricsBatch).
  const batch = toBatch(payload);
  const perDestination = destinations.map((d) => expandTargets(d));
  const targets = perDestination.flat();
  // What a destination's protocol cannot carry (a summary for OTLP) is refused before anything is stored.
  for (const t of targets) sinkFor(t.kind).checkFamilies?.(batch.families);
  if (!opts.run) return deliverStored(batch, destinations, perDestination, targets, undefined, opts);
  const runId = opts.run.id;
  const run = { runId, ...(opts.run.scope ? { runScope: opts.run.scope } : {}) };
  return withRunInFlight(runId, () => deliverStored(batch, destinations, perDestination, targets, run, opts));
}

/**
 * Stores, records (for a run) and sends: the store-record-send protocol of
 * `outbox/run-commit.ts`, under the outbox lock.
 */
async function deliverStored(
  payload: MetricsBatch,
  destinations: Destination[],
  perDestination: Target[][],
  targets: Target[],
  run: { runId: string; runScope?: RunScopeRef } | undefined,
  opts: DeliverOptions,
): Promise<DeliverResult> {
  if (!opts.isStateDirChecked) await ensureStateDir(opts.stateDir);
  const outbox = new Outbox({
    stateDir: opts.stateDir,
    ...opts.outbox,
    ...(opts.now ? { now: opts.now } : {}),
  });
  try {
    return await outbox.withLock(async (held) => {
      const re = opts.requeue ? await held.requeue(opts.requeue) : undefined;
      const enq = await held.enqueue(payload, targets, undefined, run);
      await opts.run?.record();
      const flush = await held.flush({
        targets,
        parsed: { text: payload.text, families: payload.families },
        ...flushExtras(opts),
      });
      return buildResult(destinations, perDestination, enq.entries, flush, outbox, {
        superseded: enq.superseded,
        requeued: re?.requeued ?? [],
        dropped: enq.dropped,
        warnings: [
          ...(re?.corrupt ?? []).map((c) => quarantineWarning(c, outbox.deadDir)),
          ...(re?.warnings ?? []),
          ...enq.warnings,
          ...flush.warnings,
        ],
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
      requeued: [],
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
   * The flushing process's destinations (from its config or flags): entries for their targets
   * are sent with these settings, secrets included, instead of the stored ones.
   */
  targets?: Destination[];
  /** Credentials by target id for the other entries (secrets given inline and not stored). */
  credentials?: (targetId: string) => Partial<HttpOptions> | undefined;
  outbox?: OutboxLimits;
  signal?: AbortSignal;
  send?: SendFunction;
  now?: () => number;
  /** Where the flushing process's config sends each run scope; see {@link DeliverOptions.requeue}. */
  requeue?: RequeueSource;
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
  const report = await outbox.flush({
    ...(opts.targets ? { targets: opts.targets.flatMap((d) => expandTargets(d)) } : {}),
    ...(opts.credentials ? { credentials: opts.credentials } : {}),
    ...(opts.requeue ? { requeue: opts.requeue } : {}),
    ...flushExtras(opts),
  });
  return { ...report, outboxDir: outbox.dir };
}

function flushExtras(opts: {
  sendOptions?: SendOptions;
  signal?: AbortSignal;
  send?: SendFunction;
}): Pick<FlushOptions, 'sendOptions' | 'signal' | 'send'> {
  return {
    ...(opts.sendOptions ? { sendOptions: opts.sendOptions } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.send ? { send: opts.send } : {}),
  };
}

/** Splits a flush report into this payload's outcome per target and the earlier entries'. */
function buildResult(
  destinations: Destination[],
  perDestination: Target[][],
  mine: OutboxEntry[],
  flush: FlushReport,
  outbox: Outbox,
  extra: Pick<DeliverResult, 'superseded' | 'requeued' | 'dropped' | 'warnings'>,
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
      requeued: flush.requeued,
      warnings: flush.warnings,
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
