/**
 * resticprom's exit codes, one per outcome; the README's table is written from this list.
 */
export const ExitCode = {
  /** Everything done and delivered everywhere. */
  OK: 0,
  /** An error not listed below (restic failed for a reason not listed, a bug). */
  FAILURE: 1,
  /** Wrong usage or an invalid configuration file; nothing was started. */
  USAGE: 2,
  /** Backup written, but some files could not be read (restic's exit 3); forget: some snapshots not removed. */
  INCOMPLETE: 3,
  /** The restic repository does not exist or cannot be opened. */
  REPO_MISSING: 10,
  /** The restic repository is locked by another restic process. */
  REPO_LOCKED: 11,
  /** Wrong repository password, or no password given. */
  WRONG_PASSWORD: 12,
  /** The repository's server refused the credentials (HTTP 401; restic exits 1). */
  AUTH_FAILED: 77,
  /** Another resticprom run holds this repository's lock (waiting disabled or timed out). */
  BUSY: 16,
  /** restic printed nothing for longer than the inactivity timeout and was stopped. */
  TIMEOUT: 124,
  /** Invalid input data (exposition text, grouping labels); the message names the line. */
  DATAERR: 65,
  /** The state directory (outbox, history, locks) cannot be written, or is not safe to use. */
  CANTCREAT: 73,
  /** The job succeeded, but its metrics are not delivered yet: they wait in the outbox. */
  TEMPFAIL: 75,
  /** `status`: a tier is late, failed, or never ran. */
  UNHEALTHY: 4,
  /** Interrupted by SIGINT, SIGTERM or SIGHUP (the run is still recorded and reported). */
  INTERRUPTED: 130,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];
