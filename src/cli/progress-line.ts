/**
 * The live progress line on a terminal: fitted to its width (wide characters counted as the
 * terminal counts them), redrawn when it is resized, with the smoothed speed and ETA.
 */
import cliTruncate from 'cli-truncate';
import stringWidth from 'string-width';
import type { BackupProgress } from '../restic/types.js';
import { escapeLine, hasColor } from './output.js';
import { type ProgressDisplay, type ProgressOptions, progressFields } from './progress.js';
import { createProgressEstimator, type ProgressEstimate } from './progress-rate.js';

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
    // A tab would move the cursor to the next tab stop: the width would no longer be known.
    const name = escapeLine(current).replaceAll('\t', '\\t');
    text += `  ${truncateTo(name, room - 2, 'middle')}`;
  }
  return text;
}

/** The live line on the terminal `stream`, as `createProgressDisplay` (./progress.ts) gives it. */
export function createLiveProgress(stream: NodeJS.WritableStream, opts: ProgressOptions): ProgressDisplay {
  const now = opts.now ?? Date.now;
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
