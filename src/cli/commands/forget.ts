/**
 * `resticprom forget --tier T [--prune]`: the tier's retention, applied and measured.
 */
import type { Command } from 'commander';
import { runAction } from '../run-action.js';
import { addCommonOptions } from './common.js';

/** Declares the `forget` command. */
export function register(program: Command): void {
  const cmd = program
    .command('forget')
    .description(
      "apply a tier's keep options with restic forget --tag <tier>, then push what was kept and removed",
    )
    .requiredOption('-t, --tier <tier>', 'the tier (restic tag) whose snapshots to thin out')
    .option('-p, --profile <name>', 'the profile (default: the only one in the config)')
    .option('--prune', "also remove the data no snapshot needs any more (default: the profile's prune)")
    .option('-n, --dry-run', 'print what would be removed; remove, record and push nothing');
  addCommonOptions(cmd);
  cmd.action(runAction(async (flags) => (await import('../maintenance-action.js')).forgetAction(flags)));
}
