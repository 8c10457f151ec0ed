/**
 * Streaming parser of `restic backup --json` output (restic 0.14 to 0.19), one line at a time,
 * with memory bounded whatever restic prints. `status` and `verbose_status` lines, the millions,
 * are recognised by their prefix and not JSON-parsed unless someone listens for them; everything
 * else is parsed. Non-JSON lines are counted and passed on as log text; malformed JSON is counted
 * and reported, never skipped silently.
 */

import { RESTIC_CRASH_LINE, stderrForClassification } from './exit-codes.js';
import {
  type ResticErrorMessage,
  type ResticExitErrorMessage,
  type ResticStatusMessage,
  type ResticSummaryMessage,
  type ResticVerboseStatusMessage,
  toBackupItemError,
  toBackupProgress,
  toBackupSummary,
} from './messages.js';
import { type ResticStream, stripTerminalCodes } from './spawn.js';
import type { BackupItemError, BackupProgress, BackupSummary } from './types.js';

/** Options of {@link createBackupParser}. */
export interface BackupParserOptions {
  /** Called for every `status` message. Leaving it out makes status lines nearly free. */
  onProgress?: (progress: BackupProgress) => void;
  /** Called for every item restic could not read (every one, also past `maxErrors`). */
  onItemError?: (error: BackupItemError) => void;
  /** Called for every line that is not a restic JSON message (restic's plain text). */
  onLog?: (line: string, stream: ResticStream) => void;
  /**
   * How many item errors the result keeps (`errorCount` is always exact).
   * @default 100
   */
  maxErrors?: number;
  /**
   * How many stderr text lines the result keeps, last ones first out.
   * @default 20
   */
  stderrTailLines?: number;
}

/** What the scan phase found (`scan_finished`, with `-vv`). */
export interface ScanTotals {
  totalFiles: number;
  totalBytes: number;
  durationSeconds: number;
}

/** Everything the parser learned from one backup's output. */
export interface BackupParseResult {
  /** The final summary; absent when restic printed none (it failed, or was stopped). */
  summary?: BackupSummary;
  /**
   * Unreadable items, the first `maxErrors`: restic's `error` messages and the source paths it
   * skipped (`during: 'scan'`, message `source path does not exist` or `source path cannot be accessed`).
   */
  errors: BackupItemError[];
  /** Exact number of `error` messages, plus the source paths restic skipped. */
  errorCount: number;
  /** The last `status` message. */
  lastProgress?: BackupProgress;
  /** The `scan_finished` totals (with `-vv`). */
  scanTotals?: ScanTotals;
  /** restic 0.18+'s `exit_error` message. */
  exitError?: { code: number; message: string };
  /** The first `Fatal: ...` text line on stderr (restic before 0.18), without `Fatal: `. */
  fatalMessage?: string;
  /** Counts of each kind of line. */
  statusLines: number;
  verboseLines: number;
  /** stdout lines that are not JSON (log text). */
  nonJsonLines: number;
  /** Lines that look like JSON but do not parse, or JSON with an unknown or no `message_type`. */
  malformedLines: number;
  /** The first few malformed lines (each cut to 200 characters), for the report. */
  malformedSamples: string[];
  /** The last stderr text lines, joined by `\n`. */
  stderrTail: string;
}

/** A streaming parser of `restic backup --json`; see {@link createBackupParser}. */
export interface BackupParser {
  /** Feeds one line (without its line break). Never throws on restic's output. */
  push(line: string, stream?: ResticStream): void;
  /**
   * Feeds one stdout line as bytes (`buf[start..end)`) when that is enough: a `verbose_status`
   * item line, which is only counted, is handled without decoding and true is returned. For
   * every other line it returns false and changes nothing; feed that line to `push` instead.
   * Same result as `push(buf.toString('utf8', start, end))`; pass it as `onStdoutBytes`.
   */
  pushBytes(buf: Uint8Array, start: number, end: number): boolean;
  /** What was learned so far; call after the last line. */
  result(): BackupParseResult;
}

const P_STATUS = '{"message_type":"status",';
const P_SCAN_OLD = '{"message_type":"status","action":"scan_finished"';
const P_VERBOSE = '{"message_type":"verbose_status",';
const P_SCAN_NEW = '{"message_type":"verbose_status","action":"scan_finished"';
const B_VERBOSE = Buffer.from(P_VERBOSE);
// What follows P_VERBOSE in a scan_finished line.
const B_SCAN_REST = Buffer.from(P_SCAN_NEW.slice(P_VERBOSE.length));
const MAX_SAMPLES = 5;
const MAX_TAIL_LINE = 1024;
// A source path restic skipped, printed as plain text on stderr by every version (not a JSON
// error): `<path> does not exist, skipping`, and from 0.19.1 `<path> cannot be accessed, skipping`.
// 0.19 exits 3 for it (a snapshot of the other paths is written); 0.18 and older exit 0.
const SKIPPED_SOURCE = /^(.+) (does not exist|cannot be accessed), skipping$/;

/**
 * Creates a streaming parser for `restic backup --json`. Feed it stdout and stderr lines as
 * they come; read `result()` at the end.
 *
 * @example
 * const parser = createBackupParser({ onProgress: (p) => bar.update(p.percentDone) });
 * for (const line of lines) parser.push(line);
 * const { summary, errorCount } = parser.result();
 */
export function createBackupParser(opts: BackupParserOptions = {}): BackupParser {
  const maxErrors = opts.maxErrors ?? 100;
  const tailMax = opts.stderrTailLines ?? 20;
  const { onProgress, onItemError, onLog } = opts;

  let summary: BackupSummary | undefined;
  const errors: BackupItemError[] = [];
  let errorCount = 0;
  let lastStatusLine: string | undefined;
  let lastProgress: BackupProgress | undefined;
  let scanTotals: ScanTotals | undefined;
  let exitError: { code: number; message: string } | undefined;
  let fatalMessage: string | undefined;
  let crashLine: string | undefined;
  let statusLines = 0;
  let verboseLines = 0;
  let nonJsonLines = 0;
  let malformedLines = 0;
  const malformedSamples: string[] = [];
  const tail: string[] = [];

  const malformed = (line: string): void => {
    malformedLines++;
    if (malformedSamples.length < MAX_SAMPLES) malformedSamples.push(line.slice(0, 200));
  };

  const itemError = (e: BackupItemError): void => {
    errorCount++;
    if (errors.length < maxErrors) errors.push(e);
    onItemError?.(e);
  };

  const scanFinished = (m: Partial<ResticVerboseStatusMessage>): void => {
    scanTotals = {
      totalFiles: typeof m.total_files === 'number' ? m.total_files : 0,
      totalBytes: typeof m.data_size === 'number' ? m.data_size : 0,
      durationSeconds: typeof m.duration === 'number' ? m.duration : 0,
    };
  };

  const handleObject = (m: Record<string, unknown>, line: string): void => {
    switch (m.message_type) {
      case 'status':
        if (m.action === 'scan_finished') scanFinished(m as Partial<ResticVerboseStatusMessage>);
        else {
          statusLines++;
          lastStatusLine = undefined;
          lastProgress = toBackupProgress(m as Partial<ResticStatusMessage>);
          onProgress?.(lastProgress);
        }
        return;
      case 'verbose_status':
        if (m.action === 'scan_finished') scanFinished(m as Partial<ResticVerboseStatusMessage>);
        else verboseLines++;
        return;
      case 'error':
        itemError(toBackupItemError(m as Partial<ResticErrorMessage>));
        return;
      case 'summary':
        summary = toBackupSummary(m as Partial<ResticSummaryMessage>);
        return;
      case 'exit_error': {
        const x = m as Partial<ResticExitErrorMessage>;
        exitError = {
          code: typeof x.code === 'number' ? x.code : -1,
          message: typeof x.message === 'string' ? x.message : '',
        };
        return;
      }
      default:
        malformed(line);
    }
  };

  const text = (line: string, stream: ResticStream): void => {
    if (stream === 'stdout') nonJsonLines++;
    else {
      // The one terminal-control stripping of spawn.ts (CSI sequences, 0.19's carriage returns).
      const clean = stripTerminalCodes(line);
      if (fatalMessage === undefined && clean.startsWith('Fatal: ')) fatalMessage = clean.slice(7);
      if (crashLine === undefined && RESTIC_CRASH_LINE.test(clean.trim())) crashLine = clean.trim();
      const skipped = SKIPPED_SOURCE.exec(clean);
      if (skipped?.[1] !== undefined && skipped[2] !== undefined) {
        itemError({ item: skipped[1], during: 'scan', message: `source path ${skipped[2]}` });
      }
      if (clean.trim() !== '') {
        tail.push(clean.length > MAX_TAIL_LINE ? `${clean.slice(0, MAX_TAIL_LINE)}...` : clean);
        if (tail.length > tailMax) tail.shift();
      }
    }
    onLog?.(line, stream);
  };

  const push = (line: string, stream: ResticStream = 'stdout'): void => {
    if (line.charCodeAt(0) !== 123 /* { */) {
      if (line.length === 0) return;
      // restic 0.19 may print progress text; anything not starting with `{` is log text.
      text(line, stream);
      return;
    }
    // Fast paths: progress lines are classified by their prefix (restic marshals message_type
    // first) and only checked to end with `}`.
    if (line.startsWith(P_STATUS)) {
      if (line.charCodeAt(line.length - 1) !== 125 /* } */) {
        malformed(line);
        return;
      }
      if (onProgress === undefined && !line.startsWith(P_SCAN_OLD)) {
        statusLines++;
        lastStatusLine = line;
        return;
      }
    } else if (line.startsWith(P_VERBOSE) && !line.startsWith(P_SCAN_NEW)) {
      if (line.charCodeAt(line.length - 1) !== 125) malformed(line);
      else verboseLines++;
      return;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      malformed(line);
      return;
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      malformed(line);
      return;
    }
    handleObject(parsed as Record<string, unknown>, line);
  };

  const pushBytes = (buf: Uint8Array, start: number, end: number): boolean => {
    // Byte loops, not Buffer.compare: a native call per line costs more than 40 JIT-ed compares.
    const n = B_VERBOSE.length;
    if (end - start <= n || buf[end - 1] !== 125 /* } */) return false;
    for (let i = 0; i < n; i++) if (buf[start + i] !== B_VERBOSE[i]) return false;
    const at = start + n;
    let isScan = end - at >= B_SCAN_REST.length;
    for (let i = 0; isScan && i < B_SCAN_REST.length; i++) isScan = buf[at + i] === B_SCAN_REST[i];
    if (isScan) return false;
    verboseLines++;
    return true;
  };

  const result = (): BackupParseResult => {
    if (lastStatusLine !== undefined) {
      try {
        lastProgress = toBackupProgress(JSON.parse(lastStatusLine) as Partial<ResticStatusMessage>);
      } catch {
        malformed(lastStatusLine);
      }
      lastStatusLine = undefined;
    }
    const r: BackupParseResult = {
      errors: [...errors],
      errorCount,
      statusLines,
      verboseLines,
      nonJsonLines,
      malformedLines,
      malformedSamples: [...malformedSamples],
      stderrTail: stderrForClassification(tail, crashLine).join('\n'),
    };
    if (summary) r.summary = summary;
    if (lastProgress) r.lastProgress = lastProgress;
    if (scanTotals) r.scanTotals = scanTotals;
    if (exitError) r.exitError = exitError;
    if (fatalMessage !== undefined) r.fatalMessage = fatalMessage;
    return r;
  };

  return { push, pushBytes, result };
}
