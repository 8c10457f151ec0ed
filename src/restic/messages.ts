/**
 * restic's JSON messages (snake_case, as restic prints them) for restic 0.14 through 0.19, and
 * their conversion to resticprom's camelCase domain types. Nothing outside src/restic/ sees these.
 *
 * Upstream: https://github.com/restic/restic/blob/master/internal/ui/backup/json.go
 * and https://restic.readthedocs.io/en/stable/075_scripting.html
 */
import type { BackupItemError, BackupProgress, BackupSummary } from './types.js';

/** `{"message_type":"status",...}`: progress; zero and empty fields are omitted by restic. */
export interface ResticStatusMessage {
  message_type: 'status';
  seconds_elapsed?: number;
  seconds_remaining?: number;
  percent_done?: number;
  total_files?: number;
  files_done?: number;
  total_bytes?: number;
  bytes_done?: number;
  error_count?: number;
  current_files?: string[];
}

/**
 * `{"message_type":"verbose_status",...}` (with `-vv`). In 0.14 and 0.15 the `scan_finished`
 * message carries `"message_type":"status"` instead.
 */
export interface ResticVerboseStatusMessage {
  message_type: 'verbose_status' | 'status';
  action: 'new' | 'unchanged' | 'modified' | 'scan_finished' | string;
  item: string;
  duration?: number;
  data_size?: number;
  data_size_in_repo?: number;
  metadata_size?: number;
  metadata_size_in_repo?: number;
  total_files?: number;
}

/**
 * The `error` field of an error message: up to 0.17.0 a Go error value marshalled as is (an
 * `*os.PathError` gives `{"Op":"open","Path":"/x","Err":13}`, most others `{}`); from 0.17.1
 * `{"message":"..."}`.
 */
export type ResticErrorValue =
  | { message: string }
  | { Op?: string; Path?: string; Err?: number | Record<string, unknown> }
  | Record<string, unknown>
  | string
  | null;

/** `{"message_type":"error",...}`, printed on stderr. */
export interface ResticErrorMessage {
  message_type: 'error';
  error: ResticErrorValue;
  during: string;
  item: string;
}

/** `{"message_type":"summary",...}`: the end of a backup. */
export interface ResticSummaryMessage {
  message_type: 'summary';
  dry_run?: boolean;
  files_new: number;
  files_changed: number;
  files_unmodified: number;
  dirs_new: number;
  dirs_changed: number;
  dirs_unmodified: number;
  data_blobs: number;
  tree_blobs: number;
  data_added: number;
  /** 0.17+ */
  data_added_packed?: number;
  total_files_processed: number;
  total_bytes_processed: number;
  total_duration: number;
  /** 0.18+ */
  backup_start?: string;
  backup_end?: string;
  /** Short in 0.14, full from 0.15, omitted from 0.17 when no snapshot was written. */
  snapshot_id?: string;
}

/** `{"message_type":"exit_error","code":N,"message":"..."}` on stderr (0.18+). */
export interface ResticExitErrorMessage {
  message_type: 'exit_error';
  code: number;
  message: string;
}

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

/** Converts a `status` message to a {@link BackupProgress}. */
export function toBackupProgress(m: Partial<ResticStatusMessage>): BackupProgress {
  const p: BackupProgress = {
    percentDone: num(m.percent_done),
    totalFiles: num(m.total_files),
    filesDone: num(m.files_done),
    totalBytes: num(m.total_bytes),
    bytesDone: num(m.bytes_done),
    secondsElapsed: num(m.seconds_elapsed),
    errorCount: num(m.error_count),
    currentFiles: Array.isArray(m.current_files) ? m.current_files.filter((f) => typeof f === 'string') : [],
  };
  if (typeof m.seconds_remaining === 'number') p.secondsRemaining = m.seconds_remaining;
  return p;
}

/** Converts a `summary` message to a {@link BackupSummary}. */
export function toBackupSummary(m: Partial<ResticSummaryMessage>): BackupSummary {
  const s: BackupSummary = {
    filesNew: num(m.files_new),
    filesChanged: num(m.files_changed),
    filesUnmodified: num(m.files_unmodified),
    dirsNew: num(m.dirs_new),
    dirsChanged: num(m.dirs_changed),
    dirsUnmodified: num(m.dirs_unmodified),
    dataBlobs: num(m.data_blobs),
    treeBlobs: num(m.tree_blobs),
    dataAdded: num(m.data_added),
    totalFilesProcessed: num(m.total_files_processed),
    totalBytesProcessed: num(m.total_bytes_processed),
    totalDuration: num(m.total_duration),
    dryRun: m.dry_run === true,
  };
  if (typeof m.data_added_packed === 'number') s.dataAddedPacked = m.data_added_packed;
  if (typeof m.snapshot_id === 'string' && m.snapshot_id !== '') s.snapshotId = m.snapshot_id;
  if (typeof m.backup_start === 'string') s.backupStart = m.backup_start;
  if (typeof m.backup_end === 'string') s.backupEnd = m.backup_end;
  return s;
}

/** Linux errno texts as Go prints them, for the raw `Err` numbers of restic before 0.17.1. */
const ERRNO_TEXT: Record<number, string> = {
  1: 'operation not permitted',
  2: 'no such file or directory',
  5: 'input/output error',
  6: 'no such device or address',
  9: 'bad file descriptor',
  12: 'cannot allocate memory',
  13: 'permission denied',
  16: 'device or resource busy',
  20: 'not a directory',
  21: 'is a directory',
  24: 'too many open files',
  36: 'file name too long',
  40: 'too many levels of symbolic links',
  61: 'no data available',
  95: 'operation not supported',
  110: 'connection timed out',
  116: 'stale NFS file handle',
};

/**
 * Returns the text of restic's `error` value as Go's `err.Error()` would print it, so that
 * every restic version yields the same message: `{"Op":"open","Path":"/x","Err":13}` and
 * `{"message":"open /x: permission denied"}` both give `open /x: permission denied`.
 * An empty Go struct (`{}`) carries no text; it gives `unknown error`.
 */
export function formatResticError(e: ResticErrorValue | undefined): string {
  if (typeof e === 'string') return e;
  if (e === null || e === undefined || typeof e !== 'object') return 'unknown error';
  const o = e as Record<string, unknown>;
  if (typeof o.message === 'string') return o.message;
  if (typeof o.Op === 'string' || typeof o.Path === 'string') {
    const err = o.Err;
    let text: string;
    if (typeof err === 'number') text = ERRNO_TEXT[err] ?? `errno ${err}`;
    else if (err && typeof err === 'object' && Object.keys(err).length > 0) text = JSON.stringify(err);
    else text = 'unknown error';
    const op = typeof o.Op === 'string' ? o.Op : '';
    const path = typeof o.Path === 'string' ? o.Path : '';
    return `${op}${op && path ? ' ' : ''}${path}: ${text}`;
  }
  const keys = Object.keys(o);
  return keys.length === 0 ? 'unknown error' : JSON.stringify(o);
}

/** Converts an `error` message to a {@link BackupItemError}. */
export function toBackupItemError(m: Partial<ResticErrorMessage>): BackupItemError {
  const item = typeof m.item === 'string' ? m.item : '';
  let message = formatResticError(m.error);
  // restic 0.18+ prefixes the message with the item (`/abs/x: open x: permission denied`);
  // without it the message reads the same in every version.
  if (item !== '' && message.startsWith(`${item}: `)) message = message.slice(item.length + 2);
  return { item, during: typeof m.during === 'string' ? m.during : '', message };
}
