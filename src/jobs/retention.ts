/**
 * Retention that is measured, per tier: how many snapshots the tier has, how many its
 * keep policy and schedule imply, the oldest snapshot's age, and the largest gap
 * between consecutive snapshots.
 *
 * The expected count replays the schedule: every scheduled run from the tier's oldest
 * snapshot (or, for an old tier, from as far back as the policy can reach) until a
 * little before now, with restic's keep policy applied to those times as `restic
 * forget` would (restic/internal/restic/snapshot_policy.go: the newest `last`
 * snapshots, the newest of each hour/day/week/month/year bucket up to its count, and
 * every snapshot within `within` of the newest). A tier younger than its policy
 * expects only the runs it has had: keep-last 7 on a daily schedule expects 3 after
 * three days, 7 after a week.
 */
import { Cron } from 'croner';
import { largestGapMs } from '../config/cadence.js';
import type { Config, TierConfig } from '../config/index.js';
import type { Sample } from '../metrics/build.js';
import { RETENTION_METRICS } from '../metrics/names.js';
import type { KeepPolicy } from '../restic/forget.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** Scheduled runs replayed at most (an hourly schedule keeping 10 yearly would be 87,600). */
const MAX_REPLAYED_RUNS = 20_000;

/** One tier's retention figures. */
export interface TierRetention {
  tier: string;
  /** Snapshots with the tier's tag. */
  snapshots: number;
  /** Snapshots the keep policy and the schedule imply; absent without snapshots. */
  expected?: number;
  /** Age of the oldest snapshot, ms; absent without snapshots. */
  oldestAgeMs?: number;
  /** Age of the newest snapshot, ms. */
  newestAgeMs?: number;
  /** Largest interval between two consecutive snapshots, ms; absent with fewer than two. */
  largestGapMs?: number;
  /** The schedule's largest interval between two runs, ms. */
  scheduleIntervalMs: number;
}

/** Adds a restic duration (`1y5m7d2h`) to a time, negatively: `latest - within`. */
function minusResticDuration(t: number, within: string): number {
  const d = new Date(t);
  for (const [, n, unit] of within.matchAll(/(\d+)([ymdh])/g)) {
    const k = Number(n);
    if (unit === 'y') d.setUTCFullYear(d.getUTCFullYear() - k);
    else if (unit === 'm') d.setUTCMonth(d.getUTCMonth() - k);
    else if (unit === 'd') d.setUTCDate(d.getUTCDate() - k);
    else d.setUTCHours(d.getUTCHours() - k);
  }
  return d.getTime();
}

/** ISO 8601 week number and its year. */
function isoWeek(t: number): number {
  const d = new Date(t);
  const day = (d.getUTCDay() + 6) % 7;
  d.setUTCDate(d.getUTCDate() - day + 3);
  const year = d.getUTCFullYear();
  const jan4 = Date.UTC(year, 0, 4);
  const week =
    1 + Math.round((d.getTime() - jan4) / (7 * DAY) - 3 / 7 + ((new Date(jan4).getUTCDay() + 6) % 7) / 7);
  return year * 100 + week;
}

const BUCKETS: Array<[keyof KeepPolicy, (t: number) => number]> = [
  ['hourly', (t) => Math.floor(t / HOUR)],
  ['daily', (t) => Math.floor(t / DAY)],
  ['weekly', isoWeek],
  ['monthly', (t) => new Date(t).getUTCFullYear() * 100 + new Date(t).getUTCMonth()],
  ['yearly', (t) => new Date(t).getUTCFullYear()],
];

/**
 * The snapshot times restic's keep policy keeps, like `restic forget` (buckets in UTC).
 * @example keptByPolicy([t1, t2, t3], { last: 2 }).length // 2
 */
export function keptByPolicy(times: readonly number[], policy: KeepPolicy): number[] {
  const newestFirst = [...times].sort((a, b) => b - a);
  const latest = newestFirst[0];
  if (latest === undefined) return [];
  const within = policy.within !== undefined ? minusResticDuration(latest, policy.within) : undefined;
  const left = new Map<keyof KeepPolicy, number>();
  const lastBucket = new Map<keyof KeepPolicy, number>();
  for (const [k] of BUCKETS) {
    const n = policy[k];
    if (typeof n === 'number') left.set(k, n);
  }
  const kept: number[] = [];
  newestFirst.forEach((t, i) => {
    let keep = policy.last !== undefined && i < policy.last;
    for (const [k, bucketOf] of BUCKETS) {
      const n = left.get(k);
      if (n === undefined || n <= 0) continue;
      const b = bucketOf(t);
      if (lastBucket.get(k) !== b) {
        keep = true;
        lastBucket.set(k, b);
        left.set(k, n - 1);
      }
    }
    if (within !== undefined && t > within) keep = true;
    if (keep) kept.push(t);
  });
  return kept;
}

/** How far back a policy can keep snapshots of a schedule, ms. */
function policyHorizonMs(policy: KeepPolicy, gapMs: number): number {
  const spans = [
    (policy.last ?? 0) * gapMs,
    (policy.hourly ?? 0) * HOUR,
    (policy.daily ?? 0) * DAY,
    (policy.weekly ?? 0) * 7 * DAY,
    (policy.monthly ?? 0) * 31 * DAY,
    (policy.yearly ?? 0) * 366 * DAY,
  ];
  if (policy.within !== undefined) spans.push(Date.now() - minusResticDuration(Date.now(), policy.within));
  return Math.max(...spans) + 2 * gapMs;
}

/**
 * The snapshots a tier should have now: the scheduled runs since `since` (at most as far
 * back as the policy reaches) up to `now` minus a grace (a run scheduled minutes ago may
 * still be writing its snapshot), kept by the policy.
 */
export function expectedSnapshots(
  tier: TierConfig,
  opts: { since: number; now: number; timezone?: string },
): number {
  const policy = tierKeepPolicy(tier);
  const gap = largestGapMs(tier.schedule);
  const end = opts.now - Math.min(gap / 2, HOUR);
  const start = Math.max(opts.since, end - policyHorizonMs(policy, gap));
  const cron = new Cron(tier.schedule, {
    paused: true,
    ...(opts.timezone ? { timezone: opts.timezone } : {}),
  });
  const runs: number[] = [];
  // The first run at or after the oldest snapshot's scheduled time (a backup ends after it starts).
  let cursor: Date | null = new Date(start - Math.min(gap / 2, HOUR));
  while (runs.length < MAX_REPLAYED_RUNS) {
    cursor = cron.nextRun(cursor);
    if (cursor === null || cursor.getTime() > end) break;
    runs.push(cursor.getTime());
  }
  return keptByPolicy(runs, policy).length;
}

/** The retention figures of one tier from the times of its snapshots (Unix ms). */
export function tierRetention(
  tier: string,
  config: TierConfig,
  times: readonly number[],
  opts: { now: number; timezone?: string },
): TierRetention {
  const sorted = [...times].sort((a, b) => a - b);
  const out: TierRetention = {
    tier,
    snapshots: sorted.length,
    scheduleIntervalMs: largestGapMs(config.schedule),
  };
  const oldest = sorted[0];
  const newest = sorted.at(-1);
  if (oldest === undefined || newest === undefined) return out;
  out.oldestAgeMs = Math.max(0, opts.now - oldest);
  out.newestAgeMs = Math.max(0, opts.now - newest);
  out.expected = expectedSnapshots(config, {
    since: oldest,
    now: opts.now,
    ...(opts.timezone ? { timezone: opts.timezone } : {}),
  });
  for (let i = 1; i < sorted.length; i++) {
    const g = (sorted[i] as number) - (sorted[i - 1] as number);
    if (out.largestGapMs === undefined || g > out.largestGapMs) out.largestGapMs = g;
  }
  return out;
}

/** The retention samples of tiers (labelled `tag`), for a forget or stats push. */
export function retentionSamples(tiers: readonly TierRetention[]): Sample[] {
  const R = RETENTION_METRICS;
  const s: Sample[] = [];
  for (const t of tiers) {
    const labels = { tag: t.tier };
    s.push({ def: R.snapshots, value: t.snapshots, labels });
    s.push({ def: R.scheduleIntervalSeconds, value: t.scheduleIntervalMs / 1000, labels });
    if (t.expected !== undefined) s.push({ def: R.expected, value: t.expected, labels });
    if (t.oldestAgeMs !== undefined) s.push({ def: R.oldestAgeSeconds, value: t.oldestAgeMs / 1000, labels });
    if (t.largestGapMs !== undefined)
      s.push({ def: R.largestGapSeconds, value: t.largestGapMs / 1000, labels });
  }
  return s;
}

/** The keep options of a tier as restic's `forget` policy. */
export function tierKeepPolicy(tier: Config['profiles'][string]['tiers'][string]): KeepPolicy {
  const policy: KeepPolicy = {};
  if (tier.keepLast !== undefined) policy.last = tier.keepLast;
  if (tier.keepHourly !== undefined) policy.hourly = tier.keepHourly;
  if (tier.keepDaily !== undefined) policy.daily = tier.keepDaily;
  if (tier.keepWeekly !== undefined) policy.weekly = tier.keepWeekly;
  if (tier.keepMonthly !== undefined) policy.monthly = tier.keepMonthly;
  if (tier.keepYearly !== undefined) policy.yearly = tier.keepYearly;
  if (tier.keepWithin !== undefined) policy.within = tier.keepWithin;
  return policy;
}
