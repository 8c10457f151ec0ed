/**
 * The common end of every run: count it in the history, turn its facts into
 * metrics, and deliver them (through the outbox, so nothing is lost).
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { commonLabels, renderSamples, type Sample } from '../metrics/build.js';
import { toBatch } from '../sinks/batch.js';
import { deliver } from '../sinks/deliver.js';
import type { RequeueSource, RunScopeRef } from '../sinks/outbox.js';
import type { SendOptions } from '../sinks/target.js';
import type { DeliveryReport, Destination, MetricsBatch, MetricsPayload } from '../sinks/types.js';
import { ensureStateDir } from '../state/dir.js';
import {
  appendRun,
  type HistoryOutcome,
  type RunKind,
  type RunRecord,
  runCounters,
} from '../state/history.js';
import { mkdir } from '../state/io.js';
import { saveLatestMetrics } from '../state/latest.js';
import type { RunCounters } from './run-metrics.js';

export type { HistoryOutcome } from '../state/history.js';

/** Where a run's metrics go: the push's job and grouping, extra series labels, destinations. */
export interface MetricsTarget {
  job: string;
  grouping: Record<string, string>;
  /** Extra labels for every series (from the config's `metrics.labels`). */
  labels?: Record<string, string>;
  destinations: Destination[];
  /** True when no destination was configured and the metrics should also be printed. */
  isFallback?: boolean;
}

export interface FinishRunOptions {
  stateDir: string;
  kind: RunKind;
  profile?: string;
  tier?: string;
  host?: string;
  startedAt: number;
  endedAt: number;
  outcome: HistoryOutcome;
  exitCode: number | null;
  reason?: string;
  /** The run's error message: one line, secrets masked, at most 500 characters. */
  error?: string;
  summary?: unknown;
  /** The run's id. @default a new UUID */
  runId?: string;
  /** What its hooks and notifications did, for the history. */
  hooked?: Pick<RunRecord, 'hooks' | 'undeliveredNotifications'>;
  target: MetricsTarget;
  /** Builds the samples once the run counters (this run included) are known. */
  samples: (counters: RunCounters) => Sample[];
  sendOptions?: SendOptions;
  outbox?: { maxEntries?: number; maxBytes?: number };
  /**
   * Where the config sends each run scope: earlier recorded runs whose metrics were not
   * confirmed delivered are re-queued before this run's (see `sinks/outbox/requeue.ts`).
   * @default none
   */
  requeue?: RequeueSource;
}

export interface FinishRunResult {
  runId: string;
  /** The exposition text pushed (series labels only; job and grouping are the push's). */
  text: string;
  /** What was delivered: the text with its job, grouping and time. */
  payload: MetricsPayload;
  delivery: DeliveryReport;
  warnings: string[];
}

/**
 * Records the run in the history and delivers its metrics with POST to the group
 * `{job, grouping}`. The metrics are stored in the outbox first, then the run is
 * recorded, then they are sent: a `kill -9` at any point leaves either a recorded run
 * whose metrics wait in the outbox, or an unrecorded run whose stored metrics the next
 * flush drops. So every run the history shows has its metrics delivered or queued, and
 * the gateway never shows a run the history lacks.
 */
export async function finishRun(opts: FinishRunOptions): Promise<FinishRunResult> {
  const warnings: string[] = [];
  // Before anything is read from or written to it: refuse a state directory others could plant in.
  await ensureStateDir(opts.stateDir);
  const runId = opts.runId ?? randomUUID();
  const host = opts.host ?? hostname();
  const scope = {
    kind: opts.kind,
    job: opts.target.job,
    ...(opts.profile !== undefined ? { profile: opts.profile } : {}),
    ...(opts.tier !== undefined ? { tier: opts.tier } : {}),
  };
  const before = await runCounters(opts.stateDir, scope);
  warnings.push(...before.warnings);
  const counters: RunCounters = { ...before.counts };
  counters[opts.outcome] = (counters[opts.outcome] ?? 0) + 1;

  const labels = commonLabels(
    { profile: opts.profile, tier: opts.tier, host, ...(opts.target.labels ?? {}) },
    Object.keys(opts.target.grouping),
  );
  const text = renderSamples(opts.samples(counters), labels);
  const raw: MetricsPayload = {
    text,
    job: opts.target.job,
    grouping: opts.target.grouping,
    method: 'post',
    measuredAt: opts.endedAt,
  };
  // Parsed and validated once: the latest metrics and every sink use these families. Invalid
  // metrics are deliver()'s to report, after the run is recorded.
  const payload: MetricsBatch | MetricsPayload = parseOnce(raw);
  // The daemon serves these on /metrics; a failure here must not cost the run its delivery.
  const latest = {
    ...scope,
    grouping: opts.target.grouping,
    text,
    ...('families' in payload ? { families: payload.families } : {}),
    runId,
  };
  await saveLatestMetrics(opts.stateDir, latest).catch((err) => {
    warnings.push(
      `could not save the latest metrics for the daemon: ${err instanceof Error ? err.message : err}`,
    );
  });
  let isRecorded = false;
  const record = async () => {
    if (isRecorded) return;
    isRecorded = true;
    const appended = await appendRun(opts.stateDir, {
      v: 1,
      id: runId,
      ...scope,
      startedAt: opts.startedAt,
      endedAt: opts.endedAt,
      outcome: opts.outcome,
      exitCode: opts.exitCode,
      ...(opts.reason !== undefined ? { reason: opts.reason } : {}),
      ...(opts.error !== undefined ? { error: opts.error } : {}),
      ...(opts.summary !== undefined ? { summary: opts.summary } : {}),
      ...(opts.hooked?.hooks?.length ? { hooks: opts.hooked.hooks } : {}),
      ...(opts.hooked?.undeliveredNotifications?.length
        ? { undeliveredNotifications: opts.hooked.undeliveredNotifications }
        : {}),
    });
    warnings.push(...appended.warnings);
  };
  try {
    if (opts.target.isFallback) {
      // The fallback textfile lives in our own state directory, which we create; a
      // configured textfile's folder belongs to node_exporter and must already exist.
      for (const d of opts.target.destinations) {
        if (d.kind === 'textfile') await mkdir(dirname(d.path), { recursive: true, mode: 0o700 });
      }
    }
    const delivery = await deliver(payload, opts.target.destinations, {
      stateDir: opts.stateDir,
      isStateDirChecked: true,
      ...(opts.sendOptions ? { sendOptions: opts.sendOptions } : {}),
      ...(opts.outbox ? { outbox: opts.outbox } : {}),
      ...(opts.requeue ? { requeue: opts.requeue } : {}),
      run: { id: runId, scope: runScopeOf(scope), record },
    });
    return { runId, text, payload, delivery, warnings };
  } catch (err) {
    // The metrics could not even be stored: the run still happened, record it if we can.
    if (!isRecorded) await record().catch(() => {});
    throw err;
  }
}

function runScopeOf(scope: { kind: string; profile?: string; tier?: string }): RunScopeRef {
  return {
    kind: scope.kind,
    ...(scope.profile !== undefined ? { profile: scope.profile } : {}),
    ...(scope.tier !== undefined ? { tier: scope.tier } : {}),
  };
}

function parseOnce(payload: MetricsPayload): MetricsBatch | MetricsPayload {
  try {
    return toBatch(payload);
  } catch {
    return payload;
  }
}
