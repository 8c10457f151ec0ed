/**
 * Runs `restic check` and counts the errors it finds: restic before 0.18 prints text only
 * (errors on stderr, then `Fatal: repository contains errors`); 0.18+ prints a JSON summary
 * with `num_errors` when given `--json`.
 */
import type { ResticCommandOptions } from './backup.js';
import { ResticExitCode } from './exit-codes.js';
import { runResticCommand } from './run.js';
import type { FailureReason, RunOutcome } from './types.js';

/** Options of {@link runCheck}. */
export interface RunCheckOptions extends ResticCommandOptions {
  /** Also read this part of the pack files: `1/5`, `10%` or `500M` (`--read-data-subset`). */
  readDataSubset?: string;
  /** Read all pack files (`--read-data`); slow. @default false */
  readData?: boolean;
  /**
   * How many error messages the result keeps (`errorCount` is exact).
   * @default 100
   */
  maxMessages?: number;
}

/** What `restic check` found. */
export interface CheckResult {
  /** `success` when no error was found; `failed` otherwise (also for repository errors). */
  outcome: RunOutcome;
  reason?: FailureReason;
  /** One line for people. */
  message: string;
  /** Errors found in the repository (0 when restic failed before checking). */
  errorCount: number;
  /** The error lines (first `maxMessages`). */
  messages: string[];
  /** True when restic reported the repository has errors. */
  hasRepositoryErrors: boolean;
  exitCode: number | null;
  signal?: string;
  durationMs: number;
  startedAt: number;
  endedAt: number;
  stderrTail: string;
}

/** Builds the argv of `restic check`. */
export function buildCheckArgs(opts: RunCheckOptions): string[] {
  const args = ['check', '--json'];
  if (opts.readData) args.push('--read-data');
  if (opts.readDataSubset !== undefined) args.push(`--read-data-subset=${opts.readDataSubset}`);
  return args;
}

const NOT_AN_ERROR = [
  /^Fatal: /,
  /^\[\d+:\d+\]/, // progress
  /^error for tree [0-9a-f]+:$/, // header; the indented lines below it are the errors
  /^using temporary cache/,
  /^signal .* received/,
  /^(create exclusive lock|load indexes|check all packs|check snapshots|read all data|read group)/,
  /^(no errors were found|Warning: )/,
  // a backend retry notice (restic 0.14 retries a missing pack for minutes); the error it
  // leads to is reported on its own line
  / returned error, retrying after /,
];

/**
 * Runs `restic check [--read-data-subset=S]` and returns the number of errors. Never throws for
 * restic's failures; throws `ResticError` only when restic cannot be started.
 *
 * @example
 * const r = await runCheck({ repository, password, readDataSubset: '5%' });
 * if (r.errorCount > 0) alert(r.messages[0]);
 */
export async function runCheck(opts: RunCheckOptions): Promise<CheckResult> {
  const max = opts.maxMessages ?? 100;
  const run = await runResticCommand('check', buildCheckArgs(opts), opts);
  const messages: string[] = [];
  let linesCounted = 0;
  let numErrors: number | undefined;
  const add = (m: string): void => {
    linesCounted++;
    if (messages.length < max) messages.push(m);
  };
  // 0.18+: JSON lines (summary on stdout, errors as {"message_type":"error",...}); 0.18 also
  // prints some errors as plain text, which are kept as messages below.
  for (const l of [...run.stdout, ...run.stderr]) {
    if (!l.startsWith('{')) continue;
    try {
      const m = JSON.parse(l) as { message_type?: string; num_errors?: number; message?: string };
      if (m.message_type === 'summary' && typeof m.num_errors === 'number') numErrors = m.num_errors;
      else if (m.message_type === 'error' && typeof m.message === 'string') {
        // one line per message: restic 0.18+ wraps some in newlines ("\nThe repository is damaged...\n\n")
        const text = m.message.trim().replace(/\s*\n\s*/g, ' ');
        if (text !== '') add(text);
      }
    } catch {
      // text
    }
  }
  const stderrText = run.stderr.join('\n');
  const cls = run.classification;
  // The exit code decides first: only a check that ran to its end and failed with restic's own
  // verdict found errors in the repository. One that could not open the repository (10, 11, 12,
  // an HTTP 401, ...) found nothing, although 0.18+ still prints `num_errors: 1` for it.
  const hasRepositoryErrors =
    run.proc.exitCode === ResticExitCode.FATAL &&
    cls.reason === 'other' &&
    /repository contains errors/.test(`${run.exitError?.message ?? ''}\n${stderrText}`);
  if (hasRepositoryErrors) {
    for (const raw of run.stderr) {
      const l = raw.trim();
      if (l === '' || l.startsWith('{') || NOT_AN_ERROR.some((re) => re.test(l))) continue;
      // restic before 0.18: every remaining stderr line is one error; 0.18: text beside the JSON
      add(l);
    }
  }
  // restic's own count where it gives one (0.18+): it counts an error once, however many lines
  // (a header, the items, a closing "The repository is damaged") it prints for it.
  let errorCount = numErrors ?? linesCounted;
  // restic said there are errors: never report 0
  if (hasRepositoryErrors && errorCount === 0) errorCount = 1;
  if (hasRepositoryErrors && messages.length === 0) messages.push('repository contains errors');

  let outcome = cls.outcome;
  let message = cls.message;
  if (hasRepositoryErrors) {
    outcome = 'failed';
    message = `restic check found ${errorCount} error(s) in the repository${messages[0] ? `: ${messages[0]}` : ''}`;
  } else if (outcome === 'success') {
    message = 'restic check found no errors';
  }
  const result: CheckResult = {
    outcome,
    message,
    errorCount: hasRepositoryErrors ? errorCount : 0,
    messages: hasRepositoryErrors ? messages : [],
    hasRepositoryErrors,
    exitCode: run.proc.exitCode,
    durationMs: run.durationMs,
    startedAt: run.startedAt,
    endedAt: run.endedAt,
    stderrTail: run.stderr.slice(-20).join('\n'),
  };
  if (cls.reason !== undefined) result.reason = cls.reason;
  if (run.proc.signal !== null) result.signal = run.proc.signal;
  return result;
}
