/**
 * Retention and repository health: `forget` per tier, `check` and `stats` per
 * repository. Each run is locked, recorded and delivered like a backup.
 *
 * Where the metrics go: forget uses the tier's group (like its backups); check and
 * stats are about the whole repository, so `{tier}` in the grouping stands for the
 * command's name (`check`, `stats`) and their series carry no `tier` label.
 */

import { profileDestinations } from '../config/destinations.js';
import type { TierConfig } from '../config/index.js';
import { ResticCommandError } from '../errors.js';
import type { HookResult } from '../hooks/run.js';
import type { Sample } from '../metrics/build.js';
import {
  CHECK_METRICS,
  FORGET_METRICS,
  RETENTION_METRICS,
  type RunStatus,
  STATS_METRICS,
} from '../metrics/names.js';
import { type CheckResult, runCheck } from '../restic/check.js';
import { reportedExitCode } from '../restic/exit-status.js';
import { type ForgetResult, runForget } from '../restic/forget.js';
import { listSnapshots, type Snapshot } from '../restic/snapshots.js';
import { runStats, type StatsResult } from '../restic/stats.js';
import type { RunOutcome } from '../restic/types.js';
import type { SendOptions } from '../sinks/target.js';
import { advanceCheckRotation, loadCheckRotation, saveCheckRotation } from '../state/check-rotation.js';
import { getVersion } from '../version.js';
import { type FinishRunResult, finishRun, type HistoryOutcome } from './finish-run.js';
import { hookedHistory, hookedWarnings, outputTail, resultError } from './hooked-report.js';
import { type HookedRunOptions, type HookedRunReport, startHookedRun } from './hooked-run.js';
import {
  finishRunFields,
  type RepositoryRun,
  type RepositoryRunOptions,
  withRepository,
} from './repository-run.js';
import type { RunFacts } from './run-facts.js';
import { buildInfoSample, runSamples } from './run-metrics.js';

/** Options every maintenance job takes. */
export interface MaintenanceOptions extends RepositoryRunOptions {
  sendOptions?: SendOptions;
  /** Each line a hook prints (escape it before printing). */
  onHookLine?: HookedRunOptions['onHookLine'];
}

/** Starts the hooks and notifications of a maintenance run (none for a backup's own forget). */
function startMaintenanceHooks(
  opts: MaintenanceOptions & { isPartOfBackup?: boolean },
  p: RepositoryRun,
  kind: 'forget' | 'check' | 'stats',
  tier?: string,
) {
  return startHookedRun({
    run: p,
    configFile: opts.loaded.file,
    kind,
    ...(tier !== undefined ? { tier } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.onHookLine ? { onHookLine: opts.onHookLine } : {}),
    ...(opts.sendOptions ? { sendOptions: opts.sendOptions } : {}),
    ...(opts.isPartOfBackup ? { isDisabled: true } : {}),
  });
}

/** The common fields of a forget or check result restic never ran for (a run-before hook failed, or interrupted). */
function notRunFields(startedAt: number, failed: HookResult | undefined, isInterrupted: boolean) {
  const endedAt = Date.now();
  return {
    outcome: 'failed' as const,
    reason: isInterrupted ? ('interrupted' as const) : ('hook-failed' as const),
    message: failed?.error ?? 'interrupted before restic started',
    exitCode: null,
    durationMs: endedAt - startedAt,
    startedAt,
    endedAt,
    stderrTail: '',
  };
}

/** The facts hooks and notifications get about a finished forget or check. */
function commandFacts(
  start: RunFacts,
  r: {
    outcome: RunOutcome;
    reason?: string;
    message: string;
    exitCode: number | null;
    durationMs: number;
    endedAt: number;
    stderrTail: string;
  },
): RunFacts {
  const error = resultError(r);
  return {
    ...start,
    outcome: historyOutcome(r.outcome, r.reason),
    exitCode: r.exitCode,
    ...(r.reason ? { reason: r.reason } : {}),
    ...(error !== undefined ? { error } : {}),
    endedAt: r.endedAt,
    durationMs: r.durationMs,
    ...(r.stderrTail ? { outputTail: outputTail(r.stderrTail) ?? '' } : {}),
  };
}

function statusOf(outcome: RunOutcome): RunStatus {
  return outcome === 'success' ? 'success' : outcome === 'incomplete' ? 'warning' : 'failed';
}

function historyOutcome(outcome: RunOutcome, reason: string | undefined): HistoryOutcome {
  if (reason === 'interrupted') return 'interrupted';
  return outcome === 'success' ? 'success' : outcome === 'incomplete' ? 'warning' : 'failed';
}

import { retentionSamples, type TierRetention, tierKeepPolicy, tierRetention } from './retention.js';
import { resolveSnapshotSizes, type SizeSource } from './snapshot-sizes.js';

export { tierKeepPolicy };

export interface ForgetJobResult {
  profile: string;
  tier: string;
  result: ForgetResult;
  finish: FinishRunResult;
  /** What the run's hooks and notifications did. */
  hooked: HookedRunReport;
  warnings: string[];
}

/** Applies a tier's keep options with `restic forget --tag <tier>` (and `--prune` when asked). */
export async function runForgetJob(
  opts: MaintenanceOptions & { tier: string; prune?: boolean; isPartOfBackup?: boolean },
): Promise<ForgetJobResult> {
  return withRepository(opts, 'forget {profile}', async (p) => {
    // Throws a usage error with a "did you mean" hint for an unknown tier.
    const target = profileDestinations(p.config, p.profileName, opts.tier);
    const tier = p.profile.tiers[opts.tier] as TierConfig;
    const hookedRun = startMaintenanceHooks(opts, p, 'forget', opts.tier);
    const beforeFailed = await hookedRun.begin();
    const result: ForgetResult =
      beforeFailed || opts.signal?.aborted
        ? {
            ...notRunFields(hookedRun.facts.startedAt, beforeFailed, Boolean(opts.signal?.aborted)),
            groups: [],
            keptCount: 0,
            removedCount: 0,
            notRemovedCount: 0,
            log: [],
          }
        : await runForget({
            ...p.restic,
            tags: [opts.tier],
            keep: tierKeepPolicy(tier),
            prune: opts.prune ?? p.profile.prune,
          });
    const facts = commandFacts(hookedRun.facts, result);
    const hooked = await hookedRun.end(facts);
    const status = statusOf(result.outcome);
    // What the tier holds after forget: the kept snapshots of every group of the tag.
    const retention = tierRetention(
      opts.tier,
      tier,
      result.groups.flatMap((g) => g.keptTimes).filter((t) => Number.isFinite(t)),
      { now: Date.now(), ...(p.config.timezone ? { timezone: p.config.timezone } : {}) },
    );
    const resticVersion = await p.resticVersion;
    const finish = await finishRun({
      ...finishRunFields(p, opts.sendOptions),
      kind: 'forget',
      tier: opts.tier,
      startedAt: result.startedAt,
      endedAt: result.endedAt,
      outcome: historyOutcome(result.outcome, result.reason),
      exitCode: result.exitCode,
      runId: facts.runId,
      ...(result.reason ? { reason: result.reason } : {}),
      ...(facts.error !== undefined ? { error: facts.error } : {}),
      hooked: hookedHistory(hooked),
      summary: {
        kept: result.keptCount,
        removed: result.removedCount,
        ...(result.notRemovedCount > 0 ? { notRemoved: result.notRemovedCount } : {}),
      },
      target,
      samples: (counters) => {
        const s: Sample[] = runSamples(FORGET_METRICS, {
          status,
          exitCode: reportedExitCode(result),
          durationMs: result.durationMs,
          endedAt: result.endedAt,
          counters,
        });
        if (result.outcome !== 'failed') {
          s.push(
            { def: FORGET_METRICS.snapshotsKept, value: result.keptCount },
            { def: FORGET_METRICS.snapshotsRemoved, value: result.removedCount },
            ...retentionSamples([retention]),
          );
        }
        s.push(buildInfoSample(getVersion(), resticVersion), ...hooked.samples('restic_forget'));
        return s;
      },
    });
    return {
      profile: p.profileName,
      tier: opts.tier,
      result,
      finish,
      hooked,
      warnings: [...p.warnings, ...hookedWarnings(hooked), ...finish.warnings],
    };
  });
}

/**
 * The part of the pack files a `--read-data-subset` reads: `k/n` is 1/n, `5%` is 0.05,
 * none is 0; undefined for a size (`500M`), whose share of the repository is unknown here.
 */
export function readDataFraction(subset: string | undefined): number | undefined {
  if (subset === undefined) return 0;
  const part = /^(\d+)\/(\d+)$/.exec(subset);
  if (part) return 1 / Number(part[2]);
  const pct = /^(\d+(?:\.\d+)?)%$/.exec(subset);
  if (pct) return Math.min(1, Number(pct[1]) / 100);
  return undefined;
}

/** What {@link previewForgetJob} found: what a tier's forget would keep and remove. */
export interface ForgetPreview {
  profile: string;
  tier: string;
  result: ForgetResult;
  warnings: string[];
}

/**
 * `forget --dry-run`: what a tier's keep options would remove (`restic forget --dry-run`).
 * Nothing is removed, recorded in the history or pushed.
 */
export async function previewForgetJob(
  opts: MaintenanceOptions & { tier: string; prune?: boolean },
): Promise<ForgetPreview> {
  return withRepository(opts, 'forget --dry-run {profile}', async (p) => {
    profileDestinations(p.config, p.profileName, opts.tier); // a usage error with a hint for an unknown tier
    const tier = p.profile.tiers[opts.tier] as TierConfig;
    const result = await runForget({
      ...p.restic,
      tags: [opts.tier],
      keep: tierKeepPolicy(tier),
      prune: opts.prune ?? p.profile.prune,
      dryRun: true,
    });
    return { profile: p.profileName, tier: opts.tier, result, warnings: p.warnings };
  });
}

export interface CheckJobResult {
  profile: string;
  result: CheckResult;
  finish: FinishRunResult;
  /** What the run's hooks and notifications did. */
  hooked: HookedRunReport;
  warnings: string[];
}

/** Runs `restic check` (optionally reading a subset of the data) and pushes the errors found. */
export async function runCheckJob(
  opts: MaintenanceOptions & { readDataSubset?: string },
): Promise<CheckJobResult> {
  return withRepository(opts, 'check {profile}', async (p) => {
    const cycle = opts.readDataSubset === undefined ? p.profile.check?.readDataRotateCycle : undefined;
    const rotation = cycle ? await loadCheckRotation(p.stateDir, p.profileName, cycle) : undefined;
    const subset = rotation
      ? `${rotation.next}/${rotation.cycle}`
      : (opts.readDataSubset ?? p.profile.check?.readDataSubset);
    const hookedRun = startMaintenanceHooks(opts, p, 'check');
    const beforeFailed = await hookedRun.begin();
    const result: CheckResult =
      beforeFailed || opts.signal?.aborted
        ? {
            ...notRunFields(hookedRun.facts.startedAt, beforeFailed, Boolean(opts.signal?.aborted)),
            errorCount: 0,
            messages: [],
            hasRepositoryErrors: false,
          }
        : await runCheck({ ...p.restic, ...(subset ? { readDataSubset: subset } : {}) });
    // The part counts as read when restic checked the repository (clean or with errors),
    // not when it could not run (wrong password, locked, interrupted, a failed before hook).
    const hasRead = result.outcome === 'success' || result.hasRepositoryErrors;
    let after = rotation;
    if (rotation && hasRead) {
      after = advanceCheckRotation(rotation, {
        hasErrors: result.hasRepositoryErrors,
        startedAt: result.startedAt,
        endedAt: result.endedAt,
      });
      await saveCheckRotation(p.stateDir, p.profileName, after);
    }
    const fraction = readDataFraction(subset);
    const facts = commandFacts(hookedRun.facts, result);
    const hooked = await hookedRun.end(facts);
    const target = profileDestinations(p.config, p.profileName, 'check', { isRepositoryLevel: true });
    const status = statusOf(result.outcome);
    const resticVersion = await p.resticVersion;
    const finish = await finishRun({
      ...finishRunFields(p, opts.sendOptions),
      kind: 'check',
      startedAt: result.startedAt,
      endedAt: result.endedAt,
      outcome: historyOutcome(result.outcome, result.reason),
      exitCode: result.exitCode,
      runId: facts.runId,
      ...(result.reason ? { reason: result.reason } : {}),
      ...(facts.error !== undefined ? { error: facts.error } : {}),
      hooked: hookedHistory(hooked),
      summary: {
        errors: result.errorCount,
        messages: result.messages.slice(0, 20),
        ...(subset ? { readDataSubset: subset } : {}),
        ...(after?.fullCycleCompletedAt !== undefined
          ? { fullCycleCompletedAt: after.fullCycleCompletedAt }
          : {}),
      },
      target,
      samples: (counters) => [
        ...runSamples(CHECK_METRICS, {
          status,
          exitCode: reportedExitCode(result),
          durationMs: result.durationMs,
          endedAt: result.endedAt,
          counters,
        }),
        // A check that could not run (wrong password, locked) found nothing: no errors metric then.
        ...(result.reason && !result.hasRepositoryErrors
          ? []
          : [{ def: CHECK_METRICS.errors, value: result.errorCount }]),
        ...(hasRead && fraction !== undefined
          ? [{ def: CHECK_METRICS.readDataFraction, value: fraction }]
          : []),
        ...(after?.fullCycleCompletedAt !== undefined
          ? [{ def: CHECK_METRICS.fullCycleCompletedTimestamp, value: after.fullCycleCompletedAt / 1000 }]
          : []),
        buildInfoSample(getVersion(), resticVersion),
        ...hooked.samples('restic_check'),
      ],
    });
    return {
      profile: p.profileName,
      result,
      finish,
      hooked,
      warnings: [...p.warnings, ...hookedWarnings(hooked), ...finish.warnings],
    };
  });
}

/** What `stats` found. */
export interface RepositoryStats {
  raw: StatsResult;
  /**
   * The restored size of all snapshots: the sum of each snapshot's size (see
   * {@link resolveSnapshotSizes}), not a walk of every snapshot's trees.
   */
  restore: StatsResult;
  /**
   * Per configured tier: snapshots with its tag, the newest one's time (Unix ms) and
   * restored size (bytes).
   */
  tiers: { tier: string; snapshots: number; latest?: number; latestSize?: number }[];
  /** Per configured tier: its retention figures. */
  retention: TierRetention[];
  /** Where the snapshot sizes came from this time (cache, summaries, restic restore-size runs). */
  sizeSources: Record<SizeSource, number>;
}

export interface StatsJobResult {
  profile: string;
  outcome: RunOutcome;
  stats?: RepositoryStats;
  error?: ResticCommandError;
  durationMs: number;
  finish: FinishRunResult;
  /** What the run's hooks and notifications did. */
  hooked: HookedRunReport;
  warnings: string[];
}

/** Counts snapshots per tier tag and finds each tier's newest. */
export function tierSnapshotStats(snapshots: Snapshot[], tiers: string[]): RepositoryStats['tiers'] {
  return tiers.map((tier) => {
    const mine = snapshots.filter((s) => s.tags.includes(tier));
    const latest = mine.reduce<number | undefined>(
      (m, s) => (m === undefined || s.time > m ? s.time : m),
      undefined,
    );
    return latest === undefined ? { tier, snapshots: mine.length } : { tier, snapshots: mine.length, latest };
  });
}

/** Repository size (raw and restored), snapshot count, and per tier the count and newest time. */
export async function runStatsJob(opts: MaintenanceOptions): Promise<StatsJobResult> {
  return withRepository(opts, 'stats {profile}', async (p) => {
    const hookedRun = startMaintenanceHooks(opts, p, 'stats');
    const beforeFailed = await hookedRun.begin();
    const startedAt = Date.now();
    const t0 = performance.now();
    let stats: RepositoryStats | undefined;
    let error: ResticCommandError | undefined;
    if (beforeFailed || opts.signal?.aborted) {
      const r = notRunFields(hookedRun.facts.startedAt, beforeFailed, Boolean(opts.signal?.aborted));
      error = new ResticCommandError(r.message, { command: 'stats', reason: r.reason });
    } else
      try {
        const raw = await runStats({ ...p.restic, mode: 'raw-data' });
        const t1 = performance.now();
        const snapshots = await listSnapshots({ ...p.restic });
        const tierNames = Object.keys(p.profile.tiers);
        const newest = new Set(
          tierNames.flatMap((t) => {
            const s = snapshots.filter((x) => x.tags.includes(t)).at(-1);
            return s ? [s.id] : [];
          }),
        );
        const sizes = await resolveSnapshotSizes(p.restic, {
          stateDir: p.stateDir,
          profile: p.profileName,
          snapshots,
          exact: newest,
        });
        let total = 0;
        for (const v of sizes.bytes.values()) total += v;
        const restore: StatsResult = {
          mode: 'restore-size',
          totalSize: total,
          snapshotsCount: snapshots.length,
          durationMs: performance.now() - t1,
        };
        const now = Date.now();
        const tiers = tierSnapshotStats(snapshots, tierNames).map((t) => {
          const id = snapshots.filter((x) => x.tags.includes(t.tier)).at(-1)?.id;
          const size = id ? sizes.bytes.get(id) : undefined;
          return size === undefined ? t : { ...t, latestSize: size };
        });
        const retention = tierNames.map((t) =>
          tierRetention(
            t,
            p.profile.tiers[t] as TierConfig,
            snapshots.filter((x) => x.tags.includes(t)).map((x) => x.time),
            { now, ...(p.config.timezone ? { timezone: p.config.timezone } : {}) },
          ),
        );
        stats = { raw, restore, tiers, retention, sizeSources: sizes.sources };
      } catch (e) {
        if (!(e instanceof ResticCommandError)) throw e;
        error = e;
      }
    const durationMs = performance.now() - t0;
    const endedAt = startedAt + Math.round(durationMs);
    const outcome: RunOutcome = stats ? 'success' : 'failed';
    const target = profileDestinations(p.config, p.profileName, 'stats', { isRepositoryLevel: true });
    const exitCode = error ? (error.exitCode ?? -1) : 0;
    const facts = commandFacts(hookedRun.facts, {
      outcome,
      ...(error ? { reason: error.reason } : {}),
      message: error?.message ?? 'stats read',
      exitCode: error ? (error.exitCode ?? null) : 0,
      durationMs,
      endedAt,
      stderrTail: error?.stderrTail ?? '',
    });
    const hooked = await hookedRun.end(facts);
    const resticVersion = await p.resticVersion;
    const finish = await finishRun({
      ...finishRunFields(p, opts.sendOptions),
      kind: 'stats',
      startedAt,
      endedAt,
      outcome: error?.reason === 'interrupted' ? 'interrupted' : outcome === 'success' ? 'success' : 'failed',
      exitCode,
      runId: facts.runId,
      ...(error?.reason ? { reason: error.reason } : {}),
      ...(facts.error !== undefined ? { error: facts.error } : {}),
      hooked: hookedHistory(hooked),
      ...(stats
        ? {
            summary: {
              rawSize: stats.raw.totalSize,
              restoreSize: stats.restore.totalSize,
              snapshots: stats.raw.snapshotsCount,
              tiers: stats.tiers,
            },
          }
        : {}),
      target,
      samples: (counters) => {
        const s: Sample[] = runSamples(STATS_METRICS, {
          status: statusOf(outcome),
          exitCode,
          durationMs,
          endedAt,
          counters,
        });
        if (stats) {
          s.push(
            { def: STATS_METRICS.rawSizeBytes, value: stats.raw.totalSize },
            { def: STATS_METRICS.restoreSizeBytes, value: stats.restore.totalSize },
            { def: STATS_METRICS.snapshots, value: stats.raw.snapshotsCount },
          );
          for (const t of stats.tiers) {
            s.push({ def: STATS_METRICS.tierSnapshots, value: t.snapshots, labels: { tag: t.tier } });
            if (t.latest !== undefined) {
              s.push({
                def: STATS_METRICS.tierLatestSnapshotTimestamp,
                value: t.latest / 1000,
                labels: { tag: t.tier },
              });
            }
            if (t.latestSize !== undefined) {
              s.push({
                def: RETENTION_METRICS.latestSnapshotSizeBytes,
                value: t.latestSize,
                labels: { tag: t.tier },
              });
            }
          }
          s.push(...retentionSamples(stats.retention));
        }
        s.push(buildInfoSample(getVersion(), resticVersion), ...hooked.samples('restic_stats'));
        return s;
      },
    });
    return {
      profile: p.profileName,
      outcome,
      hooked,
      ...(stats ? { stats } : {}),
      ...(error ? { error } : {}),
      durationMs,
      finish,
      warnings: [...p.warnings, ...hookedWarnings(hooked), ...finish.warnings],
    };
  });
}
