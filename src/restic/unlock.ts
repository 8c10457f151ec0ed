/**
 * `restic unlock`: removes the repository's stale locks (those of processes that are
 * gone, or older than 30 minutes); never `--remove-all`. resticprom runs it only when
 * the profile's `unlock-stale-locks` is true.
 */
import type { ResticCommandOptions } from './backup.js';
import { assertResticSucceeded, runResticCommand } from './run.js';

/**
 * Runs `restic unlock` and returns restic's own line (e.g. `successfully removed locks`).
 * @throws ResticCommandError (with `reason`) when restic fails, ResticError when it cannot start.
 */
export async function runUnlock(opts: ResticCommandOptions): Promise<string> {
  const run = await runResticCommand('unlock', ['unlock'], opts);
  assertResticSucceeded('unlock', run);
  return run.stdout.filter((l) => l.trim() !== '').join(' ') || 'no stale locks';
}
