/**
 * The `forget`, `check` and `stats` commands' implementations.
 */
import type { MaintenanceOptions } from '../jobs/maintenance.js';
import { runCheckJob, runForgetJob, runStatsJob } from '../jobs/maintenance.js';
import type { FailureReason } from '../restic/types.js';
import { formatBytes } from '../util/bytes.js';
import { formatDuration } from '../util/duration.js';
import { backupExitCode, reportDelivery, withDelivery } from './backup-action.js';
import type { CommonOptions } from './commands/common.js';
import { ExitCode } from './exit-codes.js';
import { hookLineLogger, reportNotifications, withNotifications } from './hooks-output.js';
import { type JobCommand, startJobCommand } from './job-command.js';

interface Flags extends CommonOptions {
  profile?: string;
}

interface Prepared extends Pick<JobCommand, 'log' | 'unlessInterrupted' | 'done'> {
  base: MaintenanceOptions;
}

async function prepare(flags: Flags): Promise<Prepared> {
  const { log, loaded, signal, unlessInterrupted, done } = await startJobCommand(flags);
  const base: MaintenanceOptions = {
    loaded,
    ...(flags.profile ? { profile: flags.profile } : {}),
    ...(flags.stateDir ? { stateDir: flags.stateDir } : {}),
    signal,
    onLog: (line, stream) =>
      stream === 'stderr' ? log.info(`restic: ${line}`) : log.debug(`restic: ${line}`),
    onWait: (m) => log.info(m),
    onHookLine: hookLineLogger(log),
  };
  return { log, base, unlessInterrupted, done };
}

/** `forget`: resolves to the exit code. */
export async function forgetAction(flags: Flags & { tier: string; prune?: boolean }): Promise<number> {
  const { log, base, unlessInterrupted, done } = await prepare(flags);
  try {
    const job = await unlessInterrupted(
      'forget',
      runForgetJob({ ...base, tier: flags.tier, ...(flags.prune ? { prune: true } : {}) }),
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
  const { log, base, unlessInterrupted, done } = await prepare(flags);
  try {
    const job = await unlessInterrupted(
      'check',
      runCheckJob({
        ...base,
        ...(flags.readDataSubset ? { readDataSubset: flags.readDataSubset } : {}),
      }),
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
  const { log, base, unlessInterrupted, done } = await prepare(flags);
  try {
    const job = await unlessInterrupted('stats', runStatsJob(base));
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
            `${t.tier}: ${t.snapshots}${t.latest ? ` (newest ${new Date(t.latest).toISOString()})` : ''}`,
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
