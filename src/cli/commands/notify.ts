/**
 * `resticprom notify test`: sends a test event to every configured receiver;
 * `resticprom notify flush`: sends the queued notifications.
 */
import type { Command } from 'commander';
import { runAction } from '../run-action.js';
import { addCommonOptions } from './common.js';

/** Declares the `notify` command and its `test` subcommand. */
export function register(program: Command): void {
  const notify = program.command('notify').description('check the notification receivers');
  const test = notify
    .command('test')
    .description('send a test event to every configured receiver and say what each answered')
    .option('-p, --profile <name>', 'only the receivers of this profile (and its tiers)');
  addCommonOptions(test);
  test.action(runAction(async (flags) => (await import('../notify-action.js')).notifyTestAction(flags)));
  const flush = notify
    .command('flush')
    .description(
      'send the failure and warning notifications that wait in the outbox (the next run also does)',
    );
  addCommonOptions(flush);
  flush.action(runAction(async (flags) => (await import('../notify-action.js')).notifyFlushAction(flags)));
}
