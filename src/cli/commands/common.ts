/**
 * Options shared by the commands that run a job from the config file.
 */
import { type Command, Option } from 'commander';

export interface CommonOptions {
  config?: string;
  stateDir?: string;
  quiet?: boolean;
  verbose?: boolean;
  logFormat?: 'text' | 'json';
}

/** Adds --config, --state-dir, --quiet, --verbose and --log-format. */
export function addCommonOptions(cmd: Command): Command {
  return cmd
    .option(
      '-c, --config <file>',
      'config file (default: $RESTICPROM_CONFIG, ./resticprom.yaml, /etc/resticprom/resticprom.yaml)',
    )
    .option('--state-dir <dir>', 'state directory (outbox, history, locks)')
    .option('-q, --quiet', 'print only warnings and errors')
    .option('-v, --verbose', "also print restic's log lines")
    .addOption(
      new Option('--log-format <format>', "log format (default: the config's log-format, else text)").choices(
        ['text', 'json'],
      ),
    );
}
