/**
 * Runs `restic check` and counts the errors it finds: restic before 0.18 prints text only
 * (errors on stderr, then `Fatal: repository contains errors`); 0.18+ prints a JSON summary
 * with `num_errors` when given `--json`.
 */
import type { ResticCommandOptions } from './backup.js';
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
  let errorCount = 0;
  let jsonErrors: number | undefined;
  const add = (m: string): void => {
    errorCount++;
    if (messages.length < max) messages.push(m);
  };
  // 0.18+: JSON lines (summary on stdout, errors as {"message_type":"error",...})
  for (const l of [...run.stdout, ...run.stderr]) {
    if (!l.startsWith('{')) continue;
    try {
      const m = JSON.parse(l) as { message_type?: string; num_errors?: number; message?: string };
      if (m.message_type === 'summary' && typeof m.num_errors === 'number') jsonErrors = m.num_errors;
      else if (m.message_type === 'error' && typeof m.message === 'string') add(m.message);
    } catch {
      // text
    }
  }
  const stderrText = run.stderr.join('\n');
  const hasRepoErrorsText = /repository contains errors/.test(stderrText);
  if (jsonErrors === undefined && hasRepoErrorsText) {
    // restic before 0.18: every remaining stderr line is one error
    for (const raw of run.stderr) {
      const l = raw.trimEnd();
      if (l.trim() === '' || l.startsWith('{') || NOT_AN_ERROR.some((re) => re.test(l.trim()))) continue;
      add(l.trim());
    }
    // restic said there are errors: never report 0
    if (errorCount === 0) add('repository contains errors');
  }
  if (jsonErrors !== undefined) errorCount = Math.max(errorCount, jsonErrors);
  const hasRepositoryErrors = hasRepoErrorsText || (jsonErrors ?? 0) > 0;

  const cls = run.classification;
  let outcome = cls.outcome;
  let reason = cls.reason;
  let message = cls.message;
  if (hasRepositoryErrors) {
    outcome = 'failed';
    reason = 'other';
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
  if (reason !== undefined) result.reason = reason;
  if (run.proc.signal !== null) result.signal = run.proc.signal;
  return result;
}
