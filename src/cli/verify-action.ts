/**
 * The `verify` command's implementation: runs the restore drill and prints its result.
 */
import { parseBytes } from '../config/units.js';
import { UsageError } from '../errors.js';
import { runDescribed } from '../jobs/run-description.js';
import type { FailureReason } from '../restic/types.js';
import { formatBytes } from '../util/bytes.js';
import { formatDuration } from '../util/duration.js';
import { backupExitCode, reportDelivery, withDelivery } from './backup-action.js';
import type { CommonOptions } from './commands/common.js';
import { ExitCode } from './exit-codes.js';
import { jobRunContext, startJobCommand } from './job-command.js';

interface Flags extends CommonOptions {
  profile?: string;
  tier?: string;
  sampleFiles?: string;
  sampleBytes?: string;
}

function parseLimits(flags: Flags): { sampleFiles?: number; sampleBytes?: number } {
  const out: { sampleFiles?: number; sampleBytes?: number } = {};
  if (flags.sampleFiles !== undefined) {
    const n = Number(flags.sampleFiles);
    if (!Number.isInteger(n) || n < 1 || n > 10_000)
      throw new UsageError(
        `--sample-files must be a whole number from 1 to 10000, not "${flags.sampleFiles}"`,
      );
    out.sampleFiles = n;
  }
  if (flags.sampleBytes !== undefined) {
    try {
      out.sampleBytes = parseBytes(flags.sampleBytes);
    } catch (err) {
      throw new UsageError(`--sample-bytes: ${(err as Error).message}`);
    }
  }
  return out;
}

/**
 * `verify`: resolves to the exit code: 0 when every file restored as backed up, 1 for a
 * mismatch or a drill that could not run (no snapshot, no space), restic's codes otherwise.
 */
export async function verifyAction(flags: Flags): Promise<number> {
  const limits = parseLimits(flags);
  const cmd = await startJobCommand(flags);
  const { log, unlessInterrupted, done } = cmd;
  try {
    const job = await unlessInterrupted(
      'verify',
      runDescribed(
        {
          job: 'verify',
          ...(flags.profile ? { profile: flags.profile } : {}),
          ...(flags.tier ? { tier: flags.tier } : {}),
          ...limits,
        },
        {
          ...jobRunContext(cmd, flags),
          // A drill's restic lines show only with --verbose.
          onLog: (line, stream) => (stream === 'stderr' ? log.debug(`restic: ${line}`) : undefined),
        },
      ),
    );
    if (!job) return ExitCode.INTERRUPTED;
    for (const w of job.warnings) log.warn(w);
    const head = `verify ${job.profile}/${job.tier}`;
    const took = formatDuration(job.durationMs);
    const r = job.report;
    if (job.outcome === 'success' && r) {
      log.info(
        `${head}: ${r.files} file(s), ${formatBytes(r.bytes)} of snapshot ${r.snapshotId.slice(0, 8)} restored as backed up in ${took}; ` +
          `${r.comparedWithSource} compared byte for byte with the source${r.sourceChanged > 0 ? `, ${r.sourceChanged} changed since the snapshot (not compared)` : ''}` +
          `${r.isResticVerified ? '; restic verified the content' : ''}`,
      );
    } else if (r) {
      log.error(
        `${head} FAILED after ${took}: ${r.mismatches.length} of ${r.files} file(s) did not restore as backed up`,
      );
      for (const m of r.mismatches.slice(0, 20)) log.info(`  ${m.path}: ${m.detail}`);
      if (r.mismatches.length > 20) log.info(`  ... and ${r.mismatches.length - 20} more`);
    } else {
      log.error(`${head} failed after ${took}: ${job.message}`);
    }
    reportDelivery(log, job.finish.delivery);
    if (job.outcome === 'success') return withDelivery(ExitCode.OK, job.finish.delivery);
    const reason = job.reason;
    if (reason === undefined || reason === 'no-snapshot' || reason === 'no-space') return ExitCode.FAILURE;
    return backupExitCode({ outcome: 'failed', reason: reason as FailureReason });
  } finally {
    done();
  }
}
