/**
 * The repository commands restic users reach for, run with a profile's repository,
 * password and environment: `init` (create it), `unlock` (stale locks only, saying
 * which) and `snapshots` (per tier). None of them is a measured run: nothing is
 * recorded in the history or pushed.
 */
import { profileDestinations, resolveProfile } from '../config/index.js';
import { UsageError } from '../errors.js';
import { initRepository, openRepository, type RepositoryProbe } from '../restic/repository.js';
import { listSnapshots, type Snapshot } from '../restic/snapshots.js';
import { type UnlockReport, unlockStale } from '../restic/unlock.js';
import { profileResticOptions, type RepositoryRunOptions, withRepository } from './repository-run.js';

/** What {@link runInitJob} did. */
export interface InitJobResult {
  profile: string;
  repository: string;
  /** `success` when the repository was created. */
  result: RepositoryProbe;
  warnings: string[];
}

/**
 * Creates the profile's repository with `restic init`. Refuses (a usage error, nothing
 * run) when the repository already exists: `restic cat config` opens it first.
 */
export async function runInitJob(opts: RepositoryRunOptions): Promise<InitJobResult> {
  const env = opts.env ?? process.env;
  const [profileName, profile] = resolveProfile(opts.loaded.config, opts.profile);
  const { restic, warnings } = await profileResticOptions(opts.loaded.config, profile, env);
  const withSignal = { ...restic, ...(opts.signal ? { signal: opts.signal } : {}) };
  const existing = await openRepository(withSignal);
  if (existing.outcome === 'success' || existing.reason === 'wrong-password') {
    throw new UsageError(
      `the repository of profile ${profileName} (${profile.repository}) already exists; nothing was changed`,
    );
  }
  const result = await initRepository(withSignal);
  return { profile: profileName, repository: profile.repository, result, warnings };
}

/** What {@link runUnlockJob} did. */
export interface UnlockJobResult extends UnlockReport {
  profile: string;
  warnings: string[];
}

/**
 * Removes the stale restic locks of the profile's repository (`restic unlock`, never
 * `--remove-all`), holding resticprom's repository lock so none of our runs owns one.
 */
export async function runUnlockJob(opts: RepositoryRunOptions): Promise<UnlockJobResult> {
  return withRepository(opts, 'unlock {profile}', async (p) => {
    const report = await unlockStale(p.restic);
    return { profile: p.profileName, ...report, warnings: p.warnings };
  });
}

/** One tier's snapshots, oldest first. */
export interface TierSnapshots {
  tier: string;
  snapshots: Snapshot[];
}

/** What {@link listSnapshotsJob} found. */
export interface SnapshotsJobResult {
  profile: string;
  tiers: TierSnapshots[];
  warnings: string[];
}

/**
 * Lists the profile's snapshots per tier (the tier is the snapshot's tag); `tier` limits
 * it to one (an unknown tier is a usage error).
 */
export async function listSnapshotsJob(
  opts: RepositoryRunOptions & { tier?: string },
): Promise<SnapshotsJobResult> {
  const [profileName, profile] = resolveProfile(opts.loaded.config, opts.profile);
  // an unknown tier: a usage error with a "did you mean" hint
  if (opts.tier !== undefined) profileDestinations(opts.loaded.config, profileName, opts.tier);
  const tiers = opts.tier !== undefined ? [opts.tier] : Object.keys(profile.tiers);
  return withRepository(opts, 'snapshots {profile}', async (p) => {
    const all = await listSnapshots({ ...p.restic, tags: tiers });
    return {
      profile: p.profileName,
      tiers: tiers.map((tier) => ({ tier, snapshots: all.filter((s) => s.tags.includes(tier)) })),
      warnings: p.warnings,
    };
  });
}
