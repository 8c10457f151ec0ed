/**
 * `resticprom init|unlock|snapshots --profile P`: restic's repository commands with the
 * profile's repository, password and environment.
 */
import type { Command } from 'commander';
import { runAction } from '../run-action.js';
import { addCommonOptions } from './common.js';

/** Declares the `init`, `unlock` and `snapshots` commands. */
export function register(program: Command): void {
  const init = program
    .command('init')
    .description("create the profile's repository with restic init (refuses one that exists)")
    .option('-p, --profile <name>', 'the profile (default: the only one in the config)');
  addCommonOptions(init);
  init.action(runAction(async (flags) => (await import('../repository-action.js')).initAction(flags)));

  const unlock = program
    .command('unlock')
    .description(
      "remove the stale restic locks of the profile's repository (never --remove-all), saying which",
    )
    .option('-p, --profile <name>', 'the profile (default: the only one in the config)');
  addCommonOptions(unlock);
  unlock.action(runAction(async (flags) => (await import('../repository-action.js')).unlockAction(flags)));

  const snapshots = program
    .command('snapshots')
    .description("list the profile's snapshots per tier: time, age, size, short id")
    .option('-p, --profile <name>', 'the profile (default: the only one in the config)')
    .option('-t, --tier <tier>', 'only this tier')
    .option('--json', 'print JSON instead of tables');
  addCommonOptions(snapshots);
  snapshots.action(
    runAction(async (flags) => (await import('../repository-action.js')).snapshotsAction(flags)),
  );
}
