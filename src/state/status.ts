/**
 * The health of every profile and tier, from the run history, the schedules and
 * the outbox: what `resticprom status` shows.
 *
 * States, in order of precedence:
 * - `WAITING`: the history has no backup of the tier yet, and its first scheduled run
 *   after the config first named it ({@link noteTiersSeen}), plus its max age, has not
 *   passed: a fresh install is not a failure. Healthy.
 * - `NEVER`: the history has no backup of the tier, and that time has passed.
 * - `FAILED`: the last backup failed or was interrupted.
 * - `LATE`: the last success (a `success` or `warning` run: a snapshot was
 *   written) is older than the tier's max age ({@link tierMaxAgeMs}).
 * - `OK`: otherwise.
 */
import { join } from 'node:path';
import { tierMaxAgeMs } from '../config/cadence.js';
import { profileDestinations } from '../config/destinations.js';
import type { Config } from '../config/types.js';
import { errorText } from '../errors.js';
import { nextRun } from '../schedule/cron.js';
import {
  type BacklogReader,
  type FailingDestination,
  failingDestinations,
  readBacklog,
} from '../sinks/outbox/backlog.js';
import { pushKey } from '../sinks/outbox/policy.js';
import { formatBytes } from '../util/bytes.js';
import { formatDuration } from '../util/duration.js';
import { escapeControl } from '../util/escape.js';
import { type Cell, formatClockTime, formatTable } from '../util/table.js';
import { configTierKeys, noteTiersSeen, tierKey } from './first-seen.js';
import { type HistoryOutcome, type LatestRun, latestRuns, type RunRecord } from './history.js';

/** The state of one tier. */
export type TierState = 'OK' | 'WAITING' | 'LATE' | 'FAILED' | 'NEVER';

/** One profile/tier of `resticprom status`. */
export interface StatusRow {
  profile: string;
  tier: string;
  state: TierState;
  /** The tier's cron schedule. */
  schedule: string;
  /** The last backup of the tier. */
  lastRun?: {
    /** Unix ms. */
    startedAt: number;
    /** Unix ms. */
    endedAt: number;
    outcome: HistoryOutcome;
    exitCode: number | null;
    reason?: string;
    /** The run's error message (one line), when it did not succeed. */
    error?: string;
  };
  /** When the config first named the tier, Unix ms (set while the tier has never run). */
  firstSeen?: number;
  /** While `WAITING`: when the tier turns `NEVER` unless a backup is recorded, Unix ms. */
  waitingUntil?: number;
  /** When the last success ended, Unix ms. */
  lastSuccess?: number;
  /** Age of the last success at `now`, ms. */
  ageMs?: number;
  /** How old the last success may be, ms. */
  maxAgeMs: number;
  /** The next scheduled run after `now`, Unix ms. */
  nextRun?: number;
  /** Bytes processed by the last success (restic's `total_bytes_processed`). */
  lastSize?: number;
  /** This tier's deliveries waiting in the outbox (its backups' and forgets' metrics: the pushes of its job and grouping). */
  pendingDeliveries: number;
  /** This tier's deliveries refused by a destination (the outbox's dead letters of its pushes). */
  deadLetters: number;
}

/** The whole outbox: what waits, what was refused, and where deliveries are failing. */
export interface DeliveriesStatus {
  /** Entries waiting, every profile and kind (check and stats included). */
  pending: number;
  /** Dead letters, every profile and kind (files found in the outbox that were no entry included). */
  deadLetters: number;
  /** Destinations whose waiting entries' last attempt failed, oldest first; empty when deliveries go through. */
  failing: FailingDestination[];
}

/** Options of {@link computeStatus}. */
export interface ComputeStatusOptions {
  config: Config;
  /** The state directory. @default config.stateDir */
  stateDir?: string;
  /** The instant to judge at, Unix ms. @default Date.now() */
  now?: number;
  /** Reads the outbox (a daemon keeps one, so an unchanged outbox is not read again). @default a fresh read of `<stateDir>/outbox/` */
  backlog?: BacklogReader;
}

/** The rows, and warnings from reading the history (torn lines) and the outbox. */
export interface StatusReport {
  /** Unix ms the report is for. */
  now: number;
  /** One per profile and tier, in config order. */
  rows: StatusRow[];
  deliveries: DeliveriesStatus;
  warnings: string[];
}

/**
 * Computes the state of every profile and tier of the configuration.
 * @throws StateError when the history exists but cannot be read.
 */
export async function computeStatus(options: ComputeStatusOptions): Promise<StatusReport> {
  const { config } = options;
  const stateDir = options.stateDir ?? config.stateDir;
  const now = options.now ?? Date.now();
  const { runs, warnings } = await latestRuns(stateDir, { kind: 'backup' });
  // An outbox that cannot be read costs the status its delivery figures, not its tiers.
  const backlog = await (options.backlog ? options.backlog.read() : readBacklog(stateDir)).catch(
    (err: unknown) => {
      warnings.push(`cannot read the outbox ${join(stateDir, 'outbox')}: ${errorText(err)}`);
      return { pending: [], dead: [] };
    },
  );
  const count = (keys: readonly (string | undefined)[], key: string) => keys.filter((k) => k === key).length;
  const pendingKeys = backlog.pending.map((e) => e.pushKey);
  const seen = await noteTiersSeen(stateDir, configTierKeys(config), now);
  const rows: StatusRow[] = [];
  for (const [profile, p] of Object.entries(config.profiles)) {
    for (const [tier, t] of Object.entries(p.tiers)) {
      const { last, lastSuccess } = merge(runs.filter((r) => r.profile === profile && r.tier === tier));
      const maxAgeMs = tierMaxAgeMs(t);
      const push = profileDestinations(config, profile, tier);
      const key = pushKey(push.job, push.grouping);
      const row: StatusRow = {
        profile,
        tier,
        state: 'NEVER',
        schedule: t.schedule,
        maxAgeMs,
        pendingDeliveries: count(pendingKeys, key),
        deadLetters: count(backlog.dead, key),
      };
      if (last) {
        row.lastRun = {
          startedAt: last.startedAt,
          endedAt: last.endedAt,
          outcome: last.outcome,
          exitCode: last.exitCode,
          ...(last.reason !== undefined ? { reason: last.reason } : {}),
          ...(last.error !== undefined && last.outcome !== 'success' ? { error: last.error } : {}),
        };
      }
      if (lastSuccess) {
        row.lastSuccess = lastSuccess.endedAt;
        row.ageMs = now - lastSuccess.endedAt;
        const size = (lastSuccess.summary as { totalBytesProcessed?: unknown } | undefined)
          ?.totalBytesProcessed;
        if (typeof size === 'number') row.lastSize = size;
      }
      try {
        const next = nextRun(t.schedule, { timeZone: config.timezone, after: new Date(now) });
        if (next) row.nextRun = next.getTime();
      } catch {
        // the loader validated the schedule; an expression croner rejects just has no next run
      }
      if (!last) {
        const firstSeen = seen[tierKey(profile, tier)] ?? now;
        row.firstSeen = firstSeen;
        row.state = 'NEVER';
        try {
          const first = nextRun(t.schedule, { timeZone: config.timezone, after: new Date(firstSeen) });
          if (first && now < first.getTime() + maxAgeMs) {
            row.state = 'WAITING';
            row.waitingUntil = first.getTime() + maxAgeMs;
          }
        } catch {
          // no next run: it stays NEVER
        }
      } else if (last.outcome === 'failed' || last.outcome === 'interrupted') row.state = 'FAILED';
      else if (row.ageMs === undefined || row.ageMs > maxAgeMs) row.state = 'LATE';
      else row.state = 'OK';
      rows.push(row);
    }
  }
  const deliveries: DeliveriesStatus = {
    pending: backlog.pending.length,
    deadLetters: backlog.dead.length,
    failing: failingDestinations(backlog.pending),
  };
  return { now, rows, deliveries, warnings };
}

/** True when every row is OK or WAITING (the `status` command then exits 0). */
export function isHealthy(rows: readonly StatusRow[]): boolean {
  return rows.every((r) => r.state === 'OK' || r.state === 'WAITING');
}

/** Merges the latest runs of one profile/tier across jobs (the job name may have changed). */
function merge(runs: LatestRun[]): { last?: RunRecord; lastSuccess?: RunRecord } {
  let last: RunRecord | undefined;
  let lastSuccess: RunRecord | undefined;
  for (const r of runs) {
    if (!last || r.last.endedAt > last.endedAt) last = r.last;
    if (r.lastSuccess && (!lastSuccess || r.lastSuccess.endedAt > lastSuccess.endedAt)) {
      lastSuccess = r.lastSuccess;
    }
  }
  return { ...(last ? { last } : {}), ...(lastSuccess ? { lastSuccess } : {}) };
}

/** Options of {@link formatStatusTable}. */
export interface FormatStatusOptions {
  /** Time zone of the times shown. @default the process's */
  timeZone?: string;
  /** Colour the state column with ANSI codes. @default false */
  isColored?: boolean;
  /** The wide form: REASON and ERROR columns instead of the lines under the table. @default false */
  isWide?: boolean;
}

const STATE_COLOR: Record<TierState, string> = {
  OK: '32',
  WAITING: '36',
  LATE: '33',
  FAILED: '31',
  NEVER: '35',
};

/**
 * Renders a status report as a table: profile, tier, state, last run (with the failure's
 * reason), last success and its age, max age, next run, last size, pending deliveries,
 * dead letters (the tier's own). Each FAILED tier's error message follows the table on its own line
 * (`nfs/daily: <message>`); the wide form shows REASON and ERROR columns instead. Then one
 * line per destination whose deliveries are failing ({@link formatFailingDelivery}).
 * Text from the history is escaped (control characters shown as `\xNN`).
 */
export function formatStatusTable(report: StatusReport, options: FormatStatusOptions = {}): string {
  const tz = options.timeZone;
  const header = [
    'PROFILE',
    'TIER',
    'STATE',
    'LAST RUN',
    'LAST SUCCESS',
    'MAX AGE',
    'NEXT RUN',
    'LAST SIZE',
    'PENDING',
    'DEAD',
    ...(options.isWide ? ['REASON', 'ERROR'] : []),
  ];
  const rows: Cell[][] = report.rows.map((r) => {
    const why =
      r.lastRun?.reason !== undefined && !options.isWide ? `, ${escapeControl(r.lastRun.reason)}` : '';
    const lastRun = r.lastRun
      ? `${formatClockTime(r.lastRun.endedAt, tz)} ${r.lastRun.outcome}${
          r.lastRun.outcome === 'success' ? '' : ` (exit ${r.lastRun.exitCode ?? 'signal'}${why})`
        }`
      : '-';
    const lastSuccess =
      r.lastSuccess !== undefined
        ? `${formatClockTime(r.lastSuccess, tz)} (${formatDuration(r.ageMs ?? 0)} ago)`
        : '-';
    const color = STATE_COLOR[r.state];
    return [
      r.profile,
      r.tier,
      options.isColored ? { text: r.state, paint: (s) => `\x1b[${color}m${s}\x1b[0m` } : r.state,
      lastRun,
      lastSuccess,
      formatDuration(r.maxAgeMs),
      r.nextRun !== undefined ? formatClockTime(r.nextRun, tz) : '-',
      r.lastSize !== undefined ? formatBytes(r.lastSize) : '-',
      String(r.pendingDeliveries),
      String(r.deadLetters),
      ...(options.isWide
        ? [
            r.state === 'FAILED' ? escapeControl(r.lastRun?.reason ?? '-') : '-',
            r.state === 'FAILED' ? escapeControl(r.lastRun?.error ?? '-') : '-',
          ]
        : []),
    ];
  });
  const table = formatTable(header, rows);
  const failing = report.deliveries.failing.map((f) => `${formatFailingDelivery(f, tz)}\n`).join('');
  if (options.isWide) return table + failing;
  // Why each failed tier failed, under the table (a hook's message, restic's error).
  const why = report.rows
    .filter((r) => r.state === 'FAILED' && r.lastRun?.error)
    .map((r) => `${escapeControl(`${r.profile}/${r.tier}`)}: ${escapeControl(r.lastRun?.error ?? '')}\n`)
    .join('');
  return table + why + failing;
}

/**
 * One line for a destination whose deliveries are failing, escaped:
 * `deliveries failing: 3 entries wait for gateway http://gw:9091 since 2024-05-10 11:00; last attempt 2024-05-10 11:55: <error>`.
 */
export function formatFailingDelivery(f: FailingDestination, timeZone?: string): string {
  const entries = f.pending === 1 ? '1 entry waits' : `${f.pending} entries wait`;
  return escapeControl(
    `deliveries failing: ${entries} for ${f.destination} since ${formatClockTime(f.since, timeZone)}; last attempt ${formatClockTime(f.lastAttemptAt, timeZone)}: ${f.lastError}`,
  );
}
