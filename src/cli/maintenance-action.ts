/**
 * The `forget`, `check` and `stats` commands' implementations.
 */
import type { MaintenanceOptions } from '../jobs/maintenance.js';
import { previewForgetJob } from '../jobs/maintenance.js';
import { type RunContext, runDescribed } from '../jobs/run-description.js';
import type { ForgetResult } from '../restic/forget.js';
import type { FailureReason } from '../restic/types.js';
import { formatBytes } from '../util/bytes.js';
import { formatDuration } from '../util/duration.js';
import { formatClockTime } from '../util/table.js';
import { backupExitCode, reportDelivery, withDelivery } from './backup-action.js';
import type { CommonOptions } from './commands/common.js';
import { ExitCode } from './exit-codes.js';
import { hookLineLogger, reportNotifications, withNotifications } from './hooks-output.js';
import { type JobCommand, jobRunContext, repositoryJobOptions, startJobCommand } from './job-command.js';

interface Flags extends CommonOptions {
  profile?: string;
}

interface Prepared extends Pick<JobCommand, 'log' | 'unlessInterrupted' | 'done'> {
  /** What the run runs in. */
  ctx: RunContext;
  /** `--profile`, for the run's description. */
  profile: { profile?: string };
  /** The forget preview's options (a preview is not a run). */
  base: MaintenanceOptions;
}

async function prepare(flags: Flags): Promise<Prepared> {
  const cmd = await startJobCommand(flags);
  const { log, unlessInterrupted, done } = cmd;
  const onHookLine = hookLineLogger(log);
  const ctx: RunContext = { ...jobRunContext(cmd, flags), onHookLine };
  const base: MaintenanceOptions = { ...repositoryJobOptions(cmd, flags), onHookLine };
  return {
    log,
    ctx,
    profile: flags.profile ? { profile: flags.profile } : {},
    base,
    unlessInterrupted,
    done,
  };
}

/** `forget`: resolves to the exit code. */
export async function forgetAction(
  flags: Flags & { tier: string; prune?: boolean; dryRun?: boolean },
): Promise<number> {
  const { log, ctx, profile, base, unlessInterrupted, done } = await prepare(flags);
  try {
    if (flags.dryRun) {
      const preview = await unlessInterrupted(
        'forget --dry-run',
        previewForgetJob({ ...base, tier: flags.tier, ...(flags.prune ? { prune: true } : {}) }),
      );
      if (!preview) return ExitCode.INTERRUPTED;
      for (const w of preview.warnings) log.warn(w);
      const r = preview.result;
      if (r.outcome === 'failed') {
        log.error(`forget --dry-run ${preview.profile}/${preview.tier} failed: ${r.message}`);
        return backupExitCode(r);
      }
      process.stdout.write(formatForgetPreview(preview.profile, preview.tier, r));
      return ExitCode.OK;
    }
    const job = await unlessInterrupted(
      'forget',
      runDescribed(
        { job: 'forget', ...profile, tier: flags.tier, ...(flags.prune ? { prune: true } : {}) },
        ctx,
      ),
    );
    if (!job) return ExitCode.INTERRUPTED;
    for (const w of job.warnings) log.warn(w);
    const r = job.result;
    const head = `forget ${job.profile}/${job.tier}`;
    if (r.outcome === 'failed')
      log.error(`${head} failed after ${formatDuration(r.durationMs)}: ${r.message}`);
    else if (r.outcome === 'incomplete')
      log.warn(`${head} incomplete after ${formatDuration(r.durationMs)}: ${r.message}`);
    else
      log.info(
        `${head}: kept ${r.keptCount}, removed ${r.removedCount} snapshot(s) in ${formatDuration(r.durationMs)}`,
      );
    reportDelivery(log, job.finish.delivery);
    reportNotifications(log, job.hooked);
    return withNotifications(withDelivery(backupExitCode(r), job.finish.delivery), job.hooked);
  } finally {
    done();
  }
}

/** `check`: resolves to the exit code (1 when the repository has errors). */
export async function checkAction(flags: Flags & { readDataSubset?: string }): Promise<number> {
  const { log, ctx, profile, unlessInterrupted, done } = await prepare(flags);
  try {
    const job = await unlessInterrupted(
      'check',
      runDescribed(
        {
          job: 'check',
          ...profile,
          ...(flags.readDataSubset ? { readDataSubset: flags.readDataSubset } : {}),
        },
        ctx,
      ),
    );
    if (!job) return ExitCode.INTERRUPTED;
    for (const w of job.warnings) log.warn(w);
    const r = job.result;
    const head = `check ${job.profile}`;
    if (r.outcome === 'failed') {
      log.error(`${head} failed after ${formatDuration(r.durationMs)}: ${r.message}`);
      for (const m of r.messages.slice(0, 10)) log.info(`  ${m}`);
    } else log.info(`${head}: no errors found in ${formatDuration(r.durationMs)}`);
    reportDelivery(log, job.finish.delivery);
    reportNotifications(log, job.hooked);
    return withNotifications(withDelivery(backupExitCode(r), job.finish.delivery), job.hooked);
  } finally {
    done();
  }
}

/** `stats`: resolves to the exit code. */
export async function statsAction(flags: Flags & { json?: boolean }): Promise<number> {
  const { log, ctx, profile, unlessInterrupted, done } = await prepare(flags);
  try {
    const job = await unlessInterrupted('stats', runDescribed({ job: 'stats', ...profile }, ctx));
    if (!job) return ExitCode.INTERRUPTED;
    for (const w of job.warnings) log.warn(w);
    if (!job.stats) {
      log.error(`stats ${job.profile} failed: ${job.error?.message ?? 'restic failed'}`);
      reportDelivery(log, job.finish.delivery);
      reportNotifications(log, job.hooked);
      const reason = job.error?.reason as FailureReason | undefined;
      return backupExitCode({ outcome: 'failed', ...(reason ? { reason } : {}) });
    }
    const s = job.stats;
    if (flags.json) {
      process.stdout.write(`${JSON.stringify({ profile: job.profile, ...s }, null, 2)}\n`);
    } else {
      const tiers = s.tiers
        .map(
          (t) =>
            `${t.tier}: ${t.snapshots}${t.latest ? ` (newest ${formatClockTime(t.latest, ctx.loaded.config.timezone)})` : ''}`,
        )
        .join(', ');
      process.stdout.write(
        `repository ${job.profile}: ${formatBytes(s.raw.totalSize)} stored, ${formatBytes(s.restore.totalSize)} restored, ` +
          `${s.raw.snapshotsCount} snapshot(s)\n  per tier: ${tiers}\n`,
      );
    }
    reportDelivery(log, job.finish.delivery);
    reportNotifications(log, job.hooked);
    return withNotifications(withDelivery(ExitCode.OK, job.finish.delivery), job.hooked);
  } finally {
    done();
  }
}

/** `would remove 2 of 9 snapshot(s) of nfs/daily (nothing removed, nothing pushed):` then one short id a line. */
function formatForgetPreview(profile: string, tier: string, r: ForgetResult): string {
  const total = r.keptCount + r.removedCount;
  const head = `forget --dry-run ${profile}/${tier}: would keep ${r.keptCount} and remove ${r.removedCount} of ${total} snapshot(s); nothing was removed or pushed\n`;
  const lines = r.groups.flatMap((g) => g.removed.map((id) => `  remove ${id.slice(0, 8)}\n`));
  return head + lines.join('');
}
