/**
 * Domain types for restic results. restic's snake_case JSON stays inside
 * src/restic/; everything else sees these camelCase types.
 */

/** What `restic backup` reported in its final `summary` message. */
export interface BackupSummary {
  filesNew: number;
  filesChanged: number;
  filesUnmodified: number;
  dirsNew: number;
  dirsChanged: number;
  dirsUnmodified: number;
  dataBlobs: number;
  treeBlobs: number;
  /** Bytes added to the repository, before compression. */
  dataAdded: number;
  /** Bytes added after compression (restic 0.17+). */
  dataAddedPacked?: number;
  totalFilesProcessed: number;
  totalBytesProcessed: number;
  /** restic's own measure of the run, seconds. */
  totalDuration: number;
  /** Snapshot id (short in 0.14, full from 0.15, absent when no snapshot was made). */
  snapshotId?: string;
  dryRun: boolean;
  /** ISO time the backup started/ended (restic 0.18+). */
  backupStart?: string;
  backupEnd?: string;
}

/** A progress report from restic's `status` messages. */
export interface BackupProgress {
  percentDone: number;
  totalFiles: number;
  filesDone: number;
  totalBytes: number;
  bytesDone: number;
  secondsElapsed: number;
  secondsRemaining?: number;
  errorCount: number;
  currentFiles: string[];
}

/** A file or directory restic could not read (an `error` message). */
export interface BackupItemError {
  item: string;
  during: string;
  message: string;
}

/** Why a restic command failed, from its exit code or (older versions) its message. */
export type FailureReason =
  | 'repository-missing'
  | 'repository-locked'
  | 'wrong-password'
  /** The repository's server refused the credentials (HTTP 401, e.g. a rest-server's htpasswd). */
  | 'authentication-failed'
  | 'interrupted'
  | 'inactivity-timeout'
  | 'spawn-failed'
  /** A `run-before` hook failed, so restic did not run (docs/hooks.md). */
  | 'hook-failed'
  | 'other';

/** How a restic run ended. */
export type RunOutcome = 'success' | 'incomplete' | 'failed';

/** Everything known about one finished `restic backup`. Returned for every outcome; thrown never. */
export interface BackupResult {
  outcome: RunOutcome;
  /** Set when outcome is `failed`. */
  reason?: FailureReason;
  /** One line explaining a failure or warning, for people. */
  message?: string;
  /** restic's exit code; null when it was killed by a signal. */
  exitCode: number | null;
  /** The signal that ended restic, if any. */
  signal?: string;
  summary?: BackupSummary;
  /** Unreadable items (bounded list; `errorCount` has the true count). */
  errors: BackupItemError[];
  errorCount: number;
  /** Wall-clock time, milliseconds. */
  durationMs: number;
  /** Unix milliseconds. */
  startedAt: number;
  endedAt: number;
  /** The last lines of stderr (non-JSON), for messages. */
  stderrTail: string;
  /** Lines on stdout that were not JSON (kept as log text, counted). */
  nonJsonLines: number;
  /** JSON lines from restic that did not parse or had an unknown `message_type` (also named in `message`). */
  malformedLines?: number;
}

/**
 * Where restic's repository password comes from. It reaches restic only through
 * its environment (`RESTIC_PASSWORD_FILE`, `RESTIC_PASSWORD_COMMAND`, `RESTIC_PASSWORD`), never argv.
 */
export type ResticPassword = { file: string } | { command: string } | { value: string };
