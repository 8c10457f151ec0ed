/**
 * What a backup run pushes: the seed's nine gauges when a snapshot was written,
 * and always the truth about the run (status, exit code, end time, duration).
 */
import type { Sample } from '../metrics/build.js';
import { BACKUP_METRICS as M, SEED_METRICS as S, type STATUS_VALUE } from '../metrics/names.js';
import { reportedExitCode } from '../restic/exit-status.js';
import type { BackupResult } from '../restic/types.js';
import { buildInfoSample, type RunCounters, runSamples } from './run-metrics.js';

/** Status of a backup result as pushed: success, warning (incomplete) or failed. */
export function backupStatus(result: BackupResult): keyof typeof STATUS_VALUE {
  if (result.outcome === 'success') return 'success';
  if (result.outcome === 'incomplete') return 'warning';
  return 'failed';
}

export interface BackupMetricsContext {
  counters: RunCounters;
  resticprom: string;
  restic: string | undefined;
}

/**
 * Samples for one backup run. The seed's nine gauges, bytes added, blobs and the
 * snapshot id are set only when restic wrote a snapshot (success or incomplete),
 * so a failed run never looks like a good backup. `last_success_timestamp` is set
 * only on full success; pushed with POST it survives later failures.
 */
export function backupSamples(result: BackupResult, ctx: BackupMetricsContext): Sample[] {
  const status = backupStatus(result);
  const samples: Sample[] = runSamples(M, {
    status,
    exitCode: reportedExitCode(result),
    durationMs: result.durationMs,
    endedAt: result.endedAt,
    counters: ctx.counters,
  });
  samples.push({ def: M.unreadableFiles, value: result.errorCount });
  const sum = result.summary;
  if (sum && status !== 'failed' && !sum.dryRun) {
    samples.push(
      { def: S.time, value: result.durationMs / 1000 },
      { def: S.processedFiles, value: sum.totalFilesProcessed },
      { def: S.processedBytes, value: sum.totalBytesProcessed },
      { def: S.filesNew, value: sum.filesNew },
      { def: S.filesChanged, value: sum.filesChanged },
      { def: S.filesUnchanged, value: sum.filesUnmodified },
      { def: S.dirsNew, value: sum.dirsNew },
      { def: S.dirsChanged, value: sum.dirsChanged },
      { def: S.dirsUnchanged, value: sum.dirsUnmodified },
      { def: M.addedBytes, value: sum.dataAdded },
      { def: M.dataBlobs, value: sum.dataBlobs },
      { def: M.treeBlobs, value: sum.treeBlobs },
    );
    if (sum.dataAddedPacked !== undefined)
      samples.push({ def: M.addedPackedBytes, value: sum.dataAddedPacked });
    // restic 0.14 reports the 8-hex short id, 0.17+ the full id: the label is always the
    // short id that `restic snapshots` shows, so one dashboard query serves every version.
    if (sum.snapshotId)
      samples.push({ def: M.snapshotInfo, value: 1, labels: { snapshot_id: sum.snapshotId.slice(0, 8) } });
  }
  samples.push(buildInfoSample(ctx.resticprom, ctx.restic));
  return samples;
}
