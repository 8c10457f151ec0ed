/**
 * The JSON the daemon serves on `/api/status` and `/api/history`: plain
 * camelCase objects with Unix-millisecond times, made for the status page and
 * for scripts (`curl -s localhost:9987/api/status | jq`).
 */
import type { FailingDestination } from '../sinks/outbox/backlog.js';
import type { LatestRun, RunRecord } from '../state/history.js';

/** A tier's health, as `resticprom status` judges it. */
export type TierState = 'OK' | 'WAITING' | 'LATE' | 'FAILED' | 'NEVER';

/** One profile/tier on `/api/status`. */
export interface TierStatusView {
  profile: string;
  tier: string;
  /** OK, WAITING (not run yet, first run not due), LATE (last success older than `maxAgeMs`), FAILED (last run failed), NEVER (no run although one was due). */
  state: TierState;
  /** When the last run ended, Unix ms; null when it never ran. */
  lastRun: number | null;
  /** Outcome of the last run: success, warning, failed, interrupted; null when it never ran. */
  lastOutcome: string | null;
  /** Why the last run did not succeed, one line (credentials masked); null when it succeeded or never ran. */
  lastError: string | null;
  /** When the last successful run ended, Unix ms; null when none. */
  lastSuccess: number | null;
  /** Age of the last success at `generatedAt`, ms; null when none. */
  ageMs: number | null;
  /** How old the last success may be before the tier is LATE, ms. */
  maxAgeMs: number;
  /** Next scheduled run, Unix ms; null when the schedule never runs again. */
  nextRun: number | null;
  /** Bytes processed by the last successful backup; null when unknown. */
  lastSize: number | null;
  /** Deliveries of this tier (its backups' and forgets' pushes) waiting in the outbox. */
  pendingDeliveries: number;
  /** Deliveries of this tier refused by a destination (dead-letter folder). */
  deadLetters: number;
  /** True while the daemon runs this tier. */
  isRunning: boolean;
  /** True while a run of this tier waits for another run on the same repository. */
  isQueued: boolean;
}

/** The kinds of repository run `/api/status` shows per profile. */
export const REPOSITORY_RUN_KINDS = ['forget', 'check', 'stats', 'verify'] as const;

/** A profile's last forget, check, stats or verify on `/api/status`. */
export interface RepositoryRunView {
  profile: string;
  kind: (typeof REPOSITORY_RUN_KINDS)[number];
  /** The tier (forget: the tier forgotten; verify: the tier drilled); null for check and stats. */
  tier: string | null;
  /** success, warning, failed or interrupted. */
  outcome: string;
  /** When it ended, Unix ms. */
  endedAt: number;
  /** Age at `generatedAt`, ms. */
  ageMs: number;
  /** When the last successful run of this kind ended, Unix ms; null when none. */
  lastSuccess: number | null;
  /** The failed run's message (or its reason); null when it did not fail. */
  error: string | null;
  /** Its key numbers, by name: `kept`/`removed`, `errors`, `rawSize`/`snapshots`, `files`/`mismatches`. */
  figures: Record<string, number>;
}

const FIGURES: Record<RepositoryRunView['kind'], readonly string[]> = {
  forget: ['kept', 'removed'],
  check: ['errors'],
  stats: ['rawSize', 'restoreSize', 'snapshots'],
  verify: ['files', 'bytes', 'mismatches', 'comparedWithSource'],
};

/**
 * The last forget, check, stats and verify of each profile (the newest over its tiers for
 * forget), newest figures from their history summaries, for `/api/status`.
 */
export function repositoryRunsView(
  latest: readonly LatestRun[],
  profiles: readonly string[],
  now: number,
): RepositoryRunView[] {
  const out: RepositoryRunView[] = [];
  for (const profile of profiles) {
    for (const kind of REPOSITORY_RUN_KINDS) {
      const mine = latest.filter((l) => l.kind === kind && l.profile === profile);
      const last = mine.reduce<RunRecord | undefined>(
        (m, l) => (m === undefined || l.last.endedAt > m.endedAt ? l.last : m),
        undefined,
      );
      if (!last) continue;
      const success = mine.reduce<number | null>(
        (m, l) => (l.lastSuccess && (m === null || l.lastSuccess.endedAt > m) ? l.lastSuccess.endedAt : m),
        null,
      );
      const s = (typeof last.summary === 'object' && last.summary !== null ? last.summary : {}) as Record<
        string,
        unknown
      >;
      const figures: Record<string, number> = {};
      for (const k of FIGURES[kind]) {
        const v = s[k];
        if (typeof v === 'number' && Number.isFinite(v)) figures[k] = v;
      }
      const isBad = last.outcome === 'failed' || last.outcome === 'interrupted';
      out.push({
        profile,
        kind,
        tier: last.tier ?? (typeof s.tier === 'string' ? s.tier : null),
        outcome: last.outcome,
        endedAt: last.endedAt,
        ageMs: Math.max(0, now - last.endedAt),
        lastSuccess: success,
        error: isBad ? (last.error ?? last.reason ?? null) : null,
        figures,
      });
    }
  }
  return out;
}

/** The daemon itself on `/api/status`. */
export interface DaemonView {
  /** When the daemon started, Unix ms. */
  startedAt: number;
  /** resticprom's version. */
  version: string;
  /** The config file in use. */
  configFile: string;
  /** When the config was last (re)loaded, Unix ms. */
  configLoadedAt: number;
}

/** The outbox on `/api/status`. */
export interface DeliveriesView {
  /** Entries waiting, every profile and kind. */
  pending: number;
  /** Dead letters, every profile and kind. */
  deadLetters: number;
  /**
   * Destinations whose deliveries are failing (entries wait and their last attempt failed),
   * oldest first: the masked destination, how many entries wait, since when (the oldest's
   * enqueue time, Unix ms), the last attempt's time and error. Empty while deliveries go through.
   */
  failing: FailingDestination[];
}

/** What `/api/status` answers. */
export interface StatusView {
  /** When this answer was made, Unix ms; ages are measured at this time. */
  generatedAt: number;
  /** IANA time zone of the schedules. */
  timezone: string;
  daemon: DaemonView | null;
  tiers: TierStatusView[];
  deliveries: DeliveriesView;
  /** Per profile, its last forget, check, stats and verify (kinds that never ran are absent). */
  repositoryRuns: RepositoryRunView[];
  /** Problems met while reading the state (torn history lines, unreadable files). */
  warnings: string[];
}

/** One backup run on `/api/history`. Sizes and counts are null when the run wrote no summary. */
export interface HistoryRunView {
  id: string;
  kind: string;
  profile: string | null;
  tier: string | null;
  /** Unix ms. */
  startedAt: number;
  /** Unix ms. */
  endedAt: number;
  /** success, warning, failed or interrupted. */
  outcome: string;
  exitCode: number | null;
  reason: string | null;
  /** What went wrong, one line (credentials masked); null when the run succeeded or predates it. */
  error: string | null;
  /** Wall-clock duration, seconds. */
  durationSeconds: number;
  processedBytes: number | null;
  addedBytes: number | null;
  filesProcessed: number | null;
  filesNew: number | null;
  filesChanged: number | null;
  snapshotId: string | null;
}

/** What `/api/history` answers. */
export interface HistoryView {
  /** The runs, oldest first. */
  runs: HistoryRunView[];
  warnings: string[];
}

/** Query of `/api/history`. */
export interface HistoryQuery {
  profile?: string;
  tier?: string;
  /** @default 'backup' */
  kind?: string;
  /** Newest runs to return. @default 100 (at most 1000) */
  limit?: number;
}

/** The largest `limit` `/api/history` accepts. */
export const MAX_HISTORY_LIMIT = 1000;

/**
 * Reads a history query from URL search parameters (`profile`, `tier`, `kind`, `limit`).
 * A `limit` that is not a positive integer falls back to 100; above 1000 it is 1000.
 */
export function parseHistoryQuery(
  params: URLSearchParams,
): Required<Pick<HistoryQuery, 'kind' | 'limit'>> & HistoryQuery {
  const raw = Number(params.get('limit'));
  const limit = Number.isInteger(raw) && raw > 0 ? Math.min(raw, MAX_HISTORY_LIMIT) : 100;
  const q: Required<Pick<HistoryQuery, 'kind' | 'limit'>> & HistoryQuery = {
    kind: params.get('kind') || 'backup',
    limit,
  };
  const profile = params.get('profile');
  const tier = params.get('tier');
  if (profile) q.profile = profile;
  if (tier) q.tier = tier;
  return q;
}

/** Selects the runs of a query from history records (oldest first) and shapes them for `/api/history`. */
export function historyView(records: readonly RunRecord[], query: HistoryQuery): HistoryRunView[] {
  return selectRuns(sortRuns(records.map(historyRunView)), query);
}

/** Sorts runs oldest first (by start time; stable, so file order breaks ties). */
export function sortRuns(runs: HistoryRunView[]): HistoryRunView[] {
  return runs.sort((a, b) => a.startedAt - b.startedAt);
}

/**
 * Selects the newest `limit` runs of a query from runs sorted oldest first (see
 * {@link sortRuns}), oldest first. It walks back from the newest run, so its cost
 * is bounded by the runs it skips, not by the whole history.
 */
export function selectRuns(sorted: readonly HistoryRunView[], query: HistoryQuery): HistoryRunView[] {
  const kind = query.kind ?? 'backup';
  const limit = Math.min(query.limit ?? 100, MAX_HISTORY_LIMIT);
  const picked: HistoryRunView[] = [];
  for (let i = sorted.length - 1; i >= 0 && picked.length < limit; i--) {
    const r = sorted[i] as HistoryRunView;
    if (
      r.kind === kind &&
      (query.profile === undefined || r.profile === query.profile) &&
      (query.tier === undefined || r.tier === query.tier)
    )
      picked.push(r);
  }
  return picked.reverse();
}

/** Shapes one history record for `/api/history` (sizes and counts from its summary). */
export function historyRunView(r: RunRecord): HistoryRunView {
  const s = (typeof r.summary === 'object' && r.summary !== null ? r.summary : {}) as Record<string, unknown>;
  const num = (k: string): number | null =>
    typeof s[k] === 'number' && Number.isFinite(s[k]) ? (s[k] as number) : null;
  return {
    id: r.id,
    kind: r.kind,
    profile: r.profile ?? null,
    tier: r.tier ?? null,
    startedAt: r.startedAt,
    endedAt: r.endedAt,
    outcome: r.outcome,
    exitCode: r.exitCode,
    reason: r.reason ?? null,
    error: r.error ?? null,
    durationSeconds: Math.max(0, r.endedAt - r.startedAt) / 1000,
    processedBytes: num('totalBytesProcessed'),
    addedBytes: num('dataAdded'),
    filesProcessed: num('totalFilesProcessed'),
    filesNew: num('filesNew'),
    filesChanged: num('filesChanged'),
    snapshotId: typeof s.snapshotId === 'string' ? s.snapshotId : null,
  };
}
