/**
 * Rate-limited warnings: a warning that repeats (one per bad request, one per
 * scrape) is passed on at most once per interval per kind; the next one passed on
 * says how many were held back meanwhile, so nothing is hidden without a count.
 */

/** Options of {@link rateLimitWarnings}. */
export interface RateLimitOptions {
  /** Shortest time between two warnings of one kind, ms. @default 60000 */
  intervalMs?: number;
  /** Clock, Unix ms. @default Date.now */
  now?: () => number;
}

/**
 * Wraps `warn` so that warnings of one `kind` reach it at most once per interval.
 * @example
 * const warn = rateLimitWarnings((m) => log.warn(m));
 * warn('bad-request', 'HTTP GET "//[": invalid URL'); // passed on
 * warn('bad-request', 'HTTP GET "//]": invalid URL'); // held back (counted)
 */
export function rateLimitWarnings(
  warn: (message: string) => void,
  opts: RateLimitOptions = {},
): (kind: string, message: string) => void {
  const interval = opts.intervalMs ?? 60_000;
  const now = opts.now ?? Date.now;
  const state = new Map<string, { lastAt: number; held: number }>();
  return (kind, message) => {
    const t = now();
    const s = state.get(kind);
    if (s && t - s.lastAt < interval) {
      s.held++;
      return;
    }
    const held = s?.held ?? 0;
    state.set(kind, { lastAt: t, held: 0 });
    warn(held > 0 ? `${message} (${held} more like it since the last one)` : message);
  };
}
