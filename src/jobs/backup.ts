/**
 * The backup job: the seed's cron script done right. Runs `restic backup` for a
 * profile and tier, measures it, turns the result into metrics and delivers them.
 */
import { type ProfileDestinations, profileDestinations, resolveProfile } from '../config/destinations.js';
import { StateError } from '../errors.js';
import type { HookResult } from '../hooks/run.js';
import { runBackup } from '../restic/backup.js';
import type { BackupItemError, BackupProgress, BackupResult } from '../restic/types.js';
import type { SendOptions } from '../sinks/target.js';
import { getVersion } from '../version.js';
import { backupSamples, backupStatus } from './backup-metrics.js';
import { type FinishRunResult, finishRun, type HistoryOutcome } from './finish-run.js';
import { hookedHistory, hookedWarnings, outputTail, resultError } from './hooked-report.js';
import { type HookedRunOptions, type HookedRunReport, startHookedRun } from './hooked-run.js';
import { type ForgetJobResult, runForgetJob } from './maintenance.js';
import { finishRunFields, type RepositoryRunOptions, withRepository } from './repository-run.js';
import type { RunFacts } from './run-facts.js';

export interface BackupJobOptions extends RepositoryRunOptions {
  tier: string;
  /** Each line a hook prints (escape it before printing). */
  onHookLine?: HookedRunOptions['onHookLine'];
  onProgress?: (p: BackupProgress) => void;
  onItemError?: (e: BackupItemError) => void;
  sendOptions?: SendOptions;
}

export interface BackupJobResult {
  profile: string;
  tier: string;
  result: BackupResult;
  finish: FinishRunResult;
  /** True when no destination was configured: the metrics went to a textfile and should be printed. */
  isFallback: boolean;
  /** The tier's forget, when the profile has `forget-after-backup` and a snapshot was written. */
  forget?: ForgetJobResult;
  /** What the run's hooks and notifications did. */
  hooked: HookedRunReport;
  warnings: string[];
}

/** History outcome of a backup result. */
export function backupOutcome(result: BackupResult): HistoryOutcome {
  if (result.reason === 'interrupted') return 'interrupted';
  const s = backupStatus(result);
  return s === 'success' ? 'success' : s === 'warning' ? 'warning' : 'failed';
}

/**
 * Warnings about restic's output that the outcome does not show: lines that were not
 * valid JSON messages (skipped), and a successful exit without a summary (its figures
 * are unknown, so only the run's status and times are pushed).
 */
export function outputWarnings(result: BackupResult): string[] {
  const out: string[] = [];
  if (result.malformedLines) {
    const first = /malformed JSON line\(s\) from restic, first: (.*)$/s.exec(result.message ?? '')?.[1];
    out.push(
      `restic printed ${result.malformedLines} malformed JSON line(s); they were skipped${first ? ` (the first: ${first})` : ''}`,
    );
  }
  if (result.outcome === 'success' && !result.summary) {
    out.push(
      "restic exited 0 but printed no summary: the snapshot and its figures are unknown; only the run's status and times are pushed",
    );
  }
  return out;
}

/** `backup nfs/daily succeeded (restic exit 0, snapshot 1a2b3c4d)`: how restic's part went, in one phrase. */
export function describeOutcome(profile: string, tier: string, result: BackupResult): string {
  const what =
    result.outcome === 'success'
      ? 'succeeded'
      : result.outcome === 'incomplete'
        ? 'was incomplete'
        : 'failed';
  const exit =
    result.exitCode === null ? (result.signal ?? 'no exit code') : `restic exit ${result.exitCode}`;
  const snapshot = result.summary?.snapshotId ? `, snapshot ${result.summary.snapshotId.slice(0, 8)}` : '';
  return `backup ${profile}/${tier} ${what} (${exit}${snapshot})`;
}

/** Runs one backup of `profile`/`tier` and delivers its metrics. Throws only when nothing could run. */
export async function runBackupJob(opts: BackupJobOptions): Promise<BackupJobResult> {
  let target: ProfileDestinations | undefined;
  const job = await withRepository(
    opts,
    `backup {profile}/${opts.tier}`,
    async (p): Promise<BackupJobResult> => {
      const to = target as ProfileDestinations;
      const warnings = [...p.warnings];
      const hookedRun = startHookedRun({
        run: p,
        configFile: opts.loaded.file,
        kind: 'backup',
        tier: opts.tier,
        ...(opts.signal ? { signal: opts.signal } : {}),
        ...(opts.onHookLine ? { onHookLine: opts.onHookLine } : {}),
        ...(opts.sendOptions ? { sendOptions: opts.sendOptions } : {}),
      });
      const beforeFailed = await hookedRun.begin();
      const result =
        beforeFailed || opts.signal?.aborted
          ? notRunResult(hookedRun.facts.startedAt, beforeFailed, Boolean(opts.signal?.aborted))
          : await runBackup({
              ...p.restic,
              paths: p.profile.paths,
              filesFrom: p.profile.filesFrom ?? [],
              isOneFileSystem: p.profile.oneFileSystem ?? false,
              tags: [opts.tier],
              exclude: p.profile.exclude,
              excludeIfPresent: p.profile.excludeIfPresent,
              extraArgs: [
                ...p.profile.excludeFile.flatMap((f) => ['--exclude-file', f]),
                ...p.profile.resticArgs,
              ],
              ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
              ...(opts.onItemError ? { onItemError: opts.onItemError } : {}),
            });
      const facts = backupFacts(hookedRun.facts, result);
      const hooked = await hookedRun.end(facts);
      const resticVersion = await p.resticVersion;
      warnings.push(...outputWarnings(result), ...hookedWarnings(hooked));
      let finish: FinishRunResult;
      try {
        finish = await finishRun({
          ...finishRunFields(p, opts.sendOptions),
          kind: 'backup',
          tier: opts.tier,
          startedAt: result.startedAt,
          endedAt: result.endedAt,
          outcome: backupOutcome(result),
          exitCode: result.exitCode,
          runId: facts.runId,
          ...(result.reason ? { reason: result.reason } : {}),
          ...(facts.error !== undefined ? { error: facts.error } : {}),
          ...(result.summary ? { summary: result.summary } : {}),
          hooked: hookedHistory(hooked),
          target: to,
          samples: (counters) => [
            ...backupSamples(result, { counters, resticprom: getVersion(), restic: resticVersion }),
            ...hooked.samples('restic_backup'),
          ],
        });
      } catch (err) {
        // restic's work is done: whatever stops the bookkeeping, say how the backup went.
        if (!(err instanceof StateError)) throw err;
        throw new StateError(
          `${describeOutcome(p.profileName, opts.tier, result)}, but ${err.message}`,
          err.path,
          {
            cause: err,
          },
        );
      }
      warnings.push(...finish.warnings);
      return {
        profile: p.profileName,
        tier: opts.tier,
        result,
        finish,
        isFallback: to.isFallback,
        hooked,
        warnings,
      };
    },
    // An unknown tier is a usage error with a "did you mean" hint, before anything is made.
    (config, profileName) => {
      target = profileDestinations(config, profileName, opts.tier);
    },
  );
  const [, profile] = resolveProfile(opts.loaded.config, job.profile);
  if (profile.forgetAfterBackup && job.result.outcome !== 'failed' && !opts.signal?.aborted) {
    job.forget = await runForgetJob({
      loaded: opts.loaded,
      profile: job.profile,
      tier: opts.tier,
      ...(opts.env ? { env: opts.env } : {}),
      ...(opts.stateDir ? { stateDir: opts.stateDir } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.sendOptions ? { sendOptions: opts.sendOptions } : {}),
      ...(opts.onLog ? { onLog: opts.onLog } : {}),
      ...(opts.onWait ? { onWait: opts.onWait } : {}),
      // Part of the backup's run: its hooks and notifications ran around the backup.
      isPartOfBackup: true,
    });
  }
  return job;
}

/**
 * The result of a backup restic never ran for: a `run-before` hook failed
 * (`hook-failed`, its message), or the run was interrupted before restic started.
 */
function notRunResult(
  startedAt: number,
  failed: HookResult | undefined,
  isInterrupted: boolean,
): BackupResult {
  const endedAt = Date.now();
  return {
    outcome: 'failed',
    reason: isInterrupted ? 'interrupted' : 'hook-failed',
    message: failed?.error ?? 'interrupted before restic started',
    exitCode: null,
    errors: [],
    errorCount: 0,
    durationMs: endedAt - startedAt,
    startedAt,
    endedAt,
    stderrTail: '',
    nonJsonLines: 0,
  };
}

/** The facts hooks and notifications get about a finished backup. */
function backupFacts(start: RunFacts, r: BackupResult): RunFacts {
  const outcome = backupOutcome(r);
  const s = outcome === 'failed' || outcome === 'interrupted' ? undefined : r.summary;
  const error = resultError(r);
  return {
    ...start,
    outcome,
    exitCode: r.exitCode,
    ...(r.reason ? { reason: r.reason } : {}),
    ...(error !== undefined ? { error } : {}),
    endedAt: r.endedAt,
    durationMs: r.durationMs,
    ...(s?.snapshotId ? { snapshotId: s.snapshotId } : {}),
    ...(s
      ? {
          filesNew: s.filesNew,
          filesChanged: s.filesChanged,
          bytesAdded: s.dataAdded,
          bytesProcessed: s.totalBytesProcessed,
        }
      : {}),
    ...(r.stderrTail ? { outputTail: outputTail(r.stderrTail) ?? '' } : {}),
  };
}
