/**
 * What a tier's schedule implies: the largest gap between two runs, how old the
 * last success may be before the tier is late, and the default retention.
 * Computed in UTC from a fixed reference date so the result does not depend on
 * when or where it runs (daylight-saving shifts are covered by the margin).
 */
import { Cron } from 'croner';
import type { TierConfig } from './types.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** A leap year's start, so `29 2` schedules are seen. */
const REFERENCE = Date.UTC(2024, 0, 1);
const MAX_RUNS = 10_000;
const WINDOW = 400 * DAY;
const MAX_WINDOW = 9 * 366 * DAY;

/** Returns why `schedule` is not a usable cron expression, or undefined when it is. */
export function checkCron(schedule: string): string | undefined {
  const fields = schedule.trim().split(/\s+/);
  if (fields.length !== 5 && fields.length !== 6) {
    return `"${schedule}" has ${fields.length} fields; write 5 (minute hour day month weekday) or 6 with a leading seconds field`;
  }
  try {
    const cron = new Cron(schedule, { paused: true, utcOffset: 0 });
    if (cron.nextRun(new Date(REFERENCE)) === null) return `"${schedule}" never runs`;
  } catch (err) {
    const msg = err instanceof Error ? err.message.replace(/^CronPattern: /, '') : String(err);
    return `invalid cron expression "${schedule}": ${msg}`;
  }
  return undefined;
}

const gapCache = new Map<string, number>();

/**
 * Returns the largest interval between two consecutive runs of a cron schedule, ms.
 * Looks at the runs of at least 400 days (up to 10,000 runs) from 2024-01-01 UTC.
 * @throws RangeError when the expression is invalid.
 */
export function largestGapMs(schedule: string): number {
  const cached = gapCache.get(schedule);
  if (cached !== undefined) return cached;
  const problem = checkCron(schedule);
  if (problem) throw new RangeError(problem);
  const cron = new Cron(schedule, { paused: true, utcOffset: 0 });
  let prev: number | undefined;
  let gap = 0;
  let count = 0;
  let cursor = new Date(REFERENCE);
  for (;;) {
    const next = cron.nextRun(cursor);
    if (next === null) break;
    const t = next.getTime();
    if (prev !== undefined) gap = Math.max(gap, t - prev);
    prev = t;
    cursor = next;
    count++;
    if (count >= MAX_RUNS) break;
    if (t - REFERENCE >= WINDOW && count >= 2) break;
    if (t - REFERENCE >= MAX_WINDOW) break;
  }
  // A schedule that runs once in years: treat the window as its gap.
  if (gap === 0) gap = WINDOW;
  gapCache.set(schedule, gap);
  return gap;
}

/**
 * Derives how old a tier's last success may be before the tier is late, from its
 * schedule: the largest gap between two runs, plus 2h when that gap is at most a
 * day or plus 1 day when it is longer, rounded up to the hour.
 * @example deriveMaxAgeMs('30 1 * * *') // 26h: 24h + 2h
 */
export function deriveMaxAgeMs(schedule: string): number {
  const gap = largestGapMs(schedule);
  const margin = gap <= DAY ? 2 * HOUR : DAY;
  return Math.ceil((gap + margin) / HOUR) * HOUR;
}

/** Returns how old a tier's last success may be before it is late, ms: `max-age`, else {@link deriveMaxAgeMs}. */
export function tierMaxAgeMs(tier: TierConfig): number {
  return tier.maxAgeMs ?? deriveMaxAgeMs(tier.schedule);
}

/**
 * Returns the seed's retention for a tier that sets no keep option, as restic's
 * `--keep-within` duration, from the schedule's largest gap: under a day (the
 * seed's sub-daily) `2d`; under a week (daily) `7d`; under 28 days (weekly) `1m`;
 * longer (monthly) `1y`.
 */
export function defaultKeepWithin(schedule: string): string {
  const gap = largestGapMs(schedule);
  if (gap < DAY) return '2d';
  if (gap < 7 * DAY) return '7d';
  if (gap < 28 * DAY) return '1m';
  return '1y';
}

/** Returns restic's `forget` keep flags for a tier, e.g. `['--keep-last', '12']`. */
export function keepPolicyArgs(tier: TierConfig): string[] {
  const args: string[] = [];
  const add = (flag: string, v: number | string | undefined) => {
    if (v !== undefined) args.push(flag, String(v));
  };
  add('--keep-last', tier.keepLast);
  add('--keep-hourly', tier.keepHourly);
  add('--keep-daily', tier.keepDaily);
  add('--keep-weekly', tier.keepWeekly);
  add('--keep-monthly', tier.keepMonthly);
  add('--keep-yearly', tier.keepYearly);
  add('--keep-within', tier.keepWithin);
  return args;
}
