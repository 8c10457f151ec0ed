/**
 * What the daemon answers on `/api/status`: the tiers as `resticprom status`
 * judges them, with the daemon's own knowledge of what runs and waits, and the
 * profiles' last repository runs.
 */
import type { Config } from '../config/index.js';
import { latestRuns } from '../state/history.js';
import { computeStatus } from '../state/status.js';
import { getVersion } from '../version.js';
import { repositoryRunsView, type StatusView, type TierStatusView } from './api.js';

/** What {@link buildStatusView} needs from the daemon. */
export interface StatusViewInput {
  /** The configuration in use. */
  config: Config;
  /** The config file in use. */
  configFile: string;
  /** When the config was last (re)loaded, Unix ms. */
  configLoadedAt: number;
  /** When the daemon started, Unix ms. */
  startedAt: number;
  stateDir: string;
  /** The time to judge ages at, Unix ms. */
  now: number;
  /** True while the daemon runs this tier's backup. */
  isRunning(profile: string, tier: string): boolean;
  /** True while this tier's backup waits for another run on the same repository. */
  isQueued(profile: string, tier: string): boolean;
}

/** Builds the daemon's `/api/status` answer from the state directory and the run queue. */
export async function buildStatusView(input: StatusViewInput): Promise<StatusView> {
  const cfg = input.config;
  const stateDir = input.stateDir;
  const report = await computeStatus({ config: cfg, stateDir, now: input.now });
  const tiers: TierStatusView[] = report.rows.map((r) => ({
    profile: r.profile,
    tier: r.tier,
    state: r.state,
    lastRun: r.lastRun ? r.lastRun.endedAt : null,
    lastOutcome: r.lastRun ? r.lastRun.outcome : null,
    lastSuccess: r.lastSuccess ?? null,
    ageMs: r.ageMs ?? null,
    maxAgeMs: r.maxAgeMs,
    nextRun: r.nextRun ?? null,
    lastSize: r.lastSize ?? null,
    pendingDeliveries: r.pendingDeliveries,
    deadLetters: r.deadLetters,
    isRunning: input.isRunning(r.profile, r.tier),
    isQueued: input.isQueued(r.profile, r.tier),
  }));
  const repo = await latestRuns(stateDir);
  return {
    generatedAt: report.now,
    timezone: cfg.timezone,
    daemon: {
      startedAt: input.startedAt,
      version: getVersion(),
      configFile: input.configFile,
      configLoadedAt: input.configLoadedAt,
    },
    tiers,
    repositoryRuns: repositoryRunsView(repo.runs, Object.keys(cfg.profiles), report.now),
    warnings: report.warnings,
  };
}
