/**
 * Prometheus duration strings for generated rules.
 */

/**
 * Formats whole seconds as a Prometheus duration using days, hours, minutes and seconds,
 * e.g. `6h`, `1d2h`, `8d`, `90s` → `1m30s`.
 * @example formatPromDuration(93600) // '1d2h'
 */
export function formatPromDuration(seconds: number): string {
  let s = Math.max(0, Math.round(seconds));
  if (s === 0) return '0s';
  let out = '';
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3600],
    ['m', 60],
    ['s', 1],
  ] as const) {
    const n = Math.floor(s / size);
    if (n > 0) out += `${n}${unit}`;
    s -= n * size;
  }
  return out;
}
