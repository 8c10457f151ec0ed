/**
 * Plain-text tables and clock times for people (`status`, `schedule list`).
 */

/** A table cell: its text, and optionally how to paint it (applied after padding, so columns stay aligned). */
export type Cell = string | { text: string; paint?: (s: string) => string };

/**
 * Renders rows under a header, columns separated by two spaces, each line ending in `\n`.
 * The last column is not padded.
 */
export function formatTable(header: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const text = (c: Cell | undefined) => (c === undefined ? '' : typeof c === 'string' ? c : c.text);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => text(r[i]).length)));
  const line = (cells: readonly Cell[]) =>
    cells
      .map((c, i) => {
        const t = text(c);
        const padded = i === cells.length - 1 ? t : t.padEnd(widths[i] ?? 0);
        return typeof c === 'object' && c.paint ? c.paint(padded) : padded;
      })
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].map((l) => `${l}\n`).join('');
}

/**
 * Formats Unix ms as `YYYY-MM-DD HH:MM` (with `isSeconds`, `YYYY-MM-DD HH:MM:SS`) in a
 * time zone: the one time format resticprom shows people.
 * @example formatClockTime(Date.UTC(2024, 4, 1, 10, 2), 'UTC') // '2024-05-01 10:02'
 */
export function formatClockTime(ms: number, timeZone?: string, isSeconds = false): string {
  const fmt = new Intl.DateTimeFormat('en-CA', {
    ...(timeZone ? { timeZone } : {}),
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    ...(isSeconds ? { second: '2-digit' as const } : {}),
    hourCycle: 'h23',
  });
  const p = Object.fromEntries(fmt.formatToParts(ms).map((x) => [x.type, x.value]));
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}${isSeconds ? `:${p.second}` : ''}`;
}
