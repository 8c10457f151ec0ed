/**
 * The JSON the daemon serves on `/api/status` and `/api/history`: plain
 * camelCase objects with Unix-millisecond times, made for the status page and
 * for scripts (`curl -s localhost:9987/api/status | jq`).
 */
import type { RunRecord } from '../state/history.js';

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
  /** Deliveries of this tier waiting in the outbox. */
  pendingDeliveries: number;
  /** Deliveries of this tier refused as invalid (dead-letter folder). */
  deadLetters: number;
  /** True while the daemon runs this tier. */
  isRunning: boolean;
  /** True while a run of this tier waits for another run on the same repository. */
  isQueued: boolean;
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

/** What `/api/status` answers. */
export interface StatusView {
  /** When this answer was made, Unix ms; ages are measured at this time. */
  generatedAt: number;
  /** IANA time zone of the schedules. */
  timezone: string;
  daemon: DaemonView | null;
  tiers: TierStatusView[];
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
  const kind = query.kind ?? 'backup';
  const limit = Math.min(query.limit ?? 100, MAX_HISTORY_LIMIT);
  const picked = records.filter(
    (r) =>
      r.kind === kind &&
      (query.profile === undefined || r.profile === query.profile) &&
      (query.tier === undefined || r.tier === query.tier),
  );
  picked.sort((a, b) => a.startedAt - b.startedAt);
  return picked.slice(-limit).map(toRunView);
}

function toRunView(r: RunRecord): HistoryRunView {
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
