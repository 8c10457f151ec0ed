/**
 * `resticprom verify`: the restore drill, measured and pushed.
 */
import type { Command } from 'commander';
import { runAction } from '../run-action.js';
import { addCommonOptions } from './common.js';

/** Declares the `verify` command. */
export function register(program: Command): void {
  const cmd = program
    .command('verify')
    .description(
      "restore a random sample of a tier's latest snapshot into a temporary folder, check each file, then push the result",
    )
    .option('-p, --profile <name>', 'the profile (default: the only one in the config)')
    .option(
      '-t, --tier <tier>',
      'the tier whose latest snapshot is restored (default: verify.tier, else the first tier)',
    )
    .option('--sample-files <n>', 'files to restore at most (default: verify.sample-files, else 200)')
    .option(
      '--sample-bytes <size>',
      'bytes to restore at most, e.g. 500MiB (default: verify.sample-bytes, else 2GiB)',
    );
  addCommonOptions(cmd);
  cmd.action(runAction(async (flags) => (await import('../verify-action.js')).verifyAction(flags)));
}
