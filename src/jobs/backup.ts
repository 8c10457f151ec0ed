/**
 * The backup job: the seed's cron script done right. Runs `restic backup` for a
 * profile and tier, measures it, turns the result into metrics and delivers them.
 */
import { join } from 'node:path';
import type { LoadedConfig } from '../config/index.js';
import { profileDestinations, resolveProfile } from '../config/index.js';
import { StateError } from '../errors.js';
import { runBackup } from '../restic/backup.js';
import type { BackupItemError, BackupProgress, BackupResult } from '../restic/types.js';
import { getResticVersionCached } from '../restic/version.js';
import type { SendOptions } from '../sinks/target.js';
import { ensureStateDir } from '../state/dir.js';
import { acquireRepositoryLock } from '../state/lock.js';
import { getVersion } from '../version.js';
import { backupSamples, backupStatus } from './backup-metrics.js';
import { type FinishRunResult, finishRun, type HistoryOutcome } from './finish-run.js';
import { type ForgetJobResult, runForgetJob } from './maintenance.js';
import { resolveJobStateDir } from './state-dir.js';
import { unlockIfAsked } from './unlock.js';

export interface BackupJobOptions {
  loaded: LoadedConfig;
  /** Profile name; may be omitted when the config has one profile. */
  profile?: string;
  tier: string;
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  onProgress?: (p: BackupProgress) => void;
  onItemError?: (e: BackupItemError) => void;
  onLog?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** Called while waiting for another run's lock. */
  onWait?: (message: string) => void;
  sendOptions?: SendOptions;
  /** Overrides the config's state directory. */
  stateDir?: string;
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
  const snapshot = result.summary?.snapshotId ? `, snapshot ${result.summary.snapshotId}` : '';
  return `backup ${profile}/${tier} ${what} (${exit}${snapshot})`;
}

/** Runs one backup of `profile`/`tier` and delivers its metrics. Throws only when nothing could run. */
export async function runBackupJob(opts: BackupJobOptions): Promise<BackupJobResult> {
  const env = opts.env ?? process.env;
  const stateDir = resolveJobStateDir(opts.loaded.config, opts.stateDir, env);
  const config = { ...opts.loaded.config, stateDir };
  const [profileName, profile] = resolveProfile(config, opts.profile);
  // Throws a usage error with a "did you mean" hint for an unknown tier, before anything is made.
  const target = profileDestinations(config, profileName, opts.tier);
  await ensureStateDir(stateDir);
  const warnings: string[] = [...opts.loaded.warnings];

  const lock = await acquireRepositoryLock(stateDir, profile.repository, {
    waitMs: config.lock.waitMs,
    command: `backup ${profileName}/${opts.tier}`,
    timeZone: config.timezone,
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.onWait ? { onWait: opts.onWait } : {}),
  });
  let job: BackupJobResult;
  try {
    if (lock.warning) warnings.push(lock.warning);
    const resticBinary = config.resticBinary;
    const unlockWarning = await unlockIfAsked(profile, {
      resticBinary,
      repository: profile.repository,
      password: profile.password,
      env: { ...env, ...profile.env },
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    if (unlockWarning) warnings.push(unlockWarning);
    // Remembered per binary in the state directory, and asked alongside the backup, not
    // before it: it is only needed for the build info metric.
    const resticVersionAsked = getResticVersionCached({
      resticBinary,
      env,
      cacheFile: join(stateDir, 'restic-version.json'),
    }).catch(() => undefined);
    const result = await runBackup({
      resticBinary,
      repository: profile.repository,
      password: profile.password,
      env: { ...env, ...profile.env },
      paths: profile.paths,
      tags: [opts.tier],
      exclude: profile.exclude,
      excludeIfPresent: profile.excludeIfPresent,
      extraArgs: [...profile.excludeFile.flatMap((f) => ['--exclude-file', f]), ...profile.resticArgs],
      ...(profile.cpuLimit !== undefined ? { cpuLimit: profile.cpuLimit } : {}),
      ...(profile.nice !== undefined ? { nice: profile.nice } : {}),
      ...(profile.inactivityTimeoutMs !== undefined
        ? { inactivityTimeoutMs: profile.inactivityTimeoutMs }
        : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
      ...(opts.onItemError ? { onItemError: opts.onItemError } : {}),
      ...(opts.onLog ? { onLog: opts.onLog } : {}),
    });
    const resticVersion = await resticVersionAsked;
    warnings.push(...outputWarnings(result));
    let finish: FinishRunResult;
    try {
      finish = await finishRun({
        stateDir,
        kind: 'backup',
        profile: profileName,
        tier: opts.tier,
        host: config.hostname,
        startedAt: result.startedAt,
        endedAt: result.endedAt,
        outcome: backupOutcome(result),
        exitCode: result.exitCode,
        ...(result.reason ? { reason: result.reason } : {}),
        ...(result.summary ? { summary: result.summary } : {}),
        target,
        samples: (counters) =>
          backupSamples(result, { counters, resticprom: getVersion(), restic: resticVersion?.version }),
        ...(opts.sendOptions ? { sendOptions: opts.sendOptions } : {}),
        outbox: config.outbox,
      });
    } catch (err) {
      // restic's work is done: whatever stops the bookkeeping, say how the backup went.
      if (!(err instanceof StateError)) throw err;
      throw new StateError(
        `${describeOutcome(profileName, opts.tier, result)}, but ${err.message}`,
        err.path,
        {
          cause: err,
        },
      );
    }
    warnings.push(...finish.warnings);
    job = {
      profile: profileName,
      tier: opts.tier,
      result,
      finish,
      isFallback: Boolean(target.isFallback),
      warnings,
    };
  } finally {
    await lock.release();
  }
  if (profile.forgetAfterBackup && job.result.outcome !== 'failed' && !opts.signal?.aborted) {
    job.forget = await runForgetJob({
      loaded: opts.loaded,
      profile: profileName,
      tier: opts.tier,
      env,
      stateDir,
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.sendOptions ? { sendOptions: opts.sendOptions } : {}),
      ...(opts.onLog ? { onLog: opts.onLog } : {}),
      ...(opts.onWait ? { onWait: opts.onWait } : {}),
    });
  }
  return job;
}
