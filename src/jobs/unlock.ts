/**
 * `unlock-stale-locks`: before a run, and only when the profile asks, let restic
 * remove the locks of restic processes that are gone (a crash, a kill -9).
 */
import type { ProfileConfig } from '../config/index.js';
import { errorText } from '../errors.js';
import type { ResticCommandOptions } from '../restic/backup.js';
import { describeLock, unlockStale } from '../restic/unlock.js';

/**
 * Runs `restic unlock` when `profile.unlockStaleLocks` is true, while resticprom's own
 * repository lock is held (so no run of ours is the lock's owner). Returns a line naming
 * the stale locks it removed, or a warning when it failed (the run goes on, and restic
 * reports a lock that is really held); undefined when there was nothing to say.
 */
export async function unlockIfAsked(
  profile: ProfileConfig,
  restic: ResticCommandOptions,
): Promise<string | undefined> {
  if (!profile.unlockStaleLocks) return undefined;
  try {
    const { removed } = await unlockStale(restic);
    if (removed.length === 0) return undefined;
    return `unlock-stale-locks removed ${removed.length} stale restic lock(s): ${removed.map(describeLock).join('; ')}`;
  } catch (err) {
    return `restic unlock (unlock-stale-locks) failed: ${errorText(err)}`;
  }
}
