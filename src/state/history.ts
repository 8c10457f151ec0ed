/**
 * The run history: an append-only JSON Lines file `<stateDir>/history.jsonl`
 * (mode 0600), one record per run. It is the source of the `..._runs_total`
 * counters (so they survive restarts), of `resticprom status`, and of the
 * last success of each profile and tier.
 *
 * Atomicity: each record is one `write(2)` of one whole line to a file opened
 * with `O_APPEND`, followed by `fsync`. On Linux local file systems concurrent
 * `O_APPEND` writers to a regular file do not interleave inside one write, so
 * a line is never mixed with another (PIPE_BUF is about pipes, not files).
 * A crash or `kill -9` during the write can still leave a torn last line; it
 * is skipped when reading, with a warning (never an error), and the next
 * append first ends that line so the new record starts on a fresh one.
 * Appends and rotation also hold a short lock (`<stateDir>/locks/history.lock`)
 * so a rotation never drops a record written meanwhile.
 *
 * Counters are computed from the history: a run counts once its line is
 * complete, so after a crash the counters and the history always agree. A run
 * does not read the history back: the counts and the latest run ids are kept in
 * an index of the file (`history.index.json`, see `history-index.ts`), updated
 * with each append, and only the lines appended since the index was written are
 * read.
 * Rotation (when the file exceeds 10 MiB) rewrites it atomically (temporary
 * file, fsync, rename) keeping the last records of every profile/tier/kind
 * plus each one's last success, and writes the counts of the dropped records
 * into a first `{"type":"base"}` line, so counters never go backwards.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { join } from 'node:path';
import { errorText, LockBusyError, StateError } from '../errors.js';
import type { DeliveryReport } from '../sinks/types.js';
import { syncDir, untrustedReason } from './dir.js';
import {
  addLine,
  countsIn,
  emptySummary,
  type HistorySummary,
  historyIndexPath,
  lineDigest,
  readHistoryIndex,
  type ScanItem,
  type ScopeCounts,
  writeHistoryIndex,
} from './history-index.js';
import { type FileHandle, lstat, open, rename, unlink } from './io.js';
import { acquireLockFile } from './lock.js';

const READ_NOFOLLOW = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;
const APPEND_NOFOLLOW =
  constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/** The kinds of run the history records. */
export type RunKind = 'backup' | 'forget' | 'check' | 'stats' | 'verify' | 'run';

/** How a run ended: `warning` is a backup that wrote a snapshot but could not read some files. */
export type HistoryOutcome = 'success' | 'warning' | 'failed' | 'interrupted';

/** Every outcome, in counter order. */
export const HISTORY_OUTCOMES: readonly HistoryOutcome[] = ['success', 'warning', 'failed', 'interrupted'];

/** One run in the history. */
export interface RunRecord {
  /** Format version. */
  v: 1;
  /** Unique id of the run. */
  id: string;
  kind: RunKind;
  profile?: string;
  tier?: string;
  /** The Pushgateway job the run's metrics went to. */
  job: string;
  /** Unix ms. */
  startedAt: number;
  /** Unix ms. */
  endedAt: number;
  outcome: HistoryOutcome;
  /** Exit code of the command; null when it was killed by a signal. */
  exitCode: number | null;
  /** Why it failed (e.g. `wrong-password`). */
  reason?: string;
  /** The run's error message: one line, secrets masked, at most 500 characters. */
  error?: string;
  /** The command's camelCase domain summary (e.g. a BackupSummary), as given. */
  summary?: unknown;
  /** The run's hooks (docs/hooks.md): how each ended; a failed one has its one-line error. */
  hooks?: HookRecord[];
  /** Notifications of the run that were not delivered within it. */
  undeliveredNotifications?: { receiver: string; event: string; reason: string; isQueued: boolean }[];
  /** Where the run's metrics went. */
  delivery?: Pick<DeliveryReport, 'delivered' | 'queued' | 'deadLettered'>;
}

/** One hook of a run, as the history keeps it. */
export interface HookRecord {
  stage: string;
  /** Position in its stage, from 0. */
  index: number;
  exitCode: number | null;
  isOk: boolean;
  durationMs: number;
  error?: string;
}

/** Run counts by outcome. */
export type OutcomeCounts = Record<HistoryOutcome, number>;

/** Which runs a counter or query is about; an absent field matches any value. */
export interface RunScope {
  kind?: RunKind;
  profile?: string;
  tier?: string;
  job?: string;
}

/** Counts of the runs dropped by rotations, per kind/profile/tier/job (the `base` line). */
type BaseEntry = ScopeCounts;

/** Options of {@link appendRun}. */
export interface AppendRunOptions {
  /** Rotate when the file grows beyond this many bytes. @default 10485760 (10 MiB) */
  maxBytes?: number;
  /** Records kept per kind/profile/tier/job by a rotation (each one's last success is kept too). @default 500 */
  keepPerScope?: number;
  /** How long to wait for another process appending or rotating, ms. @default 30000 */
  lockWaitMs?: number;
}

/** What {@link appendRun} did. */
export interface AppendRunResult {
  /** Things to tell the user: a stale history lock taken over, a rotation. */
  warnings: string[];
  /** True when the append triggered a rotation. */
  isRotated: boolean;
}

/** How far back an append looks for the end of a torn last line. */
const TORN_TAIL_WINDOW = 1024 * 1024;

/** Returns the history file's path. */
export function historyPath(stateDir: string): string {
  return join(stateDir, 'history.jsonl');
}

/**
 * Appends one run to the history: one O_APPEND write of one line, then fsync.
 * Rotates the file when it grew beyond `maxBytes`.
 * @throws StateError when the history cannot be written.
 */
export async function appendRun(
  stateDir: string,
  record: RunRecord,
  options: AppendRunOptions = {},
): Promise<AppendRunResult> {
  const file = historyPath(stateDir);
  const warnings: string[] = [];
  const lock = await lockHistory(stateDir, options.lockWaitMs ?? 30_000);
  warnings.push(...lock.warnings);
  let isRotated = false;
  try {
    let size: number;
    let fh: Awaited<ReturnType<typeof open>>;
    try {
      // Never through a link, never a FIFO or a file of another user: see state/dir.ts.
      fh = await open(file, APPEND_NOFOLLOW, 0o600);
    } catch (err) {
      throw new StateError(`cannot open the run history ${file}: ${errorText(err)}`, file, { cause: err });
    }
    try {
      let st = await fh.stat();
      const why = untrustedReason(st, false);
      if (why !== undefined) throw new StateError(`the run history ${file} ${why}; remove it`, file);
      let prefix = '';
      if (st.size > 0 && !(await endsWithNewline(file, st.size))) {
        // 'a' opens write-only; read the tail through a second descriptor.
        const tailLen = Math.min(st.size, TORN_TAIL_WINDOW);
        const tail = Buffer.alloc(tailLen);
        const rh = await open(file, READ_NOFOLLOW);
        try {
          await rh.read(tail, 0, tailLen, st.size - tailLen);
        } finally {
          await rh.close();
        }
        // The previous writer died mid-line (kill -9, power loss): that record never
        // made it, so its run is not in the history. Cut the torn line off, under the
        // history lock, so later reads do not warn about it forever.
        const nl = tail.lastIndexOf(0x0a);
        if (nl >= 0 || tailLen === st.size) {
          await fh.truncate(st.size - tailLen + nl + 1);
          st = await fh.stat();
          warnings.push(`${file}: removed an incomplete last line (a crash during a write)`);
        } else {
          prefix = '\n'; // a torn line longer than the window: start ours on a fresh one
          warnings.push(`${file}: the last line was incomplete (a crash during a write); it is skipped`);
        }
      }
      // What the index knows plus the lines since, as of now (we hold the lock).
      // A copy: the summary read may be the one this process keeps (see summarizeHistory).
      const before = prefix ? undefined : structuredClone((await summarizeHistory(stateDir)).summary);
      const body = Buffer.from(JSON.stringify(record), 'utf8');
      const line = Buffer.concat([Buffer.from(prefix), body, Buffer.from('\n')]);
      let off = 0;
      while (off < line.length) {
        const { bytesWritten } = await fh.write(line, off, line.length - off);
        off += bytesWritten;
      }
      await fh.sync();
      size = st.size + line.length;
      if (st.size === 0) await syncDir(stateDir).catch(() => undefined);
      if (before && before.size === st.size && before.file === fileId(st)) {
        addLine(before, { type: 'record', record, at: st.size, end: size });
        before.lastLineDigest = lineDigest(body);
        await writeHistoryIndex(stateDir, before);
        // Under the history lock, so the file is as this summary says.
        remembered = { file, key: await filesKey(stateDir, file), summary: before, warnings: [] };
      }
    } catch (err) {
      throw new StateError(`cannot append to the run history ${file}: ${errorText(err)}`, file, {
        cause: err,
      });
    } finally {
      await fh.close();
    }
    if (size > (options.maxBytes ?? 10 * 1024 * 1024)) {
      await rotate(stateDir, options.keepPerScope ?? 500);
      isRotated = true;
    }
  } finally {
    await lock.release();
  }
  return { warnings, isRotated };
}

/** Options of {@link readHistory}. */
export interface ReadHistoryOptions {
  /** Keeps only the records for which it returns true. */
  filter?: (record: RunRecord) => boolean;
}

/** Records read from the history, and what was skipped. */
export interface HistoryRead {
  records: RunRecord[];
  /** One sentence per skipped line (torn by a crash, not a record). Never fatal. */
  warnings: string[];
}

/**
 * Reads the history, line by line (the file may be large), oldest first.
 * A missing file is an empty history. Bad lines are skipped with a warning.
 */
export async function readHistory(stateDir: string, options: ReadHistoryOptions = {}): Promise<HistoryRead> {
  const records: RunRecord[] = [];
  const warnings: string[] = [];
  for await (const item of scanHistory(stateDir)) {
    if (item.type === 'record') {
      if (!options.filter || options.filter(item.record)) records.push(item.record);
    } else if (item.type === 'warning') warnings.push(item.message);
  }
  return { records, warnings };
}

/** The ids of the runs a history holds, and when it was last rotated. */
export interface RecordedRuns {
  ids: Set<string>;
  /** Unix ms of the last rotation (records older than it may have been folded into counts). */
  rotatedAt: number | undefined;
}

/**
 * Returns the ids of the runs the history records, and the time of its last rotation.
 * The outbox uses it to tell a run's metrics that were written ahead of the run's record
 * from those of a run that was never recorded (killed between the two writes).
 * With `wanted`, the ids come from the history's index when it holds every one of them
 * (or every run of the file), so the history is read in full only for an id not among
 * the latest runs; without, they are every id of the history.
 */
export async function recordedRuns(stateDir: string, wanted?: readonly string[]): Promise<RecordedRuns> {
  if (wanted) {
    const { summary } = await summarizeHistory(stateDir);
    const ids = new Set(summary.ids);
    if (summary.isIdsComplete || wanted.every((id) => ids.has(id)))
      return { ids, rotatedAt: summary.rotatedAt ?? undefined };
  }
  const ids = new Set<string>();
  let rotatedAt: number | undefined;
  for await (const item of scanHistory(stateDir)) {
    if (item.type === 'record') ids.add(item.record.id);
    else if (item.type === 'base') rotatedAt = item.rotatedAt;
  }
  return { ids, rotatedAt };
}

/** The last recorded run of one kind/profile/tier/job. */
export interface LastRecordedRun {
  kind: RunKind;
  profile?: string;
  tier?: string;
  job: string;
  /** The run's id. */
  id: string;
  /** Its end, Unix ms. */
  endedAt: number;
}

/**
 * Returns, per kind/profile/tier/job, the last run the history records (in append order,
 * the order runs were committed), from the history's index: usually without reading the
 * history. A scope whose runs a rotation folded into counts has none.
 */
export async function lastRecordedRuns(stateDir: string): Promise<LastRecordedRun[]> {
  const { summary } = await summarizeHistory(stateDir);
  return summary.counts.flatMap((c) =>
    c.last === undefined
      ? []
      : [
          {
            kind: c.kind,
            job: c.job,
            ...(c.profile !== undefined ? { profile: c.profile } : {}),
            ...(c.tier !== undefined ? { tier: c.tier } : {}),
            id: c.last.id,
            endedAt: c.last.endedAt,
          },
        ],
  );
}

/** Counts of runs by outcome, and the warnings of reading the history. */
export interface RunCountersResult {
  counts: OutcomeCounts;
  warnings: string[];
}

/**
 * Counts the runs of a scope by outcome, including runs a rotation dropped, so the
 * counts only grow (they back the `..._runs_total{outcome}` counters).
 * @example
 * await runCounters(stateDir, 'backup', { profile: 'nfs', tier: 'daily' });
 * await runCounters(stateDir, { kind: 'run', job: 'db_dump' });
 */
export async function runCounters(
  stateDir: string,
  kindOrScope: RunKind | RunScope,
  scope: Omit<RunScope, 'kind'> = {},
): Promise<RunCountersResult> {
  const want: RunScope = typeof kindOrScope === 'string' ? { ...scope, kind: kindOrScope } : kindOrScope;
  const { summary, warnings } = await summarizeHistory(stateDir);
  return { counts: countsIn(summary, want), warnings: [...summary.warnings, ...warnings] };
}

/**
 * What the history holds: its index (when it still describes the file) plus the lines
 * appended since, else the whole file read once. A fresh index is written when lines were
 * added to it. `warnings` are about an incomplete last line, which the index does not cover.
 */
async function summarizeHistory(stateDir: string): Promise<{ summary: HistorySummary; warnings: string[] }> {
  const file = historyPath(stateDir);
  // A run asks five times (its counters, the re-queue, the record, two flush judgements):
  // the file unchanged since this process last summarized it is not opened again. (A link
  // in its place has another identity, and is refused by the open below.)
  // Taken before reading: a change after this point makes the next call read again.
  const key = await filesKey(stateDir, file);
  if (remembered?.file === file && remembered.key === key) return remembered;
  let fh: FileHandle;
  try {
    fh = await open(file, READ_NOFOLLOW);
  } catch (err) {
    if (isCode(err, 'ENOENT')) return { summary: emptySummary(''), warnings: [] };
    throw new StateError(`cannot read the run history ${file}: ${errorText(err)}`, file, { cause: err });
  }
  try {
    const st = await fh.stat();
    const id = fileId(st);
    let summary = await readHistoryIndex(stateDir);
    if (!summary || summary.file !== id || summary.size > st.size || !(await coversPrefix(fh, summary)))
      summary = emptySummary(id);
    const fromLines = summary.lines;
    const warnings: string[] = [];
    let last: Buffer | undefined;
    for await (const item of scanHistory(stateDir, { fh, offset: summary.size, line: summary.lines })) {
      if (item.end === undefined) {
        if (item.type === 'warning') warnings.push(item.message);
        continue;
      }
      addLine(summary, item);
      last = item.bytes ? Buffer.from(item.bytes) : undefined;
    }
    if (summary.lines > fromLines) {
      summary.lastLineDigest = last ? lineDigest(last) : null;
      await writeHistoryIndex(stateDir, summary);
    }
    remembered = { file, key, summary, warnings };
    return { summary, warnings };
  } finally {
    await fh.close();
  }
}

/**
 * The last summary this process made, of which file in which state (never changed by a
 * caller: appendRun changes a copy).
 */
let remembered: { file: string; key: string; summary: HistorySummary; warnings: string[] } | undefined;

/**
 * The history file and its index as they are now (a write to either changes its size or
 * times; a link in the history's place has another identity, and is refused when opened).
 */
async function filesKey(stateDir: string, file: string): Promise<string> {
  const key = (
    st: { dev: number; ino: number; size: number; mtimeMs: number; ctimeMs: number } | undefined,
  ) => (st ? `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}` : '-');
  const [history, index] = await Promise.all([
    lstat(file).catch(() => undefined),
    lstat(historyIndexPath(stateDir)).catch(() => undefined),
  ]);
  return `${key(history)} ${key(index)}`;
}

/** Identifies the history file: a rotation writes a new one. */
function fileId(st: { dev: number; ino: number }): string {
  return `${st.dev}:${st.ino}`;
}

/** True when the index's last covered line is still there, whole and the same. */
async function coversPrefix(fh: FileHandle, s: HistorySummary): Promise<boolean> {
  if (s.size === 0) return true;
  if (s.lastLineDigest === null || s.size - s.lastLineAt > 1024 * 1024) return false;
  const buf = Buffer.alloc(s.size - s.lastLineAt);
  const { bytesRead } = await fh.read(buf, 0, buf.length, s.lastLineAt);
  return (
    bytesRead === buf.length &&
    buf[buf.length - 1] === 0x0a &&
    lineDigest(buf.subarray(0, buf.length - 1)) === s.lastLineDigest
  );
}

/** True when the file's byte before `size` is a newline (the last line is complete). */
async function endsWithNewline(file: string, size: number): Promise<boolean> {
  const rh = await open(file, READ_NOFOLLOW);
  try {
    const one = Buffer.alloc(1);
    await rh.read(one, 0, 1, size - 1);
    return one[0] === 0x0a;
  } finally {
    await rh.close();
  }
}

/** The last run and the last success of one kind/profile/tier/job. */
export interface LatestRun {
  kind: RunKind;
  profile?: string;
  tier?: string;
  job: string;
  /** The most recent run (by end time). */
  last: RunRecord;
  /** The most recent run that wrote its result: outcome `success` or `warning`. */
  lastSuccess?: RunRecord;
}

/** The latest runs and the warnings of reading the history. */
export interface LatestRunsResult {
  runs: LatestRun[];
  warnings: string[];
}

/**
 * Returns, per kind/profile/tier/job found in the history, the last run and the
 * last success (`success` or `warning`: a snapshot was written).
 */
export async function latestRuns(stateDir: string, scope: RunScope = {}): Promise<LatestRunsResult> {
  const byKey = new Map<string, LatestRun>();
  const warnings: string[] = [];
  for await (const item of scanHistory(stateDir)) {
    if (item.type === 'warning') warnings.push(item.message);
    if (item.type !== 'record' || !inScope(item.record, scope)) continue;
    const r = item.record;
    const key = scopeKey(r);
    const cur = byKey.get(key);
    const entry: LatestRun = cur ?? { kind: r.kind, job: r.job, last: r };
    if (!cur) {
      if (r.profile !== undefined) entry.profile = r.profile;
      if (r.tier !== undefined) entry.tier = r.tier;
      byKey.set(key, entry);
    } else if (r.endedAt >= cur.last.endedAt) cur.last = r;
    if (isSuccess(r) && (!entry.lastSuccess || r.endedAt >= entry.lastSuccess.endedAt)) entry.lastSuccess = r;
  }
  return { runs: [...byKey.values()], warnings };
}

/** True for outcomes that wrote their result (`success`, `warning`). */
export function isSuccess(record: Pick<RunRecord, 'outcome'>): boolean {
  return record.outcome === 'success' || record.outcome === 'warning';
}

/**
 * Streams the history's lines as records, base lines and warnings, with their byte
 * ranges, from `offset` (a line start) on; `fh` reads through a descriptor already open.
 */
async function* scanHistory(
  stateDir: string,
  from: { fh?: FileHandle; offset?: number; line?: number } = {},
): AsyncGenerator<ScanItem> {
  const file = historyPath(stateDir);
  let fh = from.fh;
  if (!fh) {
    try {
      fh = await open(file, READ_NOFOLLOW);
    } catch (err) {
      if (isCode(err, 'ENOENT')) return;
      throw new StateError(`cannot read the run history ${file}: ${errorText(err)}`, file, { cause: err });
    }
  }
  let pos = from.offset ?? 0;
  let lineNo = from.line ?? 0;
  let carry = Buffer.alloc(0);
  let carryAt = pos;
  const chunk = Buffer.allocUnsafe(64 * 1024);
  try {
    for (;;) {
      let bytesRead: number;
      try {
        ({ bytesRead } = await fh.read(chunk, 0, chunk.length, pos));
      } catch (err) {
        throw new StateError(`cannot read the run history ${file}: ${errorText(err)}`, file, { cause: err });
      }
      if (bytesRead === 0) break;
      pos += bytesRead;
      const data =
        carry.length > 0
          ? Buffer.concat([carry, chunk.subarray(0, bytesRead)])
          : chunk.subarray(0, bytesRead);
      let start = 0;
      let nl = data.indexOf(0x0a, start);
      while (nl >= 0) {
        const bytes = data.subarray(start, nl);
        lineNo++;
        const text = bytes.toString('utf8');
        const range = { at: carryAt + start, end: carryAt + nl + 1, bytes };
        yield text.trim() === ''
          ? { type: 'blank', ...range }
          : { ...parseLine(file, lineNo, text), ...range };
        start = nl + 1;
        nl = data.indexOf(0x0a, start);
      }
      carry = Buffer.from(data.subarray(start));
      carryAt += start;
    }
  } finally {
    if (!from.fh) await fh.close();
  }
  if (carry.toString('utf8').trim() !== '') {
    yield {
      type: 'warning',
      message: `${file} line ${lineNo + 1}: incomplete last line (a crash during a write), skipped`,
      at: carryAt,
    };
  }
}

type ParsedLine =
  | { type: 'record'; record: RunRecord }
  | { type: 'base'; entries: BaseEntry[]; rotatedAt: number | undefined }
  | { type: 'warning'; message: string };

function parseLine(file: string, lineNo: number, line: string): ParsedLine {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return { type: 'warning', message: `${file} line ${lineNo}: not valid JSON (torn by a crash?), skipped` };
  }
  if (isRecord(v)) return { type: 'record', record: v };
  if (typeof v === 'object' && v !== null && (v as { type?: unknown }).type === 'base') {
    const entries = (v as { counts?: unknown }).counts;
    const rotatedAt = (v as { rotatedAt?: unknown }).rotatedAt;
    if (Array.isArray(entries)) {
      return {
        type: 'base',
        entries: entries as BaseEntry[],
        rotatedAt: typeof rotatedAt === 'number' ? rotatedAt : undefined,
      };
    }
  }
  return { type: 'warning', message: `${file} line ${lineNo}: not a run record, skipped` };
}

const KINDS = new Set(['backup', 'forget', 'check', 'stats', 'verify', 'run']);

function isRecord(v: unknown): v is RunRecord {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Partial<RunRecord>;
  return (
    r.v === 1 &&
    typeof r.id === 'string' &&
    typeof r.kind === 'string' &&
    KINDS.has(r.kind) &&
    typeof r.job === 'string' &&
    typeof r.startedAt === 'number' &&
    typeof r.endedAt === 'number' &&
    typeof r.outcome === 'string' &&
    HISTORY_OUTCOMES.includes(r.outcome)
  );
}

function inScope(r: RunScope, want: RunScope): boolean {
  return (
    (want.kind === undefined || r.kind === want.kind) &&
    (want.profile === undefined || r.profile === want.profile) &&
    (want.tier === undefined || r.tier === want.tier) &&
    (want.job === undefined || r.job === want.job)
  );
}

function scopeKey(r: RunScope): string {
  return JSON.stringify([r.kind, r.profile ?? null, r.tier ?? null, r.job ?? null]);
}

function zeroCounts(): OutcomeCounts {
  return { success: 0, warning: 0, failed: 0, interrupted: 0 };
}

async function lockHistory(stateDir: string, waitMs: number) {
  try {
    return await acquireLockFile(join(stateDir, 'locks', 'history.lock'), {
      waitMs,
      pollMs: 10,
      command: 'history append',
    });
  } catch (err) {
    if (err instanceof LockBusyError) {
      throw new StateError(`the run history is locked too long: ${err.message}`, historyPath(stateDir), {
        cause: err,
      });
    }
    throw err;
  }
}

/**
 * Rewrites the history keeping the last `keep` records of each scope plus each
 * scope's last success; the counts of the dropped records go into the base line.
 */
async function rotate(stateDir: string, keep: number): Promise<void> {
  const file = historyPath(stateDir);
  // Pass 1: how many records each scope has, the index of its last success, and the old base.
  const total = new Map<string, number>();
  const lastSuccessAt = new Map<string, number>();
  const base = new Map<string, BaseEntry>();
  let index = 0;
  for await (const item of scanHistory(stateDir)) {
    if (item.type === 'record') {
      const k = scopeKey(item.record);
      total.set(k, (total.get(k) ?? 0) + 1);
      if (isSuccess(item.record)) lastSuccessAt.set(k, index);
      index++;
    } else if (item.type === 'base') {
      for (const e of item.entries) addBase(base, e, e.counts);
    }
  }
  // Pass 2: keep or fold into the base.
  const seen = new Map<string, number>();
  const kept: string[] = [];
  index = 0;
  for await (const item of scanHistory(stateDir)) {
    if (item.type !== 'record') continue;
    const r = item.record;
    const k = scopeKey(r);
    const n = (seen.get(k) ?? 0) + 1;
    seen.set(k, n);
    if (n > (total.get(k) ?? 0) - keep || lastSuccessAt.get(k) === index) kept.push(JSON.stringify(r));
    else {
      const one = zeroCounts();
      one[r.outcome] = 1;
      addBase(base, { kind: r.kind, job: r.job, ...pickScope(r) }, one);
    }
    index++;
  }
  const header = JSON.stringify({ v: 1, type: 'base', rotatedAt: Date.now(), counts: [...base.values()] });
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    const fh = await open(tmp, 'wx', 0o600);
    try {
      await fh.writeFile(`${header}\n${kept.map((l) => `${l}\n`).join('')}`);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
    await syncDir(stateDir).catch(() => undefined);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw new StateError(`cannot rotate the run history ${file}: ${errorText(err)}`, file, { cause: err });
  }
}

function pickScope(r: RunScope): { profile?: string; tier?: string } {
  return {
    ...(r.profile !== undefined ? { profile: r.profile } : {}),
    ...(r.tier !== undefined ? { tier: r.tier } : {}),
  };
}

function addBase(base: Map<string, BaseEntry>, scope: Omit<BaseEntry, 'counts'>, counts: OutcomeCounts) {
  const k = scopeKey(scope);
  let e = base.get(k);
  if (!e) {
    e = { kind: scope.kind, job: scope.job, ...pickScope(scope), counts: zeroCounts() };
    base.set(k, e);
  }
  for (const o of HISTORY_OUTCOMES) e.counts[o] += counts[o] ?? 0;
}

function isCode(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}
