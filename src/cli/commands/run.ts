/**
 * `resticprom run --job J [--group k=v]... -- CMD [ARGS]`: any batch job, measured and pushed.
 */
import type { Command } from 'commander';
import { addDestinationOptions } from '../destinations.js';
import { runAction } from '../run-action.js';
import type { RunFlags } from '../run-action-impl.js';
import { addOutboxOptions } from './push.js';

export type { RunFlags } from '../run-action-impl.js';

const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value];

/** Declares the `run` command. */
export function register(program: Command): void {
  const cmd = program
    .command('run')
    .description(
      'run any batch job: pass its output and exit code through, push its duration, end time, exit code and status',
    )
    .argument('<command...>', 'the command and its arguments (put them after --)')
    .option('--job <name>', 'the job name (Pushgateway grouping key)')
    .option('--group <name=value>', 'grouping label (repeatable), e.g. instance=nightly', collect)
    .option('--label <name=value>', 'extra label on every series (repeatable)', collect);
  addDestinationOptions(cmd);
  addOutboxOptions(cmd);
  cmd.passThroughOptions();
  cmd.addHelpText(
    'after',
    `
The command's exit code is resticprom's (0 becomes 75 when the metrics could not be delivered
and wait in the outbox). Without a destination, the metrics go to a textfile in the state directory.

Example:
  resticprom run --job db_dump --gateway https://my-gtw:443 -- pg_dumpall -f /backup/all.sql`,
  );
  cmd.action(
    runAction(async (command: string[], flags: RunFlags) =>
      (await import('../run-action-impl.js')).runCommandAction(command, flags),
    ),
  );
}
