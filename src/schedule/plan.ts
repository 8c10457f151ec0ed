/**
 * What to schedule: one entry per profile and tier of the configuration, with
 * its cron schedule, the systemd OnCalendar= form and the next run.
 */
import type { Config } from '../config/types.js';
import { ConfigError, type ConfigProblem, UsageError } from '../errors.js';
import { formatClockTime, formatTable } from '../util/table.js';
import { cronToOnCalendar, nextRun, parseCron } from './cron.js';

/** One scheduled backup: a profile's tier. */
export interface ScheduleEntry {
  profile: string;
  tier: string;
  /** The tier's cron expression as configured. */
  schedule: string;
  /** True when the expression has a seconds field. */
  hasSeconds: boolean;
  /** IANA time zone the schedule is read in (the config's `timezone`). */
  timeZone: string;
  /** systemd OnCalendar= expressions (two when cron's day-of-month OR day-of-week is needed). */
  onCalendar: string[];
  /** The profile's `nice`, when set. */
  nice?: number;
  /** The next run after `now` (croner), when there is one. */
  nextRun?: Date;
}

/** Options of {@link planSchedule}. */
export interface PlanScheduleOptions {
  /** The configuration file, named in problems. @default 'configuration' */
  configFile?: string;
  /** Next runs are computed after this instant, Unix ms. @default Date.now() */
  now?: number;
}

/**
 * Lists the entries to schedule, in config order.
 * @throws ConfigError listing every tier whose schedule cannot be converted.
 */
export function planSchedule(config: Config, options: PlanScheduleOptions = {}): ScheduleEntry[] {
  const entries: ScheduleEntry[] = [];
  const problems: ConfigProblem[] = [];
  const timeZone = config.timezone;
  // systemd reads a zone name from /usr/share/zoneinfo; Intl's placeholder is none.
  const tzSuffix = timeZone && timeZone !== 'Etc/Unknown' ? timeZone : undefined;
  const after = new Date(options.now ?? Date.now());
  for (const [profile, p] of Object.entries(config.profiles)) {
    for (const [tier, t] of Object.entries(p.tiers)) {
      try {
        const parsed = parseCron(t.schedule);
        const entry: ScheduleEntry = {
          profile,
          tier,
          schedule: t.schedule,
          hasSeconds: parsed.hasSeconds,
          timeZone,
          onCalendar: cronToOnCalendar(t.schedule, tzSuffix ? { timeZone: tzSuffix } : {}),
        };
        if (p.nice !== undefined) entry.nice = p.nice;
        const next = nextRun(t.schedule, { timeZone, after });
        if (next) entry.nextRun = next;
        entries.push(entry);
      } catch (err) {
        if (!(err instanceof UsageError)) throw err;
        problems.push({
          file: options.configFile ?? 'configuration',
          path: `profiles.${profile}.tiers.${tier}.schedule`,
          message: err.message,
        });
      }
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return entries;
}

/** Renders entries as a table: profile, tier, cron schedule, OnCalendar, next run (in the entry's time zone). */
export function formatScheduleTable(entries: readonly ScheduleEntry[]): string {
  return formatTable(
    ['PROFILE', 'TIER', 'SCHEDULE', 'ONCALENDAR', 'NEXT RUN'],
    entries.map((e) => [
      e.profile,
      e.tier,
      e.schedule,
      e.onCalendar.join(' | '),
      e.nextRun ? `${formatClockTime(e.nextRun.getTime(), e.timeZone)} ${e.timeZone}` : 'never',
    ]),
  );
}
