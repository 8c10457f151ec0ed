/**
 * Parses a duration written `500ms`, `10s`, `2m`, `1h`, `7d`, or combined (`1h30m`), into milliseconds.
 * A bare number is taken as seconds.
 * @example parseDuration('1m30s') // 90000
 */
export function parseDuration(text: string): number {
  const s = text.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Math.round(Number(s) * 1000);
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/gy;
  const unit: Record<string, number> = {
    ms: 1,
    s: 1000,
    m: 60_000,
    h: 3_600_000,
    d: 86_400_000,
    w: 604_800_000,
  };
  let total = 0;
  let matched = 0;
  for (let m = re.exec(s); m !== null; m = re.exec(s)) {
    total += Number(m[1]) * (unit[m[2] as string] ?? 0);
    matched = re.lastIndex;
  }
  if (s.length === 0 || matched !== s.length) {
    throw new RangeError(`invalid duration "${text}" (write it like 500ms, 10s, 2m, 1h, 7d)`);
  }
  return Math.round(total);
}

/** The longest wait a Node.js timer can take, ms (2^31 - 1, about 24.8 days); longer ones fire at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Returns why `ms` cannot be a timeout or wait (it is past {@link MAX_TIMER_MS}), or undefined.
 * @example timerDurationProblem(parseDuration('4w')) // 'is longer than 24d20h, the longest wait that can be timed'
 */
export function timerDurationProblem(ms: number): string | undefined {
  if (ms <= MAX_TIMER_MS) return undefined;
  return `is longer than ${formatDuration(MAX_TIMER_MS)}, the longest wait that can be timed (2^31-1 ms)`;
}

/** Formats milliseconds for people: `850ms`, `12.3s`, `4m05s`, `3h12m`, `2d4h`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return '-';
  const neg = ms < 0 ? '-' : '';
  const a = Math.abs(ms);
  if (a < 1000) return `${neg}${Math.round(a)}ms`;
  if (a < 60_000) return `${neg}${(a / 1000).toFixed(1)}s`;
  const s = Math.floor(a / 1000);
  if (s < 3600) return `${neg}${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  if (s < 86_400)
    return `${neg}${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${neg}${Math.floor(s / 86_400)}d${Math.floor((s % 86_400) / 3600)}h`;
}

/**
 * Milliseconds as seconds rounded to the millisecond, for metric values: a duration
 * measured with performance.now() is not printed with float noise (`0.7842993099999999`).
 * @example msToSeconds(784.29930999) // 0.784
 */
export function msToSeconds(ms: number): number {
  return Math.round(ms) / 1000;
}
