/**
 * The daemon's default runner: a scheduled slot's run, described as the CLI
 * describes it ({@link describeScheduledRun}) and run the same way
 * ({@link runDescribed}), summed up in one log line.
 */
import type { LoadedConfig } from '../config/index.js';
import { type BackupJobResult, backupOutcome } from '../jobs/backup.js';
import type { FinishRunResult } from '../jobs/finish-run.js';
import type { CheckJobResult, StatsJobResult } from '../jobs/maintenance.js';
import { type RunContext, type RunDescription, runDescribed } from '../jobs/run-description.js';
import type { VerifyJobResult } from '../jobs/verify.js';
import type { BackupResult } from '../restic/types.js';
import { formatBytes } from '../util/bytes.js';
import { formatDuration } from '../util/duration.js';
import type { ScheduledJob } from './plan.js';
import type { RunTrigger } from './run-queue.js';

/** One run the daemon asks for. */
export interface DaemonRunRequest {
  loaded: LoadedConfig;
  /** What to run: a tier's backup, or the profile's repository check, stats or verify. */
  job: ScheduledJob;
  profile: string;
  /** The tier, for a backup; absent for check, stats and verify. */
  tier?: string;
  /** The run this slot stands for (what `resticprom <job> --profile P [--tier T]` runs). */
  description: RunDescription;
  trigger: RunTrigger;
  stateDir: string;
  env: NodeJS.ProcessEnv;
  /** Aborted when the daemon stops and the grace period is over. */
  signal: AbortSignal;
  /** Each line a hook of the run prints (escape it before printing). */
  onHookLine?: (hook: { stage: string; index: number }, line: string) => void;
}

/** What a run reports back, for the daemon's log line. */
export interface DaemonRunOutcome {
  /** success, warning, failed or interrupted (as in the history). */
  outcome: string;
  /** One line for people, e.g. `succeeded in 3s: 12 files, 1.2 MiB added`. */
  message: string;
  /** Extra fields for JSON logs. */
  fields?: Record<string, unknown>;
  /** Log level of the line. @default error for `failed`, info for `success`, else warn */
  level?: 'info' | 'warn' | 'error';
}

/** Runs a slot's run ({@link DaemonRunRequest.description}) and sums it up for the log. */
export async function runInDaemon(req: DaemonRunRequest): Promise<DaemonRunOutcome> {
  const d = req.description;
  const ctx = contextOf(req);
  if (d.job === 'check') return checkOutcome(await runDescribed(d, ctx));
  if (d.job === 'stats') return statsOutcome(await runDescribed(d, ctx));
  if (d.job === 'verify') return verifyOutcome(await runDescribed(d, ctx));
  if (d.job === 'backup') return backupOutcomeOf(await runDescribed(d, ctx));
  throw new Error(`the daemon does not schedule ${d.job} runs`);
}

/** `; metrics delivered to ...` (or queued, or refused) for a run's log line. */
function deliveryText(d: FinishRunResult['delivery']): string {
  if (d.queued.length > 0)
    return `; metrics queued in the outbox (${d.queued.map((q) => q.destination).join(', ')})`;
  if (d.deadLettered.length > 0)
    return `; metrics refused by ${d.deadLettered.map((q) => q.destination).join(', ')}`;
  if (d.delivered.length > 0) return `; metrics delivered to ${d.delivered.join(', ')}`;
  return '';
}

function contextOf(req: DaemonRunRequest): RunContext {
  return {
    loaded: req.loaded,
    env: req.env,
    signal: req.signal,
    stateDir: req.stateDir,
    ...(req.onHookLine ? { onHookLine: req.onHookLine } : {}),
  };
}

/**
 * A backup's line (its `forget-after-backup` ran in the same repository slot: the
 * slot is held until the backup's run returns).
 */
function backupOutcomeOf(job: BackupJobResult): DaemonRunOutcome {
  const r = job.result;
  const outcome = backupOutcome(r);
  const message = describe(outcome, r) + deliveryText(job.finish.delivery);
  const fields: Record<string, unknown> = {
    exitCode: r.exitCode,
    reason: r.reason,
    durationMs: Math.round(r.durationMs),
    snapshotId: r.summary?.snapshotId,
    filesProcessed: r.summary?.totalFilesProcessed,
    bytesAdded: r.summary?.dataAdded,
    warnings: job.warnings.length > 0 ? job.warnings : undefined,
  };
  let isForgetFailed = false;
  let forgetText = '';
  if (job.forget) {
    forgetText = `; forget: ${job.forget.result.message}`;
    fields.forget = {
      outcome: job.forget.result.outcome,
      kept: job.forget.result.keptCount,
      removed: job.forget.result.removedCount,
    };
    isForgetFailed = job.forget.result.outcome === 'failed';
  }
  return {
    outcome,
    message: message + forgetText,
    fields,
    ...(isForgetFailed && outcome === 'success' ? { level: 'warn' as const } : {}),
  };
}

/** A `restic check`'s line (run with the profile's `check.read-data-subset`). */
function checkOutcome(job: CheckJobResult): DaemonRunOutcome {
  const r = job.result;
  const outcome = r.reason === 'interrupted' ? 'interrupted' : r.outcome === 'success' ? 'success' : 'failed';
  const text = outcomeText(outcome, r.durationMs, (took) => `found no errors in ${took}`, r.message);
  return runOutcome(outcome, text, job, {
    exitCode: r.exitCode,
    reason: r.reason,
    durationMs: Math.round(r.durationMs),
    errors: r.errorCount,
  });
}

/** A stats run's line: repository size and snapshots. */
function statsOutcome(job: StatsJobResult): DaemonRunOutcome {
  const s = job.stats;
  const outcome = job.error?.reason === 'interrupted' ? 'interrupted' : s ? 'success' : 'failed';
  const text = outcomeText(
    outcome,
    job.durationMs,
    (took) =>
      `succeeded in ${took}: ${formatBytes(s?.raw.totalSize ?? 0)} stored, ${formatBytes(s?.restore.totalSize ?? 0)} restored, ${s?.raw.snapshotsCount ?? 0} snapshot(s)`,
    job.error?.message ?? 'restic failed',
  );
  return runOutcome(outcome, text, job, {
    exitCode: job.error ? (job.error.exitCode ?? null) : 0,
    reason: job.error?.reason,
    durationMs: Math.round(job.durationMs),
    ...(s ? { rawSizeBytes: s.raw.totalSize, snapshots: s.raw.snapshotsCount } : {}),
  });
}

/** A restore drill's line (run with the profile's `verify` settings). */
function verifyOutcome(job: VerifyJobResult): DaemonRunOutcome {
  const outcome = job.reason === 'interrupted' ? 'interrupted' : job.outcome;
  const text = outcomeText(
    outcome,
    job.durationMs,
    (took) => `succeeded in ${took}: ${job.message}`,
    job.message,
  );
  return runOutcome(outcome, text, job, {
    exitCode: job.exitCode,
    reason: job.reason,
    durationMs: Math.round(job.durationMs),
    tier: job.tier,
    files: job.report?.files,
    mismatches: job.report?.mismatches.length,
  });
}

/** A repository run's outcome: its line with where its metrics went, its fields and warnings. */
function runOutcome(
  outcome: string,
  text: string,
  job: { finish: FinishRunResult; warnings: string[] },
  fields: Record<string, unknown>,
): DaemonRunOutcome {
  return {
    outcome,
    message: text + deliveryText(job.finish.delivery),
    fields: { ...fields, warnings: job.warnings.length > 0 ? job.warnings : undefined },
  };
}

/**
 * A run's line by its outcome: what `success` says, `interrupted after 3s`, or
 * `failed after 3s: <why>`.
 */
function outcomeText(
  outcome: string,
  durationMs: number,
  success: (took: string) => string,
  failure: string,
): string {
  const took = formatDuration(durationMs);
  if (outcome === 'success') return success(took);
  if (outcome === 'interrupted') return `interrupted after ${took}`;
  return `failed after ${took}: ${failure}`;
}

function describe(outcome: string, r: BackupResult): string {
  const s = r.summary;
  const details = s
    ? `${s.totalFilesProcessed} files (${s.filesNew} new, ${s.filesChanged} changed), ${formatBytes(s.totalBytesProcessed)} processed, ${formatBytes(s.dataAdded)} added`
    : 'no summary from restic';
  if (outcome === 'warning')
    return `incomplete in ${formatDuration(r.durationMs)}: ${r.errorCount} item(s) unreadable; ${details}`;
  return outcomeText(
    outcome,
    r.durationMs,
    (took) => `succeeded in ${took}: ${details}`,
    r.message ?? r.reason ?? 'restic failed',
  );
}
