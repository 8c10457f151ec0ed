/**
 * `resticprom backup --tier T`: one backup of a profile's tier, measured and delivered.
 */
import type { Command } from 'commander';
import { runAction } from '../run-action.js';
import { addCommonOptions, type CommonOptions } from './common.js';

interface BackupFlags extends CommonOptions {
  profile?: string;
  tier: string;
}

/** Declares the `backup` command. */
export function register(program: Command): void {
  const cmd = program
    .command('backup')
    .description("run restic backup for a profile's tier, then push its metrics")
    .requiredOption('-t, --tier <tier>', 'the tier (restic tag) to back up, e.g. daily')
    .option('-p, --profile <name>', 'the profile (default: the only one in the config)');
  addCommonOptions(cmd);
  cmd.action(
    runAction(async (flags: BackupFlags) => (await import('../backup-action.js')).backupAction(flags)),
  );
}
