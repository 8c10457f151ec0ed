/**
 * Shows restic's progress: a live line on a terminal (./progress-line.ts); at most one line a
 * minute otherwise (cron, systemd); nothing with --quiet.
 */
import type { BackupProgress } from '../restic/types.js';
import { formatBytes } from '../util/bytes.js';
import { formatDuration } from '../util/duration.js';
import type { ProgressEstimate } from './progress-rate.js';

/** Where restic's progress goes while a backup runs. */
export interface ProgressDisplay {
  /** Takes one report from restic (up to 60 a second); draws at most 10 a second. */
  update(p: BackupProgress): void;
  /** Clears the live line (before printing anything else). */
  clear(): void;
  /** Clears the live line and stops following the terminal's size. */
  done(): void;
}

/** Options of {@link createProgressDisplay}. */
export interface ProgressOptions {
  /** Where the progress is written. @default process.stderr */
  stream?: NodeJS.WritableStream;
  /** Read for NO_COLOR and TERM. @default process.env */
  env?: NodeJS.ProcessEnv;
  /** Show nothing (`--quiet`, JSON logs). @default false */
  isQuiet?: boolean;
  /** Minimum time between lines when not on a terminal. @default 60000 */
  plainIntervalMs?: number;
  /** How far back the live line's speed looks, ms. @default 10000 */
  speedWindowMs?: number;
  /** The clock, ms. @default Date.now */
  now?: () => number;
}

/**
 * The figures of a report (internal: shared with ./progress-line.ts), in the order shown, each with when it goes if the line is too
 * long (lowest first; the percentage never).
 */
export function progressFields(
  p: BackupProgress,
  estimate: ProgressEstimate,
): { text: string; dropOrder: number }[] {
  const speed = estimate.bytesPerSecond;
  const eta = estimate.secondsRemaining;
  return [
    { text: `${(p.percentDone * 100).toFixed(1)}%`, dropOrder: 9 },
    { text: p.totalFiles ? `${p.filesDone}/${p.totalFiles} files` : `${p.filesDone} files`, dropOrder: 0 },
    {
      text: p.totalBytes
        ? `${formatBytes(p.bytesDone)}/${formatBytes(p.totalBytes)}`
        : formatBytes(p.bytesDone),
      dropOrder: 3,
    },
    { text: speed !== undefined ? `${formatBytes(speed)}/s` : '', dropOrder: 1 },
    { text: eta !== undefined ? `ETA ${formatDuration(Math.round(eta) * 1000)}` : '', dropOrder: 2 },
    { text: p.errorCount ? `${p.errorCount} error${p.errorCount === 1 ? '' : 's'}` : '', dropOrder: 4 },
  ].filter((f) => f.text !== '');
}

/** One line describing progress, without the bar, with restic's own speed and ETA (the plain lines). */
export function describeProgress(p: BackupProgress): string {
  const estimate: ProgressEstimate = {
    ...(p.secondsElapsed > 0 ? { bytesPerSecond: p.bytesDone / p.secondsElapsed } : {}),
    ...(p.secondsRemaining !== undefined ? { secondsRemaining: p.secondsRemaining } : {}),
  };
  return progressFields(p, estimate)
    .map((f) => f.text)
    .join('  ');
}

/**
 * Creates the display suited to the stream: a live line on a TTY, sparse lines elsewhere.
 * The live line's code (and its terminal-width libraries) loads only on a terminal, so a run
 * from cron or systemd does not load it.
 */
export async function createProgressDisplay(opts: ProgressOptions = {}): Promise<ProgressDisplay> {
  const stream = opts.stream ?? process.stderr;
  const now = opts.now ?? Date.now;
  const isTty = Boolean((stream as { isTTY?: boolean }).isTTY);
  if (opts.isQuiet) return { update() {}, clear() {}, done() {} };
  if (!isTty) {
    const interval = opts.plainIntervalMs ?? 60_000;
    let last = now();
    return {
      update(p) {
        if (now() - last < interval) return;
        last = now();
        stream.write(`progress: ${describeProgress(p)}\n`);
      },
      clear() {},
      done() {},
    };
  }
  const { createLiveProgress } = await import('./progress-line.js');
  return createLiveProgress(stream, opts);
}
