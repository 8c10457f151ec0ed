/**
 * Shows restic's progress: a live bar on a terminal, at most one line a minute
 * otherwise (cron, systemd), nothing with --quiet.
 */
import type { BackupProgress } from '../restic/types.js';
import { formatBytes } from '../util/bytes.js';
import { formatDuration } from '../util/duration.js';
import { hasColor } from './output.js';

export interface ProgressDisplay {
  update(p: BackupProgress): void;
  /** Clears the live line (before printing anything else). */
  clear(): void;
  done(): void;
}

export interface ProgressOptions {
  stream?: NodeJS.WritableStream;
  env?: NodeJS.ProcessEnv;
  isQuiet?: boolean;
  /** Minimum time between lines when not on a terminal. @default 60000 */
  plainIntervalMs?: number;
  now?: () => number;
}

/** One line describing progress, without the bar. */
export function describeProgress(p: BackupProgress): string {
  const pct = `${(p.percentDone * 100).toFixed(1)}%`;
  const files = p.totalFiles ? `${p.filesDone}/${p.totalFiles} files` : `${p.filesDone} files`;
  const bytes = p.totalBytes
    ? `${formatBytes(p.bytesDone)}/${formatBytes(p.totalBytes)}`
    : formatBytes(p.bytesDone);
  const rate = p.secondsElapsed > 0 ? `${formatBytes(p.bytesDone / p.secondsElapsed)}/s` : '';
  const eta = p.secondsRemaining !== undefined ? `ETA ${formatDuration(p.secondsRemaining * 1000)}` : '';
  const errs = p.errorCount ? `${p.errorCount} error${p.errorCount === 1 ? '' : 's'}` : '';
  return [pct, files, bytes, rate, eta, errs].filter(Boolean).join('  ');
}

/** Creates the display suited to the stream: a bar on a TTY, sparse lines elsewhere. */
export function createProgressDisplay(opts: ProgressOptions = {}): ProgressDisplay {
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
  const color = hasColor(stream, opts.env ?? process.env);
  let shown = false;
  let lastDraw = 0;
  const columns = () => (stream as { columns?: number }).columns ?? 100;
  return {
    update(p) {
      const t = now();
      if (t - lastDraw < 100) return; // restic reports up to 60 times a second; 10 redraws are plenty
      lastDraw = t;
      const width = 20;
      const filled = Math.max(0, Math.min(width, Math.round(p.percentDone * width)));
      const bar = `[${'='.repeat(filled)}${filled < width ? '>' : ''}${' '.repeat(Math.max(0, width - filled - 1))}]`;
      const current = p.currentFiles[0] ?? '';
      let line = `${color ? `\x1b[36m${bar}\x1b[0m` : bar} ${describeProgress(p)}`;
      const room = columns() - (line.length - (color ? 9 : 0)) - 3;
      if (current && room > 10)
        line += `  ${current.length > room ? `…${current.slice(-room + 1)}` : current}`;
      stream.write(`\r\x1b[2K${line}`);
      shown = true;
    },
    clear() {
      if (shown) stream.write('\r\x1b[2K');
      shown = false;
    },
    done() {
      this.clear();
    },
  };
}
