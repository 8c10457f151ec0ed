/**
 * What hooks and notifications are told about a run: who it is, and once restic
 * (or a failing hook) has ended, how it went. One shape for both, so a hook's
 * environment and a webhook's body describe a run the same way.
 */

import type { HookedRunKind } from '../config/types.js';

export type { HookedRunKind } from '../config/types.js';

/** The facts of one run. */
export interface RunFacts {
  /** The run's id: its history record's id, and the Healthchecks run id (`rid`). */
  runId: string;
  kind: HookedRunKind;
  profile: string;
  /** The tier (backup, forget); absent for check and stats. */
  tier?: string;
  host: string;
  /** Absolute path of the configuration file. */
  configFile: string;
  /** Unix ms. */
  startedAt: number;
  /** How the run ended; absent before it ended (run-before hooks, the start event). */
  outcome?: 'success' | 'warning' | 'failed' | 'interrupted';
  /** The command's exit code (restic's, or the failing run-before hook's); null when a signal ended it. */
  exitCode?: number | null;
  /** Why it failed, e.g. `wrong-password`, `hook-failed`. */
  reason?: string;
  /** One line saying what went wrong, secrets masked. */
  error?: string;
  snapshotId?: string;
  /** Unix ms. */
  endedAt?: number;
  /** How long the command ran (restic, not the hooks), ms. */
  durationMs?: number;
  filesNew?: number;
  filesChanged?: number;
  bytesAdded?: number;
  bytesProcessed?: number;
  /** The last lines of the command's output (restic's stderr), for a ping's body. */
  outputTail?: string;
}
