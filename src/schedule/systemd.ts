/**
 * systemd timers: per profile and tier a `resticprom-<profile>-<tier>.service`
 * (Type=oneshot, runs `resticprom backup`) and a `.timer` (OnCalendar= from the
 * tier's cron schedule, Persistent=true); per profile with `check.schedule` or
 * `stats.schedule` likewise `resticprom-<profile>-check` / `-stats` running
 * `resticprom check` / `resticprom stats`. Every file written starts with
 * {@link SYSTEMD_MARKER}; install replaces the marked files it wrote before and
 * remove deletes exactly the marked files, never one a person wrote.
 * systemd.timer(5): https://www.freedesktop.org/software/systemd/man/latest/systemd.timer.html
 */
import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { errorText, ResticpromError, StateError, UsageError } from '../errors.js';
import { writeFileAtomic } from '../state/dir.js';
import { entryCommandArgs, type ScheduleEntry } from './plan.js';

/** First line of every unit file resticprom writes. */
export const SYSTEMD_MARKER = '# Managed by resticprom (resticprom schedule install); edits are overwritten.';

/** One unit file: its name and content. */
export interface UnitFile {
  name: string;
  content: string;
}

/** Options of {@link renderSystemdUnits}. */
export interface RenderUnitsOptions {
  /** The argv that starts resticprom, absolute paths, e.g. `['/usr/bin/node', '/opt/resticprom/dist/bin/resticprom.js']`. */
  command: string[];
  /** Absolute path of the configuration file, passed as `--config`. */
  configFile: string;
  /**
   * Units for the system manager: adds a dependency on the network being online, restic's
   * cache in `CacheDirectory=`, and {@link SERVICE_HARDENING}. @default true
   */
  isSystem?: boolean;
  /** Folders a system unit may write besides its cache (state directory, local repositories, textfile folders). */
  writablePaths?: string[];
}

/**
 * The sandbox of every system service resticprom writes and ships (deploy/systemd/):
 * read everything (a backup must), write only what `ReadWritePaths=` lists, the cache and
 * the state directory, keep root's power to read files (CAP_DAC_READ_SEARCH) and nothing more.
 * systemd.exec(5): https://www.freedesktop.org/software/systemd/man/latest/systemd.exec.html
 */
export const SERVICE_HARDENING: readonly string[] = [
  'ProtectSystem=strict',
  'ProtectHome=read-only',
  'PrivateTmp=yes',
  'PrivateDevices=yes',
  'NoNewPrivileges=yes',
  'ProtectKernelTunables=yes',
  'ProtectKernelModules=yes',
  'ProtectKernelLogs=yes',
  'ProtectControlGroups=yes',
  'ProtectClock=yes',
  'ProtectHostname=yes',
  'RestrictSUIDSGID=yes',
  'RestrictRealtime=yes',
  'RestrictNamespaces=yes',
  'LockPersonality=yes',
  'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6',
  'CapabilityBoundingSet=CAP_DAC_READ_SEARCH',
  'SystemCallArchitectures=native',
  'UMask=0077',
];

/**
 * Exit codes a job's service treats as success: a backup's 3 (snapshot written, some files
 * unreadable) and every job's 75 (metrics waiting in the outbox) are reported through the
 * metrics, and must not mark the unit failed.
 */
export function successExitStatus(job: ScheduleEntry['job'] | 'flush'): string {
  return job === 'backup' ? 'SuccessExitStatus=3 75' : 'SuccessExitStatus=75';
}

/** The [Service] lines that are the same for every job: exit statuses, cache, sandbox. */
function serviceLines(job: ScheduleEntry['job'] | 'flush', options: RenderUnitsOptions): string[] {
  const isSystem = options.isSystem ?? true;
  return [
    successExitStatus(job),
    ...(isSystem
      ? [
          'CacheDirectory=resticprom',
          'Environment=RESTIC_CACHE_DIR=%C/resticprom',
          ...(options.writablePaths ?? []).map((p) => `ReadWritePaths=-${escapeValue(p)}`),
          ...SERVICE_HARDENING,
        ]
      : []),
  ];
}

/**
 * Renders `resticprom-flush.service` and `.timer`: every 15 minutes (and 5 minutes after
 * boot) `resticprom flush --config FILE --quiet` delivers what waits in the outbox, with the
 * destination credentials of the config read in its own unit.
 */
export function renderFlushUnits(options: RenderUnitsOptions): UnitFile[] {
  const argv = [...options.command, 'flush', '--config', options.configFile, '--quiet'];
  return [
    {
      name: 'resticprom-flush.service',
      content: renderService('resticprom: deliver the metrics waiting in the outbox', argv, 'flush', options),
    },
    {
      name: 'resticprom-flush.timer',
      content: renderTimer('resticprom: deliver the metrics waiting in the outbox, every 15 minutes', [
        'OnBootSec=5m',
        'OnUnitActiveSec=15m',
      ]),
    },
  ];
}

/** A oneshot `.service` running `argv`, with the [Service] lines of {@link serviceLines}. */
function renderService(
  description: string,
  argv: string[],
  job: ScheduleEntry['job'] | 'flush',
  options: RenderUnitsOptions,
): string {
  return [
    SYSTEMD_MARKER,
    '[Unit]',
    `Description=${description}`,
    ...((options.isSystem ?? true) ? ['Wants=network-online.target', 'After=network-online.target'] : []),
    '',
    '[Service]',
    'Type=oneshot',
    `ExecStart=${argv.map(quoteExecArg).join(' ')}`,
    // `nice` is applied by resticprom to restic alone (nice -n, ionice); a Nice= here
    // would add up with it, since niceness is relative.
    ...serviceLines(job, options),
    '',
  ].join('\n');
}

/** A `.timer` with the given [Timer] lines, wanted by timers.target. */
function renderTimer(description: string, timerLines: string[]): string {
  return [
    SYSTEMD_MARKER,
    '[Unit]',
    `Description=${description}`,
    '',
    '[Timer]',
    ...timerLines,
    '',
    '[Install]',
    'WantedBy=timers.target',
    '',
  ].join('\n');
}

/**
 * Returns the base name of an entry's units: `resticprom-<profile>-<tier>` for a
 * backup, `resticprom-<profile>-check` and `resticprom-<profile>-stats` for the others.
 */
export function unitBaseName(
  entry: Pick<ScheduleEntry, 'profile' | 'tier'> & { job?: ScheduleEntry['job'] },
): string {
  const job = entry.job ?? 'backup';
  return `resticprom-${entry.profile}-${job === 'backup' ? (entry.tier ?? '') : job}`;
}

/**
 * Renders the `.service` and `.timer` of one entry. No secret is written: the
 * service passes only `--config`, `--profile` and (for a backup) `--tier`.
 */
export function renderSystemdUnits(entry: ScheduleEntry, options: RenderUnitsOptions): UnitFile[] {
  const base = unitBaseName(entry);
  const what =
    entry.job === 'backup' ? `backup ${entry.profile}/${entry.tier ?? ''}` : `${entry.job} ${entry.profile}`;
  const argv = [...options.command, ...entryCommandArgs(entry, options.configFile)];
  const timer = renderTimer(
    `resticprom ${escapeValue(what)} at "${escapeValue(entry.schedule)}" (${escapeValue(entry.timeZone)})`,
    [
      ...entry.onCalendar.map((c) => `OnCalendar=${c}`),
      'Persistent=true',
      // Timers fire within AccuracySec (1 min by default); a schedule with seconds asks for more.
      ...(entry.hasSeconds ? ['AccuracySec=1s'] : []),
    ],
  );
  return [
    {
      name: `${base}.service`,
      content: renderService(`resticprom ${escapeValue(what)}`, argv, entry.job, options),
    },
    { name: `${base}.timer`, content: timer },
  ];
}

/** Where units go: `--dir`, the user's (`~/.config/systemd/user`) or the system's (`/etc/systemd/system`). */
export function systemdUnitDir(scope: 'user' | 'system', env: NodeJS.ProcessEnv = process.env): string {
  if (scope === 'system') return '/etc/systemd/system';
  const config = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config');
  return join(config, 'systemd', 'user');
}

/** Options of {@link installSystemdUnits} and {@link removeSystemdUnits}. */
export interface SystemdTargetOptions {
  /** The unit folder. */
  dir: string;
  /**
   * Run systemctl afterwards (`daemon-reload`, `enable --now` / `disable --now` of the timers):
   * `'system'`, `'user'` (`systemctl --user`), or false to only write files. @default false
   */
  activate?: 'system' | 'user' | false;
  /** The systemctl executable. @default 'systemctl' */
  systemctl?: string;
  /** The folder whose presence says systemd runs as PID 1 (sd_booted(3)). @default '/run/systemd/system' */
  runDir?: string;
}

/** What an install or remove changed. */
export interface SystemdChange {
  /** Unit files written (absolute paths). */
  written: string[];
  /** Marked unit files deleted (absolute paths): gone from the config, or removed. */
  removed: string[];
  /** systemctl commands that ran. */
  commands: string[][];
}

/**
 * Writes the units (atomically, mode 0644) and deletes the marked units of tiers no
 * longer configured. Refuses to overwrite a unit file resticprom did not write.
 * @throws UsageError when a same-named unit without the marker exists.
 */
export async function installSystemdUnits(
  units: UnitFile[],
  options: SystemdTargetOptions,
): Promise<SystemdChange> {
  const dir = options.dir;
  await mkdir(dir, { recursive: true }).catch((err) => {
    throw new StateError(`cannot create ${dir}: ${errorText(err)}`, dir, { cause: err });
  });
  const managed = await findManagedUnits(dir);
  await assertNotForeign(units, dir);
  const change: SystemdChange = { written: [], removed: [], commands: [] };
  const wanted = new Set(units.map((u) => u.name));
  const stale = managed.filter((n) => !wanted.has(n));
  // What the folder held before, to put back when systemctl fails: nothing is left half-done.
  const previous = new Map<string, string | undefined>();
  for (const n of [...units.map((u) => u.name), ...stale]) {
    previous.set(n, await readFile(join(dir, n), 'utf8').catch(() => undefined));
  }
  try {
    return await applyUnits(units, stale, options, change);
  } catch (err) {
    for (const [n, text] of previous) {
      const path = join(dir, n);
      if (text === undefined) await rm(path, { force: true }).catch(() => {});
      else await writeFileAtomic(path, text, { mode: 0o644 }).catch(() => {});
    }
    if (err instanceof ResticpromError && err.code === 'SCHEDULE_FAILED') {
      throw new ResticpromError(
        'SCHEDULE_FAILED',
        `${err.message}; the unit files were put back as they were`,
        {
          cause: err,
        },
      );
    }
    throw err;
  }
}

async function applyUnits(
  units: UnitFile[],
  stale: string[],
  options: SystemdTargetOptions,
  change: SystemdChange,
): Promise<SystemdChange> {
  const dir = options.dir;
  if (options.activate) {
    const timers = stale.filter((n) => n.endsWith('.timer'));
    if (timers.length > 0) await systemctl(options, ['disable', '--now', ...timers], change);
  }
  for (const u of units) {
    const path = join(dir, u.name);
    try {
      await writeFileAtomic(path, u.content, { mode: 0o644 });
    } catch (err) {
      throw new StateError(`cannot write ${path}: ${errorText(err)}`, path, { cause: err });
    }
    change.written.push(path);
  }
  for (const n of stale) {
    await rm(join(dir, n), { force: true });
    change.removed.push(join(dir, n));
  }
  if (options.activate) {
    await systemctl(options, ['daemon-reload'], change);
    const timers = units.filter((u) => u.name.endsWith('.timer')).map((u) => u.name);
    if (timers.length > 0) await systemctl(options, ['enable', '--now', ...timers], change);
  }
  return change;
}

/**
 * What {@link installSystemdUnits} would do, without doing it: the files it would write
 * (with their content), the marked files it would delete, the systemctl commands.
 * @throws UsageError when a same-named unit without the marker exists.
 */
export async function planSystemdUnits(
  units: UnitFile[],
  options: SystemdTargetOptions,
): Promise<SystemdChange & { files: { path: string; content: string }[] }> {
  const managed = await findManagedUnits(options.dir);
  await assertNotForeign(units, options.dir);
  const wanted = new Set(units.map((u) => u.name));
  const stale = managed.filter((n) => !wanted.has(n));
  const bin = options.systemctl ?? 'systemctl';
  const pre = options.activate === 'user' ? ['--user'] : [];
  const commands: string[][] = [];
  if (options.activate) {
    const staleTimers = stale.filter((n) => n.endsWith('.timer'));
    if (staleTimers.length > 0) commands.push([bin, ...pre, 'disable', '--now', ...staleTimers]);
    commands.push([bin, ...pre, 'daemon-reload']);
    const timers = units.filter((u) => u.name.endsWith('.timer')).map((u) => u.name);
    if (timers.length > 0) commands.push([bin, ...pre, 'enable', '--now', ...timers]);
  }
  return {
    written: units.map((u) => join(options.dir, u.name)),
    removed: stale.map((n) => join(options.dir, n)),
    commands,
    files: units.map((u) => ({ path: join(options.dir, u.name), content: u.content })),
  };
}

async function assertNotForeign(units: UnitFile[], dir: string): Promise<void> {
  for (const u of units) {
    const path = join(dir, u.name);
    const existing = await readFile(path, 'utf8').catch(() => undefined);
    if (existing !== undefined && !existing.startsWith(SYSTEMD_MARKER)) {
      throw new UsageError(`${path} exists and was not written by resticprom; move it away first`);
    }
  }
}

/** Deletes every unit file in `dir` that resticprom wrote (first line {@link SYSTEMD_MARKER}). */
export async function removeSystemdUnits(options: SystemdTargetOptions): Promise<SystemdChange> {
  const change: SystemdChange = { written: [], removed: [], commands: [] };
  const managed = await findManagedUnits(options.dir);
  if (options.activate) {
    const timers = managed.filter((n) => n.endsWith('.timer'));
    if (timers.length > 0) await systemctl(options, ['disable', '--now', ...timers], change);
  }
  for (const n of managed) {
    await rm(join(options.dir, n), { force: true });
    change.removed.push(join(options.dir, n));
  }
  if (options.activate && managed.length > 0) await systemctl(options, ['daemon-reload'], change);
  return change;
}

/** Names of the unit files in `dir` that resticprom wrote. */
export async function findManagedUnits(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new StateError(`cannot read ${dir}: ${errorText(err)}`, dir, { cause: err });
  }
  const out: string[] = [];
  for (const n of names.sort()) {
    if (!/^resticprom-.*\.(service|timer)$/.test(n)) continue;
    const text = await readFile(join(dir, n), 'utf8').catch(() => '');
    if (text.startsWith(SYSTEMD_MARKER)) out.push(n);
  }
  return out;
}

async function systemctl(options: SystemdTargetOptions, args: string[], change: SystemdChange) {
  const argv = [...(options.activate === 'user' ? ['--user'] : []), ...args];
  const bin = options.systemctl ?? 'systemctl';
  change.commands.push([bin, ...argv]);
  await new Promise<void>((resolve, reject) => {
    execFile(bin, argv, { timeout: 60_000 }, (err, _stdout, stderr) => {
      if (!err) resolve();
      else
        reject(
          new ResticpromError(
            'SCHEDULE_FAILED',
            `${bin} ${argv.join(' ')} failed: ${String(stderr).trim() || err.message}`,
            { cause: err },
          ),
        );
    });
  });
}

/** Quotes one ExecStart= argument: `%` and `$` are escaped (specifiers, variables), spaces quoted. */
export function quoteExecArg(arg: string): string {
  const escaped = arg.replace(/%/g, '%%').replace(/\$/g, '$$$$');
  if (/^[A-Za-z0-9_@%+=:,./$-]+$/.test(escaped)) return escaped;
  return `"${escaped.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** Escapes `%` in a free-text unit value (systemd expands specifiers there). */
function escapeValue(s: string): string {
  return s.replace(/%/g, '%%').replace(/\n/g, ' ');
}
