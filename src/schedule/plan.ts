/**
 * What to schedule: one entry per profile and tier of the configuration (a
 * backup), plus one per profile for `check.schedule` and `stats.schedule`, with
 * its cron schedule, the systemd OnCalendar= form and the next run.
 */
import type { Config } from '../config/types.js';
import { ConfigError, type ConfigProblem, UsageError } from '../errors.js';
import { formatClockTime, formatTable } from '../util/table.js';
import { cronToOnCalendar, nextRun, parseCron } from './cron.js';

/** What a schedule runs: `resticprom backup` of a tier, or `resticprom check` / `stats` of a profile. */
export type ScheduledJob = 'backup' | 'check' | 'stats' | 'verify';

/** One scheduled run: a profile's tier (backup), or a profile's check or stats. */
export interface ScheduleEntry {
  /** The command it runs. */
  job: ScheduledJob;
  profile: string;
  /** The tier, for a backup; absent for check and stats (they are about the whole repository). */
  tier?: string;
  /** The cron expression as configured (`tiers.<tier>.schedule`, `check.schedule`, `stats.schedule`). */
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

/** One scheduled thing of a configuration, with its cron expression. */
export interface ScheduledSlot {
  job: ScheduledJob;
  profile: string;
  /** The tier, for a backup; absent for check, stats and verify. */
  tier?: string;
  /** The cron expression as configured. */
  schedule: string;
  /** Where it is configured under the profile: `tiers.daily.schedule`, `check.schedule`, ... */
  path: string;
}

/**
 * Lists what a configuration schedules, in config order: per profile its tiers' backups,
 * then its check, stats and verify (those three only when they have a `schedule`).
 * The one enumeration behind {@link planSchedule} (systemd, cron) and the daemon.
 */
export function scheduledSlots(config: Config): ScheduledSlot[] {
  const out: ScheduledSlot[] = [];
  for (const [profile, p] of Object.entries(config.profiles)) {
    for (const [tier, t] of Object.entries(p.tiers))
      out.push({ job: 'backup', profile, tier, schedule: t.schedule, path: `tiers.${tier}.schedule` });
    if (p.check?.schedule)
      out.push({ job: 'check', profile, schedule: p.check.schedule, path: 'check.schedule' });
    if (p.stats?.schedule)
      out.push({ job: 'stats', profile, schedule: p.stats.schedule, path: 'stats.schedule' });
    if (p.verify?.schedule)
      out.push({ job: 'verify', profile, schedule: p.verify.schedule, path: 'verify.schedule' });
  }
  return out;
}

/**
 * Lists the entries to schedule, in config order: per profile its tiers, then its
 * check, its stats, then its verify (those three only when they have a `schedule`).
 * @throws ConfigError listing every schedule that cannot be converted.
 */
export function planSchedule(config: Config, options: PlanScheduleOptions = {}): ScheduleEntry[] {
  const entries: ScheduleEntry[] = [];
  const problems: ConfigProblem[] = [];
  const timeZone = config.timezone;
  // systemd reads a zone name from /usr/share/zoneinfo; Intl's placeholder is none.
  const tzSuffix = timeZone && timeZone !== 'Etc/Unknown' ? timeZone : undefined;
  const after = new Date(options.now ?? Date.now());
  for (const w of scheduledSlots(config)) {
    const profile = w.profile;
    const p = config.profiles[profile];
    try {
      const parsed = parseCron(w.schedule);
      const entry: ScheduleEntry = {
        job: w.job,
        profile,
        ...(w.tier !== undefined ? { tier: w.tier } : {}),
        schedule: w.schedule,
        hasSeconds: parsed.hasSeconds,
        timeZone,
        onCalendar: cronToOnCalendar(w.schedule, tzSuffix ? { timeZone: tzSuffix } : {}),
      };
      if (p?.nice !== undefined) entry.nice = p.nice;
      const next = nextRun(w.schedule, { timeZone, after });
      if (next) entry.nextRun = next;
      entries.push(entry);
    } catch (err) {
      if (!(err instanceof UsageError)) throw err;
      problems.push({
        file: options.configFile ?? 'configuration',
        path: `profiles.${profile}.${w.path}`,
        message: err.message,
      });
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return entries;
}

/**
 * Returns the resticprom arguments an entry runs, after the executable:
 * `backup --config C --profile P --tier T`, or `check|stats --config C --profile P`.
 * Only these: no secret is ever part of a schedule.
 */
export function entryCommandArgs(
  entry: Pick<ScheduleEntry, 'job' | 'profile' | 'tier'>,
  configFile: string,
): string[] {
  return [
    entry.job,
    '--config',
    configFile,
    '--profile',
    entry.profile,
    ...(entry.job === 'backup' && entry.tier !== undefined ? ['--tier', entry.tier] : []),
    // Scheduled runs report through their metrics; cron mails whatever is printed.
    '--quiet',
  ];
}

/** Names an entry for people: `nfs/daily` for a tier's backup, `nfs check`, `nfs stats`. */
export function entryLabel(entry: Pick<ScheduleEntry, 'job' | 'profile' | 'tier'>): string {
  return entry.job === 'backup' ? `${entry.profile}/${entry.tier ?? ''}` : `${entry.profile} ${entry.job}`;
}

/**
 * Renders entries as a table: profile, job (backup, check, stats), tier (`-` for
 * check and stats), cron schedule, OnCalendar, next run (in the entry's time zone).
 */
export function formatScheduleTable(entries: readonly ScheduleEntry[]): string {
  return formatTable(
    ['PROFILE', 'JOB', 'TIER', 'SCHEDULE', 'ONCALENDAR', 'NEXT RUN'],
    entries.map((e) => [
      e.profile,
      e.job,
      e.tier ?? '-',
      e.schedule,
      e.onCalendar.join(' | '),
      e.nextRun ? `${formatClockTime(e.nextRun.getTime(), e.timeZone)} ${e.timeZone}` : 'never',
    ]),
  );
}
