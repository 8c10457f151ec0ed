/**
 * How the CLI talks to people and log shippers: one logger with a text or JSON
 * format, `--quiet`, and colours only on a terminal without NO_COLOR.
 */
import { formatClockTime } from '../util/table.js';
export type LogFormat = 'text' | 'json';
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  readonly format: LogFormat;
  readonly isQuiet: boolean;
}

export interface LoggerOptions {
  format?: LogFormat;
  quiet?: boolean;
  verbose?: boolean;
  stream?: NodeJS.WritableStream;
  env?: NodeJS.ProcessEnv;
  /**
   * Start each text line with the time, `YYYY-MM-DD HH:MM:SS` (a long-running process's log
   * read without journald's own stamps: `docker logs`, a file). JSON lines always carry `time`.
   * @default false
   */
  isTimestamped?: boolean;
  /** Time zone of those times. @default the process's */
  timeZone?: string;
  /** The clock, Unix ms. @default Date.now */
  now?: () => number;
}

/**
 * Makes `text` one safe line for a terminal or a log: newlines and carriage returns become
 * `\n` and `\r`, other control characters (ESC, BEL, backspace, C1, DEL) `\xHH`, so a file
 * name or a server's answer can neither forge another log line nor send escape sequences.
 * @example escapeLine('a\nerror: forged\x1b[2J') // 'a\\nerror: forged\\x1b[2J'
 */
export function escapeLine(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => {
    if (c === '\n') return '\\n';
    if (c === '\r') return '\\r';
    if (c === '\t') return '\t';
    return `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
  });
}

/** Writes `text` to `stream` as one escaped line (see {@link escapeLine}). */
export function writeLine(stream: NodeJS.WritableStream, text: string): void {
  stream.write(`${escapeLine(text)}\n`);
}

/** True when colours may be used on `stream`: a TTY, NO_COLOR unset, TERM not dumb. */
export function hasColor(stream: NodeJS.WritableStream = process.stderr, env = process.env): boolean {
  return Boolean((stream as { isTTY?: boolean }).isTTY) && !('NO_COLOR' in env) && env.TERM !== 'dumb';
}

/** Creates a logger writing to stderr (so stdout stays clean for data). */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const format = opts.format ?? 'text';
  const now = opts.now ?? Date.now;
  const stream = opts.stream ?? process.stderr;
  const color = format === 'text' && hasColor(stream, opts.env ?? process.env);
  const paint = (code: string, s: string) => (color ? `\x1b[${code}m${s}\x1b[0m` : s);
  const write = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (opts.quiet && (level === 'info' || level === 'debug')) return;
    if (level === 'debug' && !opts.verbose) return;
    if (format === 'json') {
      stream.write(`${JSON.stringify({ time: new Date(now()).toISOString(), level, msg, ...fields })}\n`);
      return;
    }
    const prefix =
      level === 'error' ? paint('31', 'error: ') : level === 'warn' ? paint('33', 'warning: ') : '';
    const time = opts.isTimestamped ? `${formatClockTime(now(), opts.timeZone, true)} ` : '';
    stream.write(`${time}${prefix}${escapeLine(msg)}\n`);
  };
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
    format,
    isQuiet: Boolean(opts.quiet),
  };
}
