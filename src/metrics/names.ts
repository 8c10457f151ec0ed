/**
 * Every metric resticprom exposes: name, type and help in one table. This table is
 * the contract between the jobs that set values, the README, the Prometheus rules
 * and the Grafana dashboard in deploy/.
 *
 * Labels on every series (unless the same label is a grouping label of the push):
 * `profile` (config profile), `tier` (the tag, e.g. `daily`), `host` (hostname).
 * With the seed's grouping `{instance: "{tier}"}`, `instance` carries the tier too.
 */

export type MetricType = 'gauge' | 'counter';

export interface MetricDef {
  name: string;
  type: MetricType;
  help: string;
  /** Labels beyond the common profile/tier/host. */
  labels?: readonly string[];
}

function def(name: string, type: MetricType, help: string, labels?: readonly string[]): MetricDef {
  return labels ? { name, type, help, labels } : { name, type, help };
}

/** The seed's nine gauges, names kept exactly so existing dashboards keep working. Pushed only when a snapshot was written. */
export const SEED_METRICS = {
  time: def('restic_backup_time', 'gauge', 'How long the backup took, in seconds'),
  processedFiles: def('restic_backup_processed_files', 'gauge', 'How many files were processed'),
  processedBytes: def('restic_backup_processed_bytes', 'gauge', 'How many bytes were processed'),
  filesNew: def('restic_backup_files_new', 'gauge', 'How many new files were backed up'),
  filesChanged: def('restic_backup_files_changed', 'gauge', 'How many files were changed'),
  filesUnchanged: def('restic_backup_files_unchanged', 'gauge', 'How many files did not change'),
  dirsNew: def('restic_backup_dirs_new', 'gauge', 'How many new dirs were backed up'),
  dirsChanged: def('restic_backup_dirs_changed', 'gauge', 'How many dirs were changed'),
  dirsUnchanged: def('restic_backup_dirs_unchanged', 'gauge', 'How many dirs did not change'),
} as const;

/** Status values of `*_status` gauges. */
export const STATUS_VALUE = { failed: 0, warning: 1, success: 2 } as const;
export type RunStatus = keyof typeof STATUS_VALUE;

/** Metrics every command (backup, forget, check, stats, run) pushes, prefixed by the command's prefix. */
export function runMetrics(prefix: string) {
  return {
    durationSeconds: def(
      `${prefix}_duration_seconds`,
      'gauge',
      'Wall-clock time of the last run, in seconds',
    ),
    endTimestamp: def(
      `${prefix}_end_timestamp_seconds`,
      'gauge',
      'When the last run ended (success or not), Unix seconds',
    ),
    lastSuccessTimestamp: def(
      `${prefix}_last_success_timestamp_seconds`,
      'gauge',
      'When the last successful run ended, Unix seconds; pushed only on success',
    ),
    exitCode: def(`${prefix}_exit_code`, 'gauge', 'Exit code of the last run'),
    status: def(`${prefix}_status`, 'gauge', 'Outcome of the last run: 0 failed, 1 warning, 2 success'),
    runsTotal: def(`${prefix}_runs_total`, 'counter', 'Runs recorded in the history, by outcome', [
      'outcome',
    ]),
  };
}

/** Backup metrics beyond the seed's nine. */
export const BACKUP_METRICS = {
  ...runMetrics('restic_backup'),
  unreadableFiles: def(
    'restic_backup_unreadable_files',
    'gauge',
    'Files or directories restic could not read',
  ),
  addedBytes: def('restic_backup_added_bytes', 'gauge', 'Bytes added to the repository (before compression)'),
  addedPackedBytes: def(
    'restic_backup_added_packed_bytes',
    'gauge',
    'Bytes added to the repository after compression (restic 0.17+)',
  ),
  dataBlobs: def('restic_backup_data_blobs', 'gauge', 'Data blobs added'),
  treeBlobs: def('restic_backup_tree_blobs', 'gauge', 'Tree blobs added'),
  snapshotInfo: def('restic_backup_snapshot_info', 'gauge', 'The snapshot the last backup wrote (always 1)', [
    'snapshot_id',
  ]),
} as const;

export const FORGET_METRICS = {
  ...runMetrics('restic_forget'),
  snapshotsKept: def(
    'restic_forget_snapshots_kept',
    'gauge',
    'Snapshots of the tier kept by the last forget',
  ),
  snapshotsRemoved: def(
    'restic_forget_snapshots_removed',
    'gauge',
    'Snapshots of the tier removed by the last forget',
  ),
} as const;

export const CHECK_METRICS = {
  ...runMetrics('restic_check'),
  errors: def('restic_check_errors', 'gauge', 'Errors found by the last repository check'),
  readDataFraction: def(
    'restic_check_read_data_fraction',
    'gauge',
    'Part of the pack files the last check read (1/cycle with read-data: rotate; 0 for metadata only)',
  ),
  fullCycleCompletedTimestamp: def(
    'restic_check_full_cycle_completed_timestamp_seconds',
    'gauge',
    'When the last full read-data cycle (every part read once, without errors) completed, Unix seconds',
  ),
} as const;

/** `resticprom verify`: the restore drill. */
export const VERIFY_METRICS = {
  ...runMetrics('restic_verify'),
  files: def('restic_verify_files', 'gauge', 'Files the last restore drill restored and checked'),
  bytes: def('restic_verify_bytes', 'gauge', 'Bytes the last restore drill restored and checked'),
  mismatches: def(
    'restic_verify_mismatches',
    'gauge',
    'Files of the last restore drill that did not restore as backed up (error, size, time or content)',
  ),
  comparedWithSourceFiles: def(
    'restic_verify_compared_with_source_files',
    'gauge',
    'Files of the last restore drill compared byte for byte with the unchanged source file',
  ),
  snapshotAgeSeconds: def(
    'restic_verify_snapshot_age_seconds',
    'gauge',
    'Age of the snapshot the last restore drill restored, at the drill, in seconds',
  ),
} as const;

export const STATS_METRICS = {
  ...runMetrics('restic_stats'),
  rawSizeBytes: def('restic_stats_raw_size_bytes', 'gauge', 'Repository size as stored (raw-data mode)'),
  restoreSizeBytes: def('restic_stats_restore_size_bytes', 'gauge', 'Size of all snapshots when restored'),
  snapshots: def('restic_stats_snapshots', 'gauge', 'Snapshots in the repository'),
  tierSnapshots: def(
    'restic_stats_tier_snapshots',
    'gauge',
    'Snapshots in the repository with the tier tag',
    ['tag'],
  ),
  tierLatestSnapshotTimestamp: def(
    'restic_stats_tier_latest_snapshot_timestamp_seconds',
    'gauge',
    'Time of the newest snapshot with the tier tag, Unix seconds',
    ['tag'],
  ),
} as const;

/**
 * Retention per tier, from the snapshot list (after forget and in stats); `tag` is the tier.
 */
export const RETENTION_METRICS = {
  snapshots: def('restic_tier_snapshots', 'gauge', 'Snapshots with the tier tag', ['tag']),
  expected: def(
    'restic_tier_snapshots_expected',
    'gauge',
    "Snapshots the tier's keep policy and schedule imply for its age",
    ['tag'],
  ),
  oldestAgeSeconds: def(
    'restic_tier_oldest_snapshot_age_seconds',
    'gauge',
    'Age of the oldest snapshot with the tier tag, in seconds',
    ['tag'],
  ),
  largestGapSeconds: def(
    'restic_tier_largest_gap_seconds',
    'gauge',
    'Largest interval between two consecutive snapshots of the tier, in seconds',
    ['tag'],
  ),
  scheduleIntervalSeconds: def(
    'restic_tier_schedule_interval_seconds',
    'gauge',
    "Largest interval between two runs of the tier's schedule, in seconds",
    ['tag'],
  ),
  latestSnapshotSizeBytes: def(
    'restic_tier_latest_snapshot_size_bytes',
    'gauge',
    "Size of the tier's newest snapshot when restored (restic stats --mode restore-size)",
    ['tag'],
  ),
} as const;

/** `resticprom run` (any batch job). */
export const JOB_METRICS = runMetrics('resticprom_job');

export const BUILD_INFO = def('resticprom_build_info', 'gauge', 'resticprom and restic versions (always 1)', [
  'version',
  'restic_version',
]);

/** The daemon's own series on its `/metrics` (`resticprom daemon`), beside the runs' latest metrics. */
export const DAEMON_METRICS = {
  up: def('resticprom_daemon_up', 'gauge', 'Always 1 while the resticprom daemon serves its endpoint'),
  startTime: def('resticprom_daemon_start_time_seconds', 'gauge', 'When the daemon started, Unix seconds'),
  configReloadSuccessful: def(
    'resticprom_daemon_config_last_reload_successful',
    'gauge',
    'Whether the last configuration reload succeeded (1) or kept the previous configuration (0)',
  ),
  nextRun: def(
    'resticprom_next_run_timestamp_seconds',
    'gauge',
    "When the daemon will next run the tier's backup, Unix seconds",
    ['profile', 'tier'],
  ),
  running: def('resticprom_daemon_run_in_progress', 'gauge', '1 while the daemon runs the tier, else 0', [
    'profile',
    'tier',
  ]),
  skippedRuns: def(
    'resticprom_daemon_skipped_runs_total',
    'counter',
    'Scheduled runs skipped because the previous run of the tier had not finished',
    ['profile', 'tier'],
  ),
  residentMemory: def(
    'process_resident_memory_bytes',
    'gauge',
    "The daemon process's resident memory (RSS), in bytes",
  ),
  heapUsed: def('resticprom_daemon_heap_used_bytes', 'gauge', "V8's heap in use by the daemon, in bytes"),
  eventLoopDelayP99: def(
    'resticprom_daemon_event_loop_delay_p99_seconds',
    'gauge',
    "The 99th percentile of the daemon's event loop delay over the last minute, in seconds",
  ),
  eventLoopDelayMax: def(
    'resticprom_daemon_event_loop_delay_max_seconds',
    'gauge',
    "The longest delay of the daemon's event loop over the last minute, in seconds",
  ),
} as const;

/**
 * Time a run spent in its hooks (every stage), apart from the command's own
 * `*_duration_seconds` and the seed's `restic_backup_time`; pushed when the run has hooks.
 */
export function hooksDurationMetric(prefix: string): MetricDef {
  return def(
    `${prefix}_hooks_duration_seconds`,
    'gauge',
    'Time the last run spent in its hooks (run-before, run-after, run-after-fail, run-finally), in seconds',
  );
}

/** Notifications (docs/hooks.md); pushed with the runs of profiles that have receivers. */
export const NOTIFY_METRICS = {
  failedTotal: def(
    'resticprom_notifications_failed_total',
    'counter',
    'Notifications not delivered within their run, by receiver type',
    ['type'],
  ),
} as const;
