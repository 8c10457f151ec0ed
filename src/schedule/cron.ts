/**
 * Cron expressions: parsing the common forms (lists, ranges, steps, month and
 * weekday names, an optional leading seconds field), converting them to
 * systemd's `OnCalendar=` syntax, and the next run time (croner).
 *
 * Day-of-month and day-of-week follow croner (which the daemon and
 * `schedule list` use): when both fields are restricted (neither is `*` or
 * `?`), a day matches when EITHER matches. One OnCalendar expression can only
 * AND them, so that case becomes two OnCalendar= lines.
 * systemd.time(7): https://www.freedesktop.org/software/systemd/man/latest/systemd.time.html
 */
import { Cron } from 'croner';
import { UsageError } from '../errors.js';

/** One comma-separated item of a cron field. */
type CronItem =
  | { kind: 'all' }
  | { kind: 'step'; step: number } // */s
  | { kind: 'range'; from: number; to: number; step?: number }; // a, a-b, a-b/s

interface FieldSpec {
  name: string;
  min: number;
  max: number;
  names?: readonly string[];
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'] as const;
const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
/** systemd's weekday names, Monday first (its order for ranges). */
const SYSTEMD_DAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'] as const;

const SPECS = {
  second: { name: 'second', min: 0, max: 59 },
  minute: { name: 'minute', min: 0, max: 59 },
  hour: { name: 'hour', min: 0, max: 23 },
  dayOfMonth: { name: 'day of month', min: 1, max: 31 },
  month: { name: 'month', min: 1, max: 12, names: MONTHS },
  dayOfWeek: { name: 'day of week', min: 0, max: 7, names: WEEKDAYS },
} satisfies Record<string, FieldSpec>;

/** A parsed cron expression: each field's items, and whether a seconds field was written. */
export interface ParsedCron {
  /** The expression as written (trimmed). */
  expression: string;
  hasSeconds: boolean;
  second: CronItem[];
  minute: CronItem[];
  hour: CronItem[];
  dayOfMonth: CronItem[];
  month: CronItem[];
  dayOfWeek: CronItem[];
  /** True when the field is something other than `*` or `?` (croner's rule for OR-ing the day fields). */
  isDayOfMonthRestricted: boolean;
  isDayOfWeekRestricted: boolean;
}

/**
 * Parses a cron expression of 5 fields (minute hour day-of-month month day-of-week)
 * or 6 (a leading seconds field).
 * @throws UsageError naming the field, for forms this module does not handle
 * (`L`, `W`, `#`, `5/5`) or values out of range.
 */
export function parseCron(expression: string): ParsedCron {
  const expr = expression.trim();
  const fields = expr.split(/\s+/);
  if (fields.length !== 5 && fields.length !== 6) {
    throw new UsageError(
      `cron expression "${expr}" has ${fields.length} fields; write 5 (minute hour day month weekday) or 6 with a leading seconds field`,
    );
  }
  const hasSeconds = fields.length === 6;
  const [sec, min, hour, dom, mon, dow] = hasSeconds ? fields : ['0', ...fields];
  const parse = (text: string | undefined, spec: FieldSpec) => parseField(expr, text ?? '', spec);
  return {
    expression: expr,
    hasSeconds,
    second: parse(sec, SPECS.second),
    minute: parse(min, SPECS.minute),
    hour: parse(hour, SPECS.hour),
    dayOfMonth: parse(dom, SPECS.dayOfMonth),
    month: parse(mon, SPECS.month),
    dayOfWeek: parse(dow, SPECS.dayOfWeek),
    isDayOfMonthRestricted: dom !== '*' && dom !== '?',
    isDayOfWeekRestricted: dow !== '*' && dow !== '?',
  };
}

function parseField(expr: string, text: string, spec: FieldSpec): CronItem[] {
  const bad = (why: string) => new UsageError(`cron expression "${expr}": ${spec.name} "${text}": ${why}`);
  const value = (s: string): number => {
    const lower = s.toLowerCase();
    const named = spec.names?.indexOf(lower) ?? -1;
    if (named >= 0) return named + (spec.names === MONTHS ? 1 : 0);
    if (!/^\d+$/.test(s)) {
      if (/[LW#]/i.test(s)) throw bad('L, W and # cannot be converted; write the days out');
      throw bad(`"${s}" is not a number${spec.names ? ' or a name' : ''}`);
    }
    const n = Number(s);
    if (n < spec.min || n > spec.max) throw bad(`${n} is outside ${spec.min}-${spec.max}`);
    return n;
  };
  const items: CronItem[] = [];
  for (const part of text.split(',')) {
    const m = /^([^/]+)(?:\/(\d+))?$/.exec(part);
    if (!m) throw bad(`cannot read "${part}"`);
    const base = m[1] as string;
    const step = m[2] === undefined ? undefined : Number(m[2]);
    if (step !== undefined && step < 1) throw bad('a step must be at least 1');
    if (base === '*' || base === '?') {
      items.push(step === undefined || step === 1 ? { kind: 'all' } : { kind: 'step', step });
      continue;
    }
    const range = base.split('-');
    if (range.length === 1) {
      if (step !== undefined) throw bad(`"${part}": write a step on a range or *, like */${step}`);
      const v = value(base);
      items.push({ kind: 'range', from: v, to: v });
    } else if (range.length === 2) {
      const from = value(range[0] as string);
      const to = value(range[1] as string);
      if (from > to) throw bad(`range ${range[0]}-${range[1]} runs backwards`);
      items.push(step === undefined ? { kind: 'range', from, to } : { kind: 'range', from, to, step });
    } else throw bad(`cannot read "${part}"`);
  }
  return items;
}

/** Options of {@link cronToOnCalendar}. */
export interface OnCalendarOptions {
  /** IANA time zone appended to each expression (systemd 235+), e.g. `Europe/Berlin`. @default none (the system's) */
  timeZone?: string;
}

/**
 * Converts a cron expression to systemd OnCalendar expressions: one, or two when
 * both day-of-month and day-of-week are restricted (cron ORs them).
 * @example cronToOnCalendar('0 *\/4 * * *') // ['*-*-* 00/4:00:00']
 * @example cronToOnCalendar('0 3 * * 0') // ['Sun *-*-* 03:00:00']
 * @throws UsageError for expressions {@link parseCron} rejects.
 */
export function cronToOnCalendar(expression: string, options: OnCalendarOptions = {}): string[] {
  const c = parseCron(expression);
  const time = `${numeric(c.hour, SPECS.hour)}:${numeric(c.minute, SPECS.minute)}:${numeric(c.second, SPECS.second)}`;
  const month = numeric(c.month, SPECS.month);
  const tz = options.timeZone ? ` ${options.timeZone}` : '';
  const withDays = (dow: string | undefined, dom: string) =>
    `${dow ? `${dow} ` : ''}*-${month}-${dom} ${time}${tz}`;
  const days = weekdays(c.dayOfWeek);
  const dom = numeric(c.dayOfMonth, SPECS.dayOfMonth);
  const isEveryWeekday = days === undefined;
  if (c.isDayOfMonthRestricted && c.isDayOfWeekRestricted) {
    // Either field matching is enough; a field that covers every day makes the OR always true.
    if (isEveryWeekday || dom === '*') return [withDays(undefined, '*')];
    return [withDays(days, '*'), withDays(undefined, dom)];
  }
  if (c.isDayOfWeekRestricted) return [withDays(days, '*')];
  return [withDays(undefined, dom)];
}

/** A numeric field in systemd syntax: `*`, `05`, `01..05`, `00/4`, `09..17/2`, lists with `,`. */
function numeric(items: CronItem[], spec: FieldSpec): string {
  if (items.some((i) => i.kind === 'all')) return '*';
  const pad = (n: number) => String(n).padStart(2, '0');
  return items
    .map((i) => {
      if (i.kind === 'step') return `${pad(spec.min)}/${i.step}`;
      if (i.kind !== 'range') return '*';
      const r = i.from === i.to ? pad(i.from) : `${pad(i.from)}..${pad(i.to)}`;
      if (i.step === undefined) return r;
      return i.from === i.to ? r : `${r}/${i.step}`;
    })
    .join(',');
}

/** The weekdays of a day-of-week field in systemd syntax (`Mon..Fri`, `Sun`), undefined when every day. */
function weekdays(items: CronItem[]): string | undefined {
  const set = new Set<number>();
  for (const i of items) {
    const [from, to, step] =
      i.kind === 'all' ? [0, 6, 1] : i.kind === 'step' ? [0, 7, i.step] : [i.from, i.to, i.step ?? 1];
    for (let d = from; d <= to; d += step) set.add(d % 7);
  }
  if (set.size === 7) return undefined;
  // Monday-first indexes, then runs of 3+ consecutive days as ranges.
  const idx = [...set].map((d) => (d + 6) % 7).sort((a, b) => a - b);
  const parts: string[] = [];
  for (let k = 0; k < idx.length; ) {
    let end = k;
    while (end + 1 < idx.length && (idx[end + 1] as number) === (idx[end] as number) + 1) end++;
    const a = SYSTEMD_DAYS[idx[k] as number];
    const b = SYSTEMD_DAYS[idx[end] as number];
    if (end - k >= 2) parts.push(`${a}..${b}`);
    else for (let j = k; j <= end; j++) parts.push(SYSTEMD_DAYS[idx[j] as number] as string);
    k = end + 1;
  }
  return parts.join(',');
}

/** Options of {@link nextRun}. */
export interface NextRunOptions {
  /** IANA time zone the expression is read in. @default the process's */
  timeZone?: string;
  /** Find the first run strictly after this instant. @default now */
  after?: Date;
}

/**
 * Returns the next time a cron expression fires (croner), or undefined when it never does.
 * @throws UsageError when croner cannot read the expression.
 */
export function nextRun(expression: string, options: NextRunOptions = {}): Date | undefined {
  try {
    const cron = new Cron(expression.trim(), {
      paused: true,
      mode: '5-or-6-parts',
      ...(options.timeZone ? { timezone: options.timeZone } : {}),
    });
    return cron.nextRun(options.after ?? new Date()) ?? undefined;
  } catch (err) {
    const msg = err instanceof Error ? err.message.replace(/^CronPattern: /, '') : String(err);
    throw new UsageError(`invalid cron expression "${expression}": ${msg}`, { cause: err });
  }
}
