/**
 * `resticprom schedule install|remove`: writes the configuration's schedules as
 * systemd timers or as a crontab block, and removes exactly what it wrote.
 */
import type { Config } from '../config/types.js';
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
  removeSystemdUnits,
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
    const units = entries.flatMap((e) =>
      renderSystemdUnits(e, {
        command: options.command,
        configFile: options.configFile,
        isSystem: b.scope === 'system',
      }),
    );
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
  const before = await readCrontab(b);
  const after = replaceCronBlock(before, block);
  if (after !== before) await writeCrontab(b, after);
  return { entries, written: [b.file ?? 'crontab -'], removed: [], commands: [], warnings };
}

/** Removes what {@link installSchedule} wrote for this backend: the marked unit files, or the crontab block. */
export async function removeSchedule(backend: ScheduleBackend): Promise<ScheduleChange> {
  if (backend.kind === 'systemd') {
    const change = await removeSystemdUnits(backend);
    return { entries: [], ...change, warnings: [] };
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
