import { constants } from 'node:os';

/**
 * The exit code to report for a restic run: its own code, or for a run ended by a signal the
 * shell's convention of 128 + the signal's number (restic 0.18 ends itself with SIGINT after
 * cleaning up where 0.14 and 0.19 exit 130), so `restic_*_exit_code` reads the same for an
 * interrupted run whatever the version; -1 when neither is known.
 */
export function reportedExitCode(run: { exitCode: number | null; signal?: string | undefined }): number {
  if (run.exitCode !== null) return run.exitCode;
  const signo = run.signal ? constants.signals[run.signal as NodeJS.Signals] : undefined;
  return signo !== undefined ? 128 + signo : -1;
}
