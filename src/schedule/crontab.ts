/**
 * crontab: one marked block, `# BEGIN resticprom (managed)` ... `# END resticprom`,
 * with a line per profile and tier (`resticprom backup`), and per profile for its
 * scheduled check and stats (`resticprom check`, `resticprom stats`). Installing replaces the previous block in
 * place (installing twice leaves one block); removing deletes only the block.
 * Every other line of the crontab is kept as it was.
 * The crontab is read and written with `crontab -l` / `crontab -`, or as a file.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { errorText, ResticpromError, StateError, UsageError } from '../errors.js';
import { writeFileAtomic } from '../state/dir.js';
import { parseCron } from './cron.js';
import { entryCommandArgs, entryLabel, type ScheduleEntry } from './plan.js';

/** First line of the managed block. */
export const CRON_BEGIN = '# BEGIN resticprom (managed)';
/** Last line of the managed block. */
export const CRON_END = '# END resticprom';

/** Options of {@link renderCronBlock}. */
export interface RenderCronOptions {
  /** The argv that starts resticprom, absolute paths. */
  command: string[];
  /** Absolute path of the configuration file, passed as `--config`. */
  configFile: string;
}

/**
 * Renders the managed block (ending in a newline). A 6-field schedule is accepted
 * only when its seconds field is `0`: cron runs at whole minutes.
 * @throws UsageError for a schedule with seconds.
 */
export function renderCronBlock(entries: ScheduleEntry[], options: RenderCronOptions): string {
  const lines = [
    CRON_BEGIN,
    '# Written by `resticprom schedule install --cron`; `resticprom schedule remove --cron` deletes this block.',
  ];
  for (const e of entries) {
    const argv = [...options.command, ...entryCommandArgs(e, options.configFile)];
    lines.push(`# ${entryLabel(e)}`, `${cronFields(e.schedule)} ${argv.map(quoteShell).join(' ')}`);
  }
  const flush = [...options.command, 'flush', '--config', options.configFile, '--quiet'];
  lines.push(
    '# deliver the metrics waiting in the outbox',
    `*/15 * * * * ${flush.map(quoteShell).join(' ')}`,
  );
  lines.push(CRON_END);
  return `${lines.join('\n')}\n`;
}

/** The 5 cron fields of a schedule (a seconds field of `0` dropped). */
function cronFields(schedule: string): string {
  const parsed = parseCron(schedule);
  const fields = parsed.expression.split(/\s+/);
  if (!parsed.hasSeconds) return fields.join(' ');
  if (!/^0+$/.test(fields[0] ?? '')) {
    throw new UsageError(
      `schedule "${schedule}" runs at seconds other than 0, which cron cannot do; use the systemd timers (schedule install without --cron)`,
    );
  }
  return fields.slice(1).join(' ');
}

/** Where the managed block is in a crontab, as line indexes (END included); undefined when absent. */
export function findCronBlock(text: string): { begin: number; end: number } | undefined {
  const lines = text.split('\n');
  const begin = lines.indexOf(CRON_BEGIN);
  if (begin < 0) return undefined;
  const end = lines.indexOf(CRON_END, begin + 1);
  if (end < 0) {
    throw new UsageError(
      `the crontab has "${CRON_BEGIN}" on line ${begin + 1} but no "${CRON_END}" after it; fix it by hand (crontab -e)`,
    );
  }
  return { begin, end };
}

/**
 * Returns the crontab with the managed block replaced by `block` (in place, or
 * appended when there was none), or removed when `block` is undefined. Other
 * lines are kept; the result ends with a newline (cron ignores a last line without one).
 */
export function replaceCronBlock(text: string, block: string | undefined): string {
  let lines = text === '' ? [] : text.replace(/\n$/, '').split('\n');
  let at = -1;
  for (let found = findCronBlock(lines.join('\n')); found; found = findCronBlock(lines.join('\n'))) {
    if (at < 0) at = found.begin;
    lines = [...lines.slice(0, found.begin), ...lines.slice(found.end + 1)];
  }
  if (block !== undefined) {
    const blockLines = block.replace(/\n$/, '').split('\n');
    if (at < 0) lines.push(...blockLines);
    else lines.splice(at, 0, ...blockLines);
  }
  return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
}

/** Where the crontab is: a file (tests, /etc/cron.d), or the user's crontab through the `crontab` command. */
export interface CrontabTarget {
  /** Read and write this file instead of running `crontab`. */
  file?: string;
  /** The crontab executable. @default 'crontab' */
  crontab?: string;
}

/** Reads the crontab; an absent one is empty. */
export async function readCrontab(target: CrontabTarget): Promise<string> {
  if (target.file) {
    try {
      return await readFile(target.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
      throw new StateError(`cannot read ${target.file}: ${errorText(err)}`, target.file, { cause: err });
    }
  }
  const bin = target.crontab ?? 'crontab';
  return new Promise((resolve, reject) => {
    execFile(bin, ['-l'], { timeout: 30_000 }, (err, stdout, stderr) => {
      if (!err) resolve(String(stdout));
      else if (/no crontab for/i.test(String(stderr))) resolve('');
      else
        reject(
          new ResticpromError(
            'SCHEDULE_FAILED',
            `${bin} -l failed: ${String(stderr).trim() || err.message}`,
            {
              cause: err,
            },
          ),
        );
    });
  });
}

/** Writes the whole crontab. */
export async function writeCrontab(target: CrontabTarget, text: string): Promise<void> {
  if (target.file) {
    try {
      await writeFileAtomic(target.file, text, { mode: 0o644 });
    } catch (err) {
      throw new StateError(`cannot write ${target.file}: ${errorText(err)}`, target.file, { cause: err });
    }
    return;
  }
  const bin = target.crontab ?? 'crontab';
  await new Promise<void>((resolve, reject) => {
    const child = execFile(bin, ['-'], { timeout: 30_000 }, (err, _stdout, stderr) => {
      if (!err) resolve();
      else
        reject(
          new ResticpromError('SCHEDULE_FAILED', `${bin} - failed: ${String(stderr).trim() || err.message}`, {
            cause: err,
          }),
        );
    });
    child.stdin?.end(text);
  });
}

/** Quotes a word for the shell cron runs it with; `%` is escaped (cron turns it into a newline). */
export function quoteShell(word: string): string {
  const quoted = /^[A-Za-z0-9_@+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
  return quoted.replace(/%/g, '\\%');
}
