/**
 * The run history's index, `<stateDir>/history.index.json` (mode 0600): what a run needs
 * to know about the history without reading it: the run counts per kind/profile/tier/job
 * (rotations' base counts included) and the last run recorded of each (the outbox re-queues
 * a run whose metrics were not confirmed delivered), the ids of the last {@link INDEX_IDS} runs
 * (the outbox asks whether a run was recorded), the last rotation, and the warnings about
 * skipped lines.
 *
 * It describes a prefix of `history.jsonl`: the file (device and inode, so a rotation makes
 * it stale), the bytes and lines it covers, and a digest of its last covered line (so a
 * file cut short and written again is noticed). A reader adds the lines appended since,
 * usually none; an index that does not match, is corrupt, or is not a private file of ours
 * is ignored and the history read in full once. It is derived data: written atomically but
 * not fsynced, since the history alone is the record.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { writeFileAtomic } from './dir.js';
import type { HistoryOutcome, OutcomeCounts, RunKind, RunRecord, RunScope } from './history.js';
import { readTrustedFile } from './trusted-read.js';

/** How many of the latest run ids the index keeps. */
export const INDEX_IDS = 1024;
/** How many warnings about skipped lines it keeps (the last ones). */
const INDEX_WARNINGS = 20;
const OUTCOMES: readonly HistoryOutcome[] = ['success', 'warning', 'failed', 'interrupted'];

/** Counts of runs of one kind/profile/tier/job (also the history's `base` line entries). */
export interface ScopeCounts {
  kind: RunKind;
  profile?: string;
  tier?: string;
  job: string;
  counts: OutcomeCounts;
  /** The last run of the scope the file records (in append order); absent when a rotation folded them all. */
  last?: { id: string; endedAt: number };
}

/** One line of the history, as the scan yields it, with its byte range. */
export type ScanItem = (
  | { type: 'record'; record: RunRecord }
  | { type: 'base'; entries: ScopeCounts[]; rotatedAt: number | undefined }
  | { type: 'warning'; message: string }
  | { type: 'blank' }
) & {
  /** Byte offset of the line's start. */
  at: number;
  /** Byte offset just past its newline; absent for an incomplete last line. */
  end?: number;
  /** The line's bytes without the newline; valid only until the scan goes on. */
  bytes?: Buffer;
};

/** What the history holds, as far as {@link HistorySummary.size} bytes. */
export interface HistorySummary {
  /** Format version: 2 since the index keeps each scope's last run (a version-1 index is read again). */
  v: 2;
  /** `dev:ino` of the history file it describes. */
  file: string;
  /** Bytes covered (complete lines). */
  size: number;
  /** Lines covered. */
  lines: number;
  /** Start and digest of the last covered line. */
  lastLineAt: number;
  lastLineDigest: string | null;
  /** Unix ms of the last rotation. */
  rotatedAt: number | null;
  /** Run counts per scope, base counts included. */
  counts: ScopeCounts[];
  /** Ids of the last runs, oldest first. */
  ids: string[];
  /** True when `ids` holds every run of the file. */
  isIdsComplete: boolean;
  /** The last warnings about skipped lines. */
  warnings: string[];
}

/** Returns the index file's path. */
export function historyIndexPath(stateDir: string): string {
  return join(stateDir, 'history.index.json');
}

/** The summary of an empty file. */
export function emptySummary(file: string): HistorySummary {
  return {
    v: 2,
    file,
    size: 0,
    lines: 0,
    lastLineAt: 0,
    lastLineDigest: null,
    rotatedAt: null,
    counts: [],
    ids: [],
    isIdsComplete: true,
    warnings: [],
  };
}

/** Adds one complete line to the summary. */
export function addLine(s: HistorySummary, item: ScanItem): void {
  if (item.end === undefined) return;
  s.size = item.end;
  s.lines++;
  s.lastLineAt = item.at;
  s.lastLineDigest = null; // set by the caller for the last line it adds
  if (item.type === 'record') {
    const r = item.record;
    const e = scopeEntry(s, r);
    e.counts[r.outcome]++;
    e.last = { id: r.id, endedAt: r.endedAt };
    s.ids.push(r.id);
    if (s.ids.length > INDEX_IDS) {
      s.ids.splice(0, s.ids.length - INDEX_IDS);
      s.isIdsComplete = false;
    }
  } else if (item.type === 'base') {
    for (const e of item.entries) {
      const c = scopeEntry(s, e).counts;
      for (const o of OUTCOMES) c[o] += Number(e.counts?.[o]) || 0;
    }
    if (item.rotatedAt !== undefined) s.rotatedAt = item.rotatedAt;
  } else if (item.type === 'warning') {
    s.warnings.push(item.message);
    if (s.warnings.length > INDEX_WARNINGS) s.warnings.splice(0, s.warnings.length - INDEX_WARNINGS);
  }
}

/** The run counts of the scopes `want` matches (an absent field matches any value). */
export function countsIn(s: HistorySummary, want: RunScope): OutcomeCounts {
  const out: OutcomeCounts = { success: 0, warning: 0, failed: 0, interrupted: 0 };
  for (const e of s.counts) {
    if (
      (want.kind === undefined || e.kind === want.kind) &&
      (want.profile === undefined || e.profile === want.profile) &&
      (want.tier === undefined || e.tier === want.tier) &&
      (want.job === undefined || e.job === want.job)
    ) {
      for (const o of OUTCOMES) out[o] += e.counts[o];
    }
  }
  return out;
}

function scopeEntry(s: HistorySummary, scope: Omit<ScopeCounts, 'counts'>): ScopeCounts {
  let e = s.counts.find(
    (c) =>
      c.kind === scope.kind && c.job === scope.job && c.profile === scope.profile && c.tier === scope.tier,
  );
  if (!e) {
    e = {
      kind: scope.kind,
      job: scope.job,
      ...(scope.profile !== undefined ? { profile: scope.profile } : {}),
      ...(scope.tier !== undefined ? { tier: scope.tier } : {}),
      counts: { success: 0, warning: 0, failed: 0, interrupted: 0 },
    };
    s.counts.push(e);
  }
  return e;
}

/** The digest of a line's bytes (without its newline), as the index keeps it. */
export function lineDigest(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('base64url').slice(0, 22);
}

/** Reads the index when it is a private file of ours and well-formed; undefined otherwise. */
export async function readHistoryIndex(stateDir: string): Promise<HistorySummary | undefined> {
  const got = await readTrustedFile(historyIndexPath(stateDir), { maxBytes: 4 * 1024 * 1024 });
  if (!('content' in got)) return undefined;
  try {
    const v = JSON.parse(got.content.toString('utf8')) as HistorySummary;
    return isSummary(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/** Writes the index (atomically, not fsynced); a failure only costs the next reader a full read. */
export async function writeHistoryIndex(stateDir: string, s: HistorySummary): Promise<void> {
  await writeFileAtomic(historyIndexPath(stateDir), `${JSON.stringify(s)}\n`, {
    mode: 0o600,
    isDurable: false,
  }).catch(() => undefined);
}

function isCounts(c: unknown): c is OutcomeCounts {
  return (
    typeof c === 'object' && c !== null && OUTCOMES.every((o) => Number.isInteger((c as OutcomeCounts)[o]))
  );
}

function isSummary(v: unknown): v is HistorySummary {
  if (typeof v !== 'object' || v === null) return false;
  const s = v as HistorySummary;
  return (
    s.v === 2 &&
    typeof s.file === 'string' &&
    Number.isInteger(s.size) &&
    Number.isInteger(s.lines) &&
    Number.isInteger(s.lastLineAt) &&
    s.lastLineAt <= s.size &&
    (s.lastLineDigest === null || typeof s.lastLineDigest === 'string') &&
    (s.rotatedAt === null || typeof s.rotatedAt === 'number') &&
    Array.isArray(s.counts) &&
    s.counts.every(
      (c) =>
        typeof c?.kind === 'string' &&
        typeof c.job === 'string' &&
        isCounts(c.counts) &&
        (c.last === undefined || (typeof c.last?.id === 'string' && typeof c.last.endedAt === 'number')),
    ) &&
    Array.isArray(s.ids) &&
    s.ids.every((id) => typeof id === 'string') &&
    typeof s.isIdsComplete === 'boolean' &&
    Array.isArray(s.warnings) &&
    s.warnings.every((w) => typeof w === 'string')
  );
}
