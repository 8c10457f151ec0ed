/**
 * `resticprom stats`: repository size and snapshot counts per tier, pushed.
 */
import type { Command } from 'commander';
import { runAction } from '../run-action.js';
import { addCommonOptions } from './common.js';

/** Declares the `stats` command. */
export function register(program: Command): void {
  const cmd = program
    .command('stats')
    .description('measure the repository (size raw and restored, snapshots per tier), then push it')
    .option('-p, --profile <name>', 'the profile (default: the only one in the config)')
    .option('--json', 'print the figures as JSON on stdout');
  addCommonOptions(cmd);
  cmd.action(runAction(async (flags) => (await import('../maintenance-action.js')).statsAction(flags)));
}
