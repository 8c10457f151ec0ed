/**
 * Shows restic's progress: a live line on a terminal, fitted to its width and redrawn when
 * it is resized; at most one line a minute otherwise (cron, systemd); nothing with --quiet.
 */
import cliTruncate from 'cli-truncate';
import stringWidth from 'string-width';
import type { BackupProgress } from '../restic/types.js';
import { formatBytes } from '../util/bytes.js';
import { formatDuration } from '../util/duration.js';
import { escapeLine, hasColor } from './output.js';
import { createProgressEstimator, type ProgressEstimate } from './progress-rate.js';

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
 * The figures of a report, in the order shown, each with when it goes if the line is too
 * long (lowest first; the percentage never).
 */
function progressFields(
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

const BAR_INNER = 20;
/** The narrowest bar worth drawing (`[===>    ]`), and the fewest columns a file name gets. */
const MIN_BAR = 10;
const MIN_NAME = 12;

/**
 * `text` cut to at most `width` columns with an ellipsis. cli-truncate can come out one
 * column wider when a wide character straddles the cut, so the cut is retried narrower.
 */
function truncateTo(text: string, width: number, position: 'middle' | 'end'): string {
  let cut = cliTruncate(text, width, { position });
  for (let n = width - 1; n > 0 && stringWidth(cut) > width; n--) cut = cliTruncate(text, n, { position });
  return cut;
}

/**
 * The live line for a terminal `columns` wide: never more than `columns - 1` columns (the
 * last one would make some terminals wrap), counted as the terminal does (CJK and emoji take
 * two). The figures come first: when they do not all fit, the file count goes, then the
 * speed, the ETA, the bytes and the error count (the percentage stays). A bar (10 to 20
 * wide) and the current file (escaped, shortened in the middle) are added when room is left.
 */
export function formatProgressLine(
  p: BackupProgress,
  estimate: ProgressEstimate,
  columns: number,
  isColor = false,
): string {
  const max = Math.max(1, columns - 1);
  const fields = progressFields(p, estimate);
  const join = () => fields.map((f) => f.text).join('  ');
  for (let order = 0; stringWidth(join()) > max && order < 9; order++) {
    const i = fields.findIndex((f) => f.dropOrder === order);
    if (i >= 0) fields.splice(i, 1);
  }
  let text = join();
  if (stringWidth(text) > max) return truncateTo(text, max, 'end');
  let room = max - stringWidth(text);
  if (room >= MIN_BAR + 3) {
    const inner = Math.min(BAR_INNER, room - 3);
    const filled = Math.max(0, Math.min(inner, Math.round(p.percentDone * inner)));
    const bar = `[${'='.repeat(filled)}${filled < inner ? '>' : ''}${' '.repeat(Math.max(0, inner - filled - 1))}]`;
    text = `${isColor ? `\x1b[36m${bar}\x1b[0m` : bar} ${text}`;
    room -= inner + 3;
  }
  const current = p.currentFiles[0];
  if (current && room >= MIN_NAME + 2) {
    text += `  ${truncateTo(escapeLine(current), room - 2, 'middle')}`;
  }
  return text;
}

/** Creates the display suited to the stream: a live line on a TTY, sparse lines elsewhere. */
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
  const estimator = createProgressEstimator({
    now,
    ...(opts.speedWindowMs !== undefined ? { windowMs: opts.speedWindowMs } : {}),
  });
  const columns = () => (stream as { columns?: number }).columns || 80;
  /** Columns the line on screen takes (0: none shown). */
  let shownWidth = 0;
  let lastDraw = Number.NEGATIVE_INFINITY;
  let latest: { p: BackupProgress; estimate: ProgressEstimate } | undefined;
  const draw = (prefix: string) => {
    if (!latest) return;
    const line = formatProgressLine(latest.p, latest.estimate, columns(), color);
    stream.write(`${prefix}${line}`);
    shownWidth = stringWidth(line);
  };
  const onResize = () => {
    if (shownWidth === 0) return;
    // A narrower terminal rewraps the old line over several rows (tmux, VTE, kitty, Windows
    // Terminal reflow): go up to its first row and clear from there to the end of the screen.
    const rows = Math.ceil(shownWidth / Math.max(1, columns()));
    draw(`\r${rows > 1 ? `\x1b[${rows - 1}A` : ''}\x1b[J`);
  };
  const events = stream as Partial<Pick<NodeJS.EventEmitter, 'on' | 'off'>>;
  events.on?.('resize', onResize);
  return {
    update(p) {
      latest = { p, estimate: estimator.observe(p) };
      const t = now();
      if (t - lastDraw < 100) return; // restic reports up to 60 times a second; 10 redraws are plenty
      lastDraw = t;
      draw('\r\x1b[2K');
    },
    clear() {
      if (shownWidth > 0) stream.write('\r\x1b[2K');
      shownWidth = 0;
    },
    done() {
      this.clear();
      latest = undefined;
      events.off?.('resize', onResize);
    },
  };
}
