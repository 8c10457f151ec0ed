/**
 * `resticprom check`: repository health, measured and pushed.
 */
import type { Command } from 'commander';
import { runAction } from '../run-action.js';
import { addCommonOptions } from './common.js';

/** Declares the `check` command. */
export function register(program: Command): void {
  const cmd = program
    .command('check')
    .description("run restic check on the profile's repository, then push the errors found")
    .option('-p, --profile <name>', 'the profile (default: the only one in the config)')
    .option(
      '--read-data-subset <subset>',
      "also read this part of the data, e.g. 5% or 1/7 (default: the profile's check.read-data-subset)",
    );
  addCommonOptions(cmd);
  cmd.action(runAction(async (flags) => (await import('../maintenance-action.js')).checkAction(flags)));
}
