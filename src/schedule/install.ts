/**
 * `resticprom schedule install|remove`: writes the configuration's schedules as
 * systemd timers or as a crontab block, and removes exactly what it wrote.
 */
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join } from 'node:path';
import type { Config } from '../config/types.js';
import { UsageError } from '../errors.js';
import {
  type CrontabTarget,
  findCronBlock,
  readCrontab,
  renderCronBlock,
  replaceCronBlock,
  writeCrontab,
} from './crontab.js';
import { planSchedule, type ScheduleEntry } from './plan.js';
import {
  installSystemdUnits,
  planSystemdUnits,
  removeSystemdUnits,
  renderFlushUnits,
  renderSystemdUnits,
  type SystemdTargetOptions,
} from './systemd.js';

/** Where schedules go. */
export type ScheduleBackend =
  | ({ kind: 'systemd'; scope: 'system' | 'user' } & SystemdTargetOptions)
  | ({ kind: 'cron' } & CrontabTarget);

/** Options of {@link installSchedule}. */
export interface InstallScheduleOptions {
  config: Config;
  /** Absolute path of the configuration file (passed to `backup|check|stats --config`). */
  configFile: string;
  /** The argv that starts resticprom, absolute paths, e.g. `[process.execPath, '/opt/resticprom/dist/bin/resticprom.js']`. */
  command: string[];
  backend: ScheduleBackend;
  /** For the next runs reported, Unix ms. @default Date.now() */
  now?: number;
  /** Change nothing: return every file and command it would write or run (in `files`, `commands`). */
  isDryRun?: boolean;
}

/** What an install or remove did. */
export interface ScheduleChange {
  /** The scheduled entries (empty for a remove). */
  entries: ScheduleEntry[];
  /** Files written (unit files, the crontab file); `crontab -` for the user's crontab. */
  written: string[];
  /** Files deleted, or `crontab block` when the block was taken out. */
  removed: string[];
  /** Commands run (systemctl). */
  commands: string[][];
  /** Things to tell the user. */
  warnings: string[];
  /** With `isDryRun`, and for the crontab `-` (stdout): each file it would write, with its content. */
  files?: { path: string; content: string }[];
}

/** True when systemd runs as PID 1 here (sd_booted(3): its runtime folder exists). */
export async function isSystemdRunning(runDir = '/run/systemd/system'): Promise<boolean> {
  try {
    return (await stat(runDir)).isDirectory();
  } catch {
    return false;
  }
}

/** True when `cmd` is an executable file in one of PATH's folders (or a path to one). */
async function isOnPath(cmd: string, env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  const dirs = cmd.includes('/') ? [''] : (env.PATH ?? '').split(':').filter(Boolean);
  for (const d of dirs) {
    try {
      await access(d ? join(d, cmd) : cmd, constants.X_OK);
      return true;
    } catch {
      // next folder
    }
  }
  return false;
}

/** Folders a job may write: the state directory, local repositories and textfile folders. */
function writablePaths(config: Config): string[] {
  const out = new Set<string>([config.stateDir]);
  for (const p of Object.values(config.profiles)) {
    const repo = p.repository.startsWith('local:') ? p.repository.slice(6) : p.repository;
    if (isAbsolute(repo)) out.add(repo);
    if (p.metrics.textfile) out.add(dirname(p.metrics.textfile));
  }
  return [...out];
}

/**
 * Installs the schedules of every profile's tiers, check and stats: replaces what a
 * previous install wrote (schedules gone from the config are removed), leaves
 * everything else alone.
 * @throws ConfigError when a schedule cannot be converted; UsageError when a unit
 * file of the same name was not written by resticprom, or cron gets a seconds schedule.
 */
export async function installSchedule(options: InstallScheduleOptions): Promise<ScheduleChange> {
  const entries = planSchedule(options.config, {
    configFile: options.configFile,
    ...(options.now !== undefined ? { now: options.now } : {}),
  });
  const b = options.backend;
  if (b.kind === 'systemd') {
    const isSystem = b.scope === 'system';
    const render = {
      command: options.command,
      configFile: options.configFile,
      isSystem,
      ...(isSystem ? { writablePaths: writablePaths(options.config) } : {}),
    };
    const units = [...entries.flatMap((e) => renderSystemdUnits(e, render)), ...renderFlushUnits(render)];
    if (b.activate && !options.isDryRun && !(await isSystemdRunning(b.runDir))) {
      throw new UsageError(
        `systemd is not running on this machine (PID 1 is not systemd), so its timers cannot be activated; nothing was written. Write the units only with --no-activate (or --dir DIR), use --cron for a crontab, or run the schedules with: resticprom daemon`,
      );
    }
    if (options.isDryRun) {
      const plan = await planSystemdUnits(units, b);
      return { entries, ...plan, warnings: [] };
    }
    const change = await installSystemdUnits(units, b);
    return { entries, ...change, warnings: [] };
  }
  const warnings: string[] = [];
  const systemZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (options.config.timezone && options.config.timezone !== systemZone) {
    warnings.push(
      `cron runs the schedules in the system's time zone (${systemZone}), not in the configured timezone ${options.config.timezone}; use the systemd timers to honour it`,
    );
  }
  const block = renderCronBlock(entries, { command: options.command, configFile: options.configFile });
  if (b.file === '-') {
    return {
      entries,
      written: ['-'],
      removed: [],
      commands: [],
      warnings,
      files: [{ path: '-', content: block }],
    };
  }
  if (!b.file && !(await isOnPath(b.crontab ?? 'crontab'))) {
    throw new UsageError(
      `there is no ${b.crontab ?? 'crontab'} command on this machine (install cron); nothing was written. Write a cron.d file with --file /etc/cron.d/resticprom, print the block with --file -, or use the systemd timers`,
    );
  }
  const before = await readCrontab(b);
  const after = replaceCronBlock(before, block);
  const where = b.file ?? 'crontab -';
  if (options.isDryRun) {
    return {
      entries,
      written: [where],
      removed: [],
      commands: b.file ? [] : [[b.crontab ?? 'crontab', '-']],
      warnings,
      files: [{ path: where, content: after }],
    };
  }
  if (after !== before) await writeCrontab(b, after);
  return { entries, written: [where], removed: [], commands: [], warnings };
}

/** Removes what {@link installSchedule} wrote for this backend: the marked unit files, or the crontab block. */
export async function removeSchedule(backend: ScheduleBackend): Promise<ScheduleChange> {
  if (backend.kind === 'systemd') {
    if (backend.activate && !(await isSystemdRunning(backend.runDir))) {
      // Without systemd there is nothing to disable or reload: remove the files all the same.
      const change = await removeSystemdUnits({ ...backend, activate: false });
      return {
        entries: [],
        ...change,
        warnings: change.removed.length
          ? ['systemd is not running on this machine: removed the unit files without systemctl']
          : [],
      };
    }
    const change = await removeSystemdUnits(backend);
    return { entries: [], ...change, warnings: [] };
  }
  if (!backend.file && !(await isOnPath(backend.crontab ?? 'crontab'))) {
    throw new UsageError(
      `there is no ${backend.crontab ?? 'crontab'} command on this machine, so there is no crontab to remove a block from; pass --file FILE for a cron.d file`,
    );
  }
  const before = await readCrontab(backend);
  if (!findCronBlock(before)) {
    return {
      entries: [],
      written: [],
      removed: [],
      commands: [],
      warnings: ['no resticprom block in the crontab'],
    };
  }
  await writeCrontab(backend, replaceCronBlock(before, undefined));
  return {
    entries: [],
    written: [backend.file ?? 'crontab -'],
    removed: ['crontab block'],
    commands: [],
    warnings: [],
  };
}
