/**
 * The `backup` command's implementation: progress, signals, summary, exit code.
 */
import { runDescribed } from '../jobs/run-description.js';
import { formatExposition } from '../metrics/exposition.js';
import type { BackupResult, FailureReason, RunOutcome } from '../restic/types.js';
import { textfileFamilies } from '../sinks/textfile.js';
import type { DeliveryReport } from '../sinks/types.js';
import { formatBytes } from '../util/bytes.js';
import { formatDuration } from '../util/duration.js';
import type { CommonOptions } from './commands/common.js';
import { ExitCode } from './exit-codes.js';
import { hookLineLogger, reportNotifications, withNotifications } from './hooks-output.js';
import { jobRunContext, startJobCommand } from './job-command.js';
import type { Logger } from './output.js';
import { createProgressDisplay } from './progress.js';

/** Exit code for the outcome of a restic run (before delivery is considered). */
export function backupExitCode(result: { outcome: RunOutcome; reason?: FailureReason | undefined }): number {
  if (result.outcome === 'success') return ExitCode.OK;
  if (result.outcome === 'incomplete') return ExitCode.INCOMPLETE;
  const byReason: Record<FailureReason, number> = {
    'repository-missing': ExitCode.REPO_MISSING,
    'repository-locked': ExitCode.REPO_LOCKED,
    'wrong-password': ExitCode.WRONG_PASSWORD,
    'authentication-failed': ExitCode.AUTH_FAILED,
    interrupted: ExitCode.INTERRUPTED,
    'inactivity-timeout': ExitCode.TIMEOUT,
    'spawn-failed': ExitCode.FAILURE,
    'hook-failed': ExitCode.FAILURE,
    other: ExitCode.FAILURE,
  };
  return byReason[result.reason ?? 'other'];
}

/** Exit code once delivery is known: a delivery problem shows only when the job itself succeeded. */
export function withDelivery(code: number, delivery: DeliveryReport): number {
  if (code !== ExitCode.OK) return code;
  if (delivery.deadLettered.length > 0) return ExitCode.FAILURE;
  if (!delivery.isComplete) return ExitCode.TEMPFAIL;
  return code;
}

/** Prints what happened to a run's metrics: one line per destination problem. */
export function reportDelivery(log: Logger, delivery: DeliveryReport): void {
  for (const d of delivery.delivered) log.info(`metrics delivered to ${d}`);
  for (const q of delivery.queued)
    log.warn(`metrics not delivered to ${q.destination}: ${q.reason}; kept in the outbox`);
  for (const d of delivery.deadLettered)
    log.error(`metrics refused by ${d.destination}: ${d.reason}; moved to the dead-letter folder`);
  for (const r of (delivery as { requeued?: { reason?: string }[] }).requeued ?? [])
    if (r.reason) log.info(r.reason);
  for (const w of (delivery as { warnings?: string[] }).warnings ?? []) log.warn(w);
}

function describeResult(profile: string, tier: string, r: BackupResult): string {
  const head = `backup ${profile}/${tier}`;
  const took = formatDuration(r.durationMs);
  const s = r.summary;
  if (r.outcome === 'failed')
    return `${head} failed after ${took}: ${r.message ?? r.reason ?? 'restic failed'}`;
  const details = s
    ? `snapshot ${s.snapshotId?.slice(0, 8) ?? '(none)'}, ${s.totalFilesProcessed} files (${s.filesNew} new, ${s.filesChanged} changed), ` +
      `${formatBytes(s.totalBytesProcessed)} processed, ${formatBytes(s.dataAdded)} added`
    : 'no summary from restic';
  if (r.outcome === 'incomplete') {
    return `${head} incomplete in ${took}: ${r.errorCount} item(s) could not be read; ${details}`;
  }
  return `${head} succeeded in ${took}: ${details}`;
}

/** Runs the backup command; resolves to the exit code. */
export async function backupAction(
  flags: CommonOptions & { profile?: string; tier: string },
): Promise<number> {
  const cmd = await startJobCommand(flags);
  const { log, unlessInterrupted, done } = cmd;
  const progress = await createProgressDisplay({ isQuiet: Boolean(flags.quiet) || log.format === 'json' });
  const logHookLine = hookLineLogger(log);
  try {
    const job = await unlessInterrupted(
      'backup',
      runDescribed(
        { job: 'backup', ...(flags.profile ? { profile: flags.profile } : {}), tier: flags.tier },
        {
          ...jobRunContext(cmd, flags),
          onProgress: (p) => progress.update(p),
          onItemError: (e) => {
            progress.clear();
            log.warn(`could not read ${e.item}: ${e.message}`, { item: e.item, during: e.during });
          },
          onLog: (line, stream) => {
            progress.clear();
            if (stream === 'stderr') log.info(`restic: ${line}`);
            else log.debug(`restic: ${line}`);
          },
          onWait: (msg) => {
            progress.clear();
            log.info(msg);
          },
          onHookLine: (hook, line) => {
            progress.clear();
            logHookLine(hook, line);
          },
        },
      ),
    );
    if (!job) return ExitCode.INTERRUPTED;
    progress.done();
    for (const w of job.warnings) log.warn(w);
    const r = job.result;
    const line = describeResult(job.profile, job.tier, r);
    const fields = {
      profile: job.profile,
      tier: job.tier,
      outcome: r.outcome,
      reason: r.reason,
      exitCode: r.exitCode,
      durationMs: Math.round(r.durationMs),
      snapshotId: r.summary?.snapshotId,
      unreadable: r.errorCount,
    };
    if (r.outcome === 'failed') log.error(line, fields);
    else if (r.outcome === 'incomplete') log.warn(line, fields);
    if (r.outcome === 'success') log.info(line, fields);
    reportDelivery(log, job.finish.delivery);
    reportNotifications(log, job.hooked);
    if (job.isFallback) {
      log.info('no metrics destination configured; the metrics, as written to the textfile:');
      process.stdout.write(formatExposition(textfileFamilies(job.finish.payload)));
    }
    let code = withNotifications(withDelivery(backupExitCode(r), job.finish.delivery), job.hooked);
    if (job.forget) {
      const f = job.forget.result;
      const head = `forget ${job.profile}/${job.tier} (forget-after-backup)`;
      if (f.outcome === 'failed') log.error(`${head} failed: ${f.message}`);
      else if (f.outcome === 'incomplete') log.warn(`${head} incomplete: ${f.message}`);
      else log.info(`${head}: kept ${f.keptCount}, removed ${f.removedCount} snapshot(s)`);
      reportDelivery(log, job.forget.finish.delivery);
      // The backup's own outcome wins; a failed forget after a good backup is still a failure.
      if (code === ExitCode.OK) code = withDelivery(backupExitCode(f), job.forget.finish.delivery);
    }
    return code;
  } finally {
    progress.done();
    done();
  }
}
