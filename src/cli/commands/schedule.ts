/**
 * `resticprom schedule install|remove|list`: runs every profile's tiers (backup)
 * and its scheduled check and stats on their cron schedules through systemd
 * timers (default) or a crontab block.
 */
import { realpathSync } from 'node:fs';
import { basename } from 'node:path';
import type { Command } from 'commander';
import type { ScheduleBackend } from '../../schedule/install.js';
import { ExitCode } from '../exit-codes.js';
import { writeLine } from '../output.js';
import { runAction } from '../run-action.js';

interface TargetFlags {
  user?: boolean;
  system?: boolean;
  dir?: string;
  cron?: boolean;
  file?: string;
  activate?: boolean;
}

interface InstallFlags extends TargetFlags {
  config?: string;
  exec?: string;
  json?: boolean;
  dryRun?: boolean;
}

interface ListFlags {
  config?: string;
  json?: boolean;
}

const CONFIG_HELP =
  'config file (default: $RESTICPROM_CONFIG, ./resticprom.yaml, /etc/resticprom/resticprom.yaml)';

function addTargetOptions(cmd: Command): Command {
  return cmd
    .option('--user', 'systemd user units in ~/.config/systemd/user (default unless root)')
    .option('--system', 'systemd system units in /etc/systemd/system (default as root)')
    .option('--dir <dir>', 'write the units to this folder; systemctl is not run')
    .option('--cron', 'use a crontab block instead of systemd timers')
    .option(
      '--file <file>',
      'with --cron: edit this file instead of the user crontab (crontab -l / crontab -); - prints the block',
    )
    .option('--no-activate', 'only write files; do not run systemctl daemon-reload / enable / disable');
}

/** Declares the `schedule` command and its subcommands. */
export function register(program: Command): void {
  const schedule = program
    .command('schedule')
    .description("run each profile's tiers, check and stats on their schedules (systemd timers or cron)");
  addTargetOptions(
    schedule
      .command('install')
      .description(
        'write a .service and .timer per profile and tier, and for check and stats (or the crontab block), replacing an earlier install',
      )
      .option('-c, --config <file>', CONFIG_HELP)
      .option('--exec <path>', 'the resticprom executable the units run (default: this node and script)')
      .option('--json', 'print what was done as JSON')
      .option('-n, --dry-run', 'print every file and command it would write or run; change nothing'),
  ).action(runAction(installAction));
  addTargetOptions(
    schedule.command('remove').description('remove exactly the units (or crontab block) that install wrote'),
  ).action(runAction(removeAction));
  schedule
    .command('list')
    .description(
      'show each scheduled backup, check and stats, its schedule, the systemd form and the next run',
    )
    .option('-c, --config <file>', CONFIG_HELP)
    .option('--json', 'print JSON')
    .action(runAction(listAction));
}

async function resolveBackend(flags: TargetFlags): Promise<ScheduleBackend> {
  const { UsageError } = await import('../../errors.js');
  const { systemdUnitDir } = await import('../../schedule/systemd.js');
  if (flags.user && flags.system) throw new UsageError('choose one of --user and --system');
  if (flags.cron) {
    if (flags.user || flags.system || flags.dir) {
      throw new UsageError('--cron writes the crontab; --user, --system and --dir are for systemd units');
    }
    return { kind: 'cron' as const, ...(flags.file ? { file: flags.file } : {}) };
  }
  if (flags.file) throw new UsageError('--file goes with --cron; use --dir for systemd units');
  const isRoot = process.getuid?.() === 0;
  const scope: 'user' | 'system' = flags.user ? 'user' : flags.system ? 'system' : isRoot ? 'system' : 'user';
  const dir = flags.dir ?? systemdUnitDir(scope);
  const activate: 'user' | 'system' | false = flags.activate !== false && !flags.dir ? scope : false;
  return { kind: 'systemd' as const, scope, dir, activate };
}

async function selfCommand(exec: string | undefined): Promise<string[]> {
  if (exec) return [exec];
  // The single executable (npm run build:sea) is the whole command; node repeats the name
  // it was started by as argv[1], which is no script. Before node 20.12 there is no node:sea.
  const isSea = await import('node:sea').then(
    (sea) => sea.isSea(),
    () => false,
  );
  if (isSea) return [process.execPath];
  const script = process.argv[1];
  if (!script) return [process.execPath];
  let path = script;
  try {
    path = realpathSync(script);
  } catch {
    // keep as given
  }
  return [process.execPath, path];
}

async function installAction(flags: InstallFlags): Promise<number> {
  const [{ loadConfig }, { installSchedule }, { formatScheduleTable }] = await Promise.all([
    import('../../config/index.js'),
    import('../../schedule/install.js'),
    import('../../schedule/plan.js'),
  ]);
  const loaded = await loadConfig(flags.config ? { file: flags.config } : {});
  for (const w of loaded.warnings) writeLine(process.stderr, `warning: ${w}`);
  const backend = await resolveBackend(flags);
  const change = await installSchedule({
    config: loaded.config,
    configFile: loaded.file,
    command: await selfCommand(flags.exec),
    backend,
    ...(flags.dryRun ? { isDryRun: true } : {}),
  });
  for (const w of change.warnings) writeLine(process.stderr, `warning: ${w}`);
  if (backend.kind === 'cron' && backend.file === '-') {
    process.stdout.write(change.files?.[0]?.content ?? '');
    return ExitCode.OK;
  }
  if (flags.dryRun && !flags.json) {
    process.stdout.write('dry run: nothing was written or run\n');
    for (const f of change.files ?? []) process.stdout.write(`\n--- would write ${f.path}\n${f.content}`);
    for (const f of change.removed) process.stdout.write(`\nwould remove ${f}\n`);
    for (const c of change.commands) process.stdout.write(`would run ${c.join(' ')}\n`);
    return ExitCode.OK;
  }
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(change, null, 2)}\n`);
    return ExitCode.OK;
  }
  for (const f of change.written) process.stdout.write(`wrote ${f}\n`);
  for (const f of change.removed) process.stdout.write(`removed ${f}\n`);
  for (const c of change.commands) process.stdout.write(`ran ${c.join(' ')}\n`);
  process.stdout.write(formatScheduleTable(change.entries));
  if (backend.kind === 'systemd' && !backend.activate) {
    const user = backend.scope === 'user' ? ' --user' : '';
    const timers = change.written
      .filter((f) => f.endsWith('.timer'))
      .map((f) => basename(f))
      .join(' ');
    process.stdout.write(
      `not activated; when the units are in place run: systemctl${user} daemon-reload && systemctl${user} enable --now ${timers}\n`,
    );
  }
  return ExitCode.OK;
}

async function removeAction(flags: TargetFlags): Promise<number> {
  const { removeSchedule } = await import('../../schedule/install.js');
  const change = await removeSchedule(await resolveBackend(flags));
  for (const w of change.warnings) writeLine(process.stderr, `warning: ${w}`);
  for (const c of change.commands) process.stdout.write(`ran ${c.join(' ')}\n`);
  for (const f of change.removed) process.stdout.write(`removed ${f}\n`);
  if (change.removed.length === 0) process.stdout.write('nothing to remove\n');
  return ExitCode.OK;
}

async function listAction(flags: ListFlags): Promise<number> {
  const [{ loadConfig }, { planSchedule, formatScheduleTable }] = await Promise.all([
    import('../../config/index.js'),
    import('../../schedule/plan.js'),
  ]);
  const loaded = await loadConfig(flags.config ? { file: flags.config } : {});
  for (const w of loaded.warnings) writeLine(process.stderr, `warning: ${w}`);
  const entries = planSchedule(loaded.config, { configFile: loaded.file });
  if (flags.json) {
    const out = entries.map((e) => ({ ...e, nextRun: e.nextRun ? e.nextRun.getTime() : null }));
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  } else process.stdout.write(formatScheduleTable(entries));
  return ExitCode.OK;
}
