/**
 * What one run is: the job (backup, forget, check, stats, verify), its profile and
 * tier and the job's own options, and the one place that turns that into the job's
 * call with the context it runs in. The CLI's job commands describe a run from their
 * flags, the daemon from a scheduled slot ({@link describeScheduledRun}); both run it
 * through {@link runDescribed}, so a scheduled `check` is the same run as
 * `resticprom check --profile P`.
 */
import type { ScheduledJob } from '../schedule/plan.js';
import type { BackupJobOptions, BackupJobResult } from './backup.js';
import type { CheckJobResult, ForgetJobResult, MaintenanceOptions, StatsJobResult } from './maintenance.js';
import type { RepositoryRunOptions } from './repository-run.js';
import type { VerifyJobResult } from './verify.js';

/** A tier's backup (with `forget-after-backup` when the profile asks). */
export interface BackupRunDescription {
  job: 'backup';
  /** @default the config's only profile */
  profile?: string;
  tier: string;
}

/** A tier's `restic forget`. */
export interface ForgetRunDescription {
  job: 'forget';
  profile?: string;
  tier: string;
  /** Adds `--prune`. @default false */
  prune?: boolean;
}

/** `restic check` of a profile's repository. */
export interface CheckRunDescription {
  job: 'check';
  profile?: string;
  /** `--read-data-subset`. @default the profile's `check.read-data-subset` or rotation */
  readDataSubset?: string;
}

/** Repository size and snapshots per tier. */
export interface StatsRunDescription {
  job: 'stats';
  profile?: string;
}

/** A restore drill. */
export interface VerifyRunDescription {
  job: 'verify';
  profile?: string;
  /** @default the profile's `verify.tier`, else its first tier */
  tier?: string;
  /** @default the profile's `verify.sample-files` */
  sampleFiles?: number;
  /** @default the profile's `verify.sample-bytes` */
  sampleBytes?: number;
}

/** One run: which job, on which profile and tier, with which of the job's options. */
export type RunDescription =
  | BackupRunDescription
  | ForgetRunDescription
  | CheckRunDescription
  | StatsRunDescription
  | VerifyRunDescription;

/**
 * Where and how a run runs: the config, the state directory, the environment, the
 * abort signal, and what it reports while running. The profile is the description's.
 */
export interface RunContext extends Omit<RepositoryRunOptions, 'profile'> {
  /** Each line a hook prints (escape it before printing). */
  onHookLine?: MaintenanceOptions['onHookLine'];
  /** A backup's progress. */
  onProgress?: BackupJobOptions['onProgress'];
  /** A file a backup could not read. */
  onItemError?: BackupJobOptions['onItemError'];
}

/** The result of a run, by its job. */
export interface RunResults {
  backup: BackupJobResult;
  forget: ForgetJobResult;
  check: CheckJobResult;
  stats: StatsJobResult;
  verify: VerifyJobResult;
}

/**
 * The run a scheduled slot stands for: a tier's backup, or the profile's check, stats
 * or verify with the options of its config section (which the job reads itself).
 * @example describeScheduledRun({ job: 'backup', profile: 'nfs', tier: 'daily' }) // { job: 'backup', profile: 'nfs', tier: 'daily' }
 */
export function describeScheduledRun(slot: {
  job: ScheduledJob;
  profile: string;
  tier?: string | undefined;
}): RunDescription {
  if (slot.job === 'backup') return { job: 'backup', profile: slot.profile, tier: slot.tier ?? '' };
  return { job: slot.job, profile: slot.profile };
}

function repositoryOptions(d: RunDescription, ctx: RunContext): RepositoryRunOptions {
  return {
    loaded: ctx.loaded,
    ...(d.profile !== undefined ? { profile: d.profile } : {}),
    ...(ctx.env ? { env: ctx.env } : {}),
    ...(ctx.signal ? { signal: ctx.signal } : {}),
    ...(ctx.stateDir !== undefined ? { stateDir: ctx.stateDir } : {}),
    ...(ctx.onLog ? { onLog: ctx.onLog } : {}),
    ...(ctx.onWait ? { onWait: ctx.onWait } : {}),
  };
}

/**
 * Runs a described run: the job's function with the description's options and the
 * context (the job's module is loaded when first needed, so the CLI starts fast).
 * Resolves to the job's result, typed by the description's `job`.
 * @throws what the job throws when there is no result (a usage error for an unknown
 *   profile or tier, the signal's reason when it stopped the wait for the lock)
 */
export async function runDescribed<D extends RunDescription>(
  d: D,
  ctx: RunContext,
): Promise<RunResults[D['job']]> {
  const base: MaintenanceOptions = {
    ...repositoryOptions(d, ctx),
    ...(ctx.onHookLine ? { onHookLine: ctx.onHookLine } : {}),
  };
  // Each branch returns the result of its own job; TypeScript cannot relate D to the branch.
  type Result = RunResults[D['job']];
  const desc: RunDescription = d;
  switch (desc.job) {
    case 'backup': {
      const { runBackupJob } = await import('./backup.js');
      return (await runBackupJob({
        ...base,
        tier: desc.tier,
        ...(ctx.onProgress ? { onProgress: ctx.onProgress } : {}),
        ...(ctx.onItemError ? { onItemError: ctx.onItemError } : {}),
      })) as Result;
    }
    case 'forget': {
      const { runForgetJob } = await import('./maintenance.js');
      return (await runForgetJob({
        ...base,
        tier: desc.tier,
        ...(desc.prune ? { prune: true } : {}),
      })) as Result;
    }
    case 'check': {
      const { runCheckJob } = await import('./maintenance.js');
      return (await runCheckJob({
        ...base,
        ...(desc.readDataSubset ? { readDataSubset: desc.readDataSubset } : {}),
      })) as Result;
    }
    case 'stats': {
      const { runStatsJob } = await import('./maintenance.js');
      return (await runStatsJob(base)) as Result;
    }
    case 'verify': {
      const { runVerifyJob } = await import('./verify.js');
      return (await runVerifyJob({
        ...base,
        ...(desc.tier !== undefined ? { tier: desc.tier } : {}),
        ...(desc.sampleFiles !== undefined ? { sampleFiles: desc.sampleFiles } : {}),
        ...(desc.sampleBytes !== undefined ? { sampleBytes: desc.sampleBytes } : {}),
      })) as Result;
    }
  }
}
