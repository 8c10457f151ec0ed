/**
 * Every command module of the CLI, by the top-level command names it declares, and the choice
 * of which to declare for one run.
 */
import type { Command } from 'commander';
import * as backupCommand from './backup.js';
import * as checkCommand from './check.js';
import * as configCommand from './config.js';
import * as daemonCommand from './daemon.js';
import * as demoCommand from './demo.js';
import * as flushCommand from './flush.js';
import * as forgetCommand from './forget.js';
import * as notifyCommand from './notify.js';
import * as outboxCommand from './outbox.js';
import * as pushCommand from './push.js';
import * as repositoryCommand from './repository.js';
import * as rulesCommand from './rules.js';
import * as runCommand from './run.js';
import * as scheduleCommand from './schedule.js';
import * as statsCommand from './stats.js';
import * as statusCommand from './status.js';
import * as verifyCommand from './verify.js';

/** A command module: `register(program)` declares its commands and options only. */
export interface CommandModule {
  register: (program: Command) => void;
}

/** The command modules in help order, each with the top-level names it declares. */
export const COMMAND_MODULES: ReadonlyArray<{ names: readonly string[]; module: CommandModule }> = [
  { names: ['backup'], module: backupCommand },
  { names: ['forget'], module: forgetCommand },
  { names: ['check'], module: checkCommand },
  { names: ['stats'], module: statsCommand },
  { names: ['verify'], module: verifyCommand },
  { names: ['run'], module: runCommand },
  { names: ['config'], module: configCommand },
  { names: ['daemon'], module: daemonCommand },
  { names: ['rules'], module: rulesCommand },
  { names: ['push'], module: pushCommand },
  { names: ['flush'], module: flushCommand },
  { names: ['outbox'], module: outboxCommand },
  { names: ['notify'], module: notifyCommand },
  { names: ['status'], module: statusCommand },
  { names: ['init', 'unlock', 'snapshots'], module: repositoryCommand },
  { names: ['schedule'], module: scheduleCommand },
  { names: ['demo'], module: demoCommand },
];

/**
 * The modules to declare for a command line (`process.argv`): only the named command's when
 * the first argument names one, so a run does not pay for declaring the options of all the
 * others (commander parses each option's flags as it is declared); every module otherwise
 * (`--help`, `help`, `--version`, a mistyped command that gets a suggestion).
 */
export function commandModulesFor(argv: readonly string[]): CommandModule[] {
  const first = argv[2];
  const named = COMMAND_MODULES.find((c) => first !== undefined && c.names.includes(first));
  return named ? [named.module] : COMMAND_MODULES.map((c) => c.module);
}
