/**
 * The `init`, `unlock` and `snapshots` commands' implementations.
 */
import { ResticCommandError } from '../errors.js';
import { listSnapshotsJob, runInitJob, runUnlockJob } from '../jobs/repository-admin.js';
import type { RepositoryRunOptions } from '../jobs/repository-run.js';
import type { FailureReason } from '../restic/types.js';
import { describeLock } from '../restic/unlock.js';
import { formatBytes } from '../util/bytes.js';
import { formatDuration } from '../util/duration.js';
import { escapeControl } from '../util/escape.js';
import { formatClockTime, formatTable } from '../util/table.js';
import { backupExitCode } from './backup-action.js';
import type { CommonOptions } from './commands/common.js';
import { ExitCode } from './exit-codes.js';
import { type JobCommand, repositoryJobOptions, startJobCommand } from './job-command.js';

interface Flags extends CommonOptions {
  profile?: string;
}

/** Runs `fn` with the job options; a restic failure prints one line and exits with its code. */
async function withJob(
  flags: Flags,
  command: string,
  fn: (base: RepositoryRunOptions, cmd: JobCommand) => Promise<number>,
): Promise<number> {
  const cmd = await startJobCommand(flags);
  const { log } = cmd;
  const base = repositoryJobOptions(cmd, flags);
  try {
    const code = await cmd.unlessInterrupted(command, fn(base, cmd));
    return code ?? ExitCode.INTERRUPTED;
  } catch (err) {
    if (!(err instanceof ResticCommandError)) throw err;
    log.error(`${command} failed: ${escapeControl(err.message)}`);
    return backupExitCode({ outcome: 'failed', reason: err.reason as FailureReason });
  } finally {
    cmd.done();
  }
}

/** `init`: resolves to the exit code. */
export function initAction(flags: Flags): Promise<number> {
  return withJob(flags, 'init', async (base, { log }) => {
    const job = await runInitJob(base);
    for (const w of job.warnings) log.warn(w);
    if (job.result.outcome !== 'success') {
      log.error(`init ${job.profile} failed: ${escapeControl(job.result.message)}`);
      return backupExitCode(job.result);
    }
    log.info(`init ${job.profile}: created the repository ${escapeControl(job.repository)}`);
    return ExitCode.OK;
  });
}

/** `unlock`: resolves to the exit code. */
export function unlockAction(flags: Flags): Promise<number> {
  return withJob(flags, 'unlock', async (base, { log }) => {
    const job = await runUnlockJob(base);
    for (const w of job.warnings) log.warn(w);
    if (job.removed.length === 0) log.info(`unlock ${job.profile}: no stale locks`);
    for (const l of job.removed)
      log.info(`unlock ${job.profile}: removed stale ${escapeControl(describeLock(l))}`);
    for (const l of job.kept)
      log.info(`unlock ${job.profile}: kept ${escapeControl(describeLock(l))}: its process is alive`);
    return ExitCode.OK;
  });
}

/** `snapshots`: resolves to the exit code. */
export function snapshotsAction(flags: Flags & { tier?: string; json?: boolean }): Promise<number> {
  return withJob(flags, 'snapshots', async (base, { log, loaded }) => {
    const job = await listSnapshotsJob({ ...base, ...(flags.tier ? { tier: flags.tier } : {}) });
    for (const w of job.warnings) log.warn(w);
    const now = Date.now();
    if (flags.json) {
      const tiers = job.tiers.map((t) => ({
        tier: t.tier,
        snapshots: t.snapshots.map((s) => ({
          id: s.id,
          shortId: s.shortId,
          time: s.time,
          ageMs: now - s.time,
          size: s.summary?.totalBytesProcessed ?? null,
          hostname: s.hostname,
          paths: s.paths,
        })),
      }));
      process.stdout.write(`${JSON.stringify({ profile: job.profile, tiers }, null, 2)}\n`);
      return ExitCode.OK;
    }
    const tz = loaded.config.timezone;
    const blocks = job.tiers.map((t) => {
      const head = `${escapeControl(job.profile)}/${escapeControl(t.tier)}: ${t.snapshots.length} snapshot(s)\n`;
      if (t.snapshots.length === 0) return head;
      const rows = [...t.snapshots]
        .reverse()
        .map((s) => [
          formatClockTime(s.time, tz),
          formatDuration(Math.max(0, now - s.time)),
          s.summary ? formatBytes(s.summary.totalBytesProcessed) : '-',
          escapeControl(s.shortId),
        ]);
      return head + formatTable(['TIME', 'AGE', 'SIZE', 'ID'], rows);
    });
    process.stdout.write(blocks.join('\n'));
    return ExitCode.OK;
  });
}
