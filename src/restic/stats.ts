/**
 * Runs `restic stats --json` (modes `restore-size` and `raw-data`).
 */
import { ResticCommandError } from '../errors.js';
import type { ResticCommandOptions } from './backup.js';
import { assertResticSucceeded, findJsonLine, runResticCommand } from './run.js';

/** Options of {@link runStats}. */
export interface RunStatsOptions extends ResticCommandOptions {
  /**
   * `restore-size`: the size of the files as restored; `raw-data`: what the repository stores.
   * @default 'restore-size'
   */
  mode?: 'raw-data' | 'restore-size';
  /** Only snapshots with this tag (`--tag`, one per entry). */
  tags?: string[];
  /** Only these snapshot ids (or `latest`). @default every snapshot */
  snapshotIds?: string[];
}

/** What `restic stats` reported. */
export interface StatsResult {
  mode: 'raw-data' | 'restore-size';
  /** Bytes: restored size, or stored size (raw-data, after compression from 0.15). */
  totalSize: number;
  /** Files (restore-size; 0 in raw-data). */
  totalFileCount?: number;
  /** Blobs (raw-data). */
  totalBlobCount?: number;
  snapshotsCount: number;
  /** raw-data, restic 0.15+: size before compression, ratio, progress (%) and space saving (%). */
  totalUncompressedSize?: number;
  compressionRatio?: number;
  compressionProgress?: number;
  compressionSpaceSaving?: number;
  durationMs: number;
}

interface ResticStats {
  total_size?: number;
  total_file_count?: number;
  total_blob_count?: number;
  snapshots_count?: number;
  total_uncompressed_size?: number;
  compression_ratio?: number;
  compression_progress?: number;
  compression_space_saving?: number;
}

/** Converts restic's `stats --json` object to a {@link StatsResult}. */
export function toStatsResult(s: ResticStats, mode: StatsResult['mode'], durationMs: number): StatsResult {
  const r: StatsResult = {
    mode,
    totalSize: s.total_size ?? 0,
    snapshotsCount: s.snapshots_count ?? 0,
    durationMs,
  };
  if (typeof s.total_file_count === 'number') r.totalFileCount = s.total_file_count;
  if (typeof s.total_blob_count === 'number') r.totalBlobCount = s.total_blob_count;
  if (typeof s.total_uncompressed_size === 'number') r.totalUncompressedSize = s.total_uncompressed_size;
  if (typeof s.compression_ratio === 'number') r.compressionRatio = s.compression_ratio;
  if (typeof s.compression_progress === 'number') r.compressionProgress = s.compression_progress;
  if (typeof s.compression_space_saving === 'number') r.compressionSpaceSaving = s.compression_space_saving;
  return r;
}

/**
 * Runs `restic stats --json --mode M` and returns the repository's size figures. Throws
 * `ResticCommandError` (with `reason`) when restic fails, `ResticError` when it cannot start.
 *
 * @example
 * const { totalSize } = await runStats({ repository, password, mode: 'raw-data' });
 */
export async function runStats(opts: RunStatsOptions): Promise<StatsResult> {
  const mode = opts.mode ?? 'restore-size';
  const args = ['stats', '--json', '--mode', mode];
  for (const t of opts.tags ?? []) args.push('--tag', t);
  args.push(...(opts.snapshotIds ?? []));
  const run = await runResticCommand('stats', args, opts);
  assertResticSucceeded('stats', run);
  const json = findJsonLine(run.stdout, 'object');
  if (json === undefined || json === null || typeof json !== 'object') {
    throw new ResticCommandError(`restic stats printed no JSON: ${run.stdout[0] ?? '(nothing)'}`, {
      command: 'stats',
      reason: 'other',
    });
  }
  return toStatsResult(json as ResticStats, mode, run.durationMs);
}
