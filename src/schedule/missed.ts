/**
 * Cron arithmetic of the daemon: the next run of a tier, and whether a tier
 * missed a scheduled run while the daemon was down (croner; 5 fields, or 6
 * with a leading seconds field; in the config's time zone).
 */
import { Cron } from 'croner';

/** A paused croner job for `schedule` in `timezone`, for computing times only. */
function pattern(schedule: string, timezone: string | undefined): Cron {
  return new Cron(schedule, { paused: true, mode: '5-or-6-parts', ...(timezone ? { timezone } : {}) });
}

/**
 * Returns the first scheduled time strictly after `after` (Unix ms), or null when the
 * schedule never runs again.
 * @example nextScheduledRun('0 3 * * *', Date.UTC(2024, 0, 1, 12), 'UTC') // Date.UTC(2024, 0, 2, 3)
 */
export function nextScheduledRun(schedule: string, after: number, timezone?: string): number | null {
  const next = pattern(schedule, timezone).nextRun(new Date(after));
  return next ? next.getTime() : null;
}

/**
 * Returns the latest scheduled time at or before `at` (Unix ms), or null when there is none.
 * @example previousScheduledRun('0 3 * * *', Date.UTC(2024, 0, 2, 12), 'UTC') // Date.UTC(2024, 0, 2, 3)
 */
export function previousScheduledRun(schedule: string, at: number, timezone?: string): number | null {
  // previousRuns looks strictly before its reference; 1 ms later includes `at` itself.
  const prev = pattern(schedule, timezone).previousRuns(1, new Date(at + 1))[0];
  return prev ? prev.getTime() : null;
}

/** Facts for {@link findMissedRun}. */
export interface MissedRunInput {
  /** The tier's cron expression. */
  schedule: string;
  /** IANA time zone of the schedule. @default the process's */
  timezone?: string;
  /** When the tier's last run (any outcome) started, Unix ms; undefined when it never ran. */
  lastRunAt: number | undefined;
  /** Now, Unix ms. */
  now: number;
}

/**
 * Returns the scheduled time a tier missed, or undefined when it missed none: the
 * latest scheduled time before `now` when it is after the tier's last run. A tier
 * that never ran has missed nothing (like systemd's `Persistent=true`, which
 * catches up only on a timer that has fired before): the daemon's first start does
 * not start every backup at once.
 */
export function findMissedRun(input: MissedRunInput): number | undefined {
  if (input.lastRunAt === undefined) return undefined;
  const prev = previousScheduledRun(input.schedule, input.now, input.timezone);
  if (prev === null || prev <= input.lastRunAt) return undefined;
  return prev;
}
