/**
 * Runs `restic backup --json` and returns one {@link BackupResult} for every outcome.
 */
import { performance } from 'node:perf_hooks';
import { ResticError } from '../errors.js';
import { classifyResticExit } from './exit-codes.js';
import { createBackupParser } from './parse-backup.js';
import { type ResticStream, type SpawnResticResult, spawnRestic } from './spawn.js';
import type { BackupItemError, BackupProgress, BackupResult, ResticPassword } from './types.js';

/** Options shared by every restic command runner. */
export interface ResticCommandOptions {
  /**
   * The restic executable.
   * @default 'restic'
   */
  resticBinary?: string;
  /** The repository (`RESTIC_REPOSITORY`); when omitted, `env` must carry it. */
  repository?: string;
  /** The repository password; reaches restic through its environment only. */
  password?: ResticPassword;
  /**
   * The environment restic starts from; see {@link SpawnResticOptions.env}.
   * @default process.env without RESTIC_PASSWORD*
   */
  env?: NodeJS.ProcessEnv;
  /** Extra restic arguments, appended after resticprom's own (before the paths). */
  extraArgs?: string[];
  /** `GOMAXPROCS` for restic: the number of cores it may use. */
  cpuLimit?: number;
  /** Runs restic under `nice -n N` (and `ionice -c2 -n7` when available). */
  nice?: number;
  /** Stops restic (SIGINT, SIGKILL after `killGraceMs`); the run ends `interrupted`. */
  signal?: AbortSignal;
  /**
   * Grace period between SIGINT and SIGKILL, ms.
   * @default 10000
   */
  killGraceMs?: number;
  /** Stops restic when it prints nothing for this long, ms. Off when omitted. */
  inactivityTimeoutMs?: number;
  /** Called with every non-JSON line restic prints. */
  onLog?: (line: string, stream: ResticStream) => void;
  /**
   * The clock for `startedAt`/`endedAt` (Unix ms).
   * @default Date.now
   */
  now?: () => number;
  /** Runs restic as this user / group id (needs root). */
  uid?: number;
  gid?: number;
  /** Working directory of restic. */
  cwd?: string;
  /** Called once restic is started (see `SpawnResticOptions.onStarted`). */
  onStarted?: () => void;
}

/** Options of {@link runBackup}. */
export interface RunBackupOptions extends ResticCommandOptions {
  /** Files and directories to back up; may be empty when {@link filesFrom} names some. */
  paths: string[];
  /** `--files-from` files: the paths to back up, one a line. */
  filesFrom?: string[];
  /** `--one-file-system`: do not cross into other file systems. @default false */
  isOneFileSystem?: boolean;
  /** Tags of the snapshot (`--tag`), e.g. the tier name. */
  tags?: string[];
  /** `--exclude` patterns. */
  exclude?: string[];
  /** `--exclude-if-present` file names, e.g. `.nobackup`. */
  excludeIfPresent?: string[];
  /** `--host` of the snapshot. @default restic's: the machine's hostname */
  host?: string;
  /** Called for every `status` message. */
  onProgress?: (progress: BackupProgress) => void;
  /** Called for every item restic could not read. */
  onItemError?: (error: BackupItemError) => void;
  /**
   * How many item errors the result lists (`errorCount` stays exact).
   * @default 100
   */
  maxErrors?: number;
}

/** Builds the argv of `restic backup` (no secret ever goes here). */
export function buildBackupArgs(opts: RunBackupOptions): string[] {
  const args = ['backup', '--json'];
  for (const t of opts.tags ?? []) args.push('--tag', t);
  if (opts.host !== undefined) args.push('--host', opts.host);
  for (const e of opts.exclude ?? []) args.push('--exclude', e);
  for (const f of opts.excludeIfPresent ?? []) args.push('--exclude-if-present', f);
  for (const f of opts.filesFrom ?? []) args.push('--files-from', f);
  if (opts.isOneFileSystem) args.push('--one-file-system');
  args.push(...(opts.extraArgs ?? []));
  // `--` keeps a path that starts with `-` from being read as a flag
  args.push('--', ...opts.paths);
  return args;
}

/** The spawn options shared by every runner. */
export function commonSpawnOptions(opts: ResticCommandOptions) {
  return {
    ...(opts.resticBinary !== undefined ? { resticBinary: opts.resticBinary } : {}),
    ...(opts.repository !== undefined ? { repository: opts.repository } : {}),
    ...(opts.password !== undefined ? { password: opts.password } : {}),
    ...(opts.env !== undefined ? { env: opts.env } : {}),
    ...(opts.cpuLimit !== undefined ? { cpuLimit: opts.cpuLimit } : {}),
    ...(opts.nice !== undefined ? { nice: opts.nice } : {}),
    ...(opts.signal !== undefined ? { signal: opts.signal } : {}),
    ...(opts.killGraceMs !== undefined ? { killGraceMs: opts.killGraceMs } : {}),
    ...(opts.inactivityTimeoutMs !== undefined ? { inactivityTimeoutMs: opts.inactivityTimeoutMs } : {}),
    ...(opts.uid !== undefined ? { uid: opts.uid } : {}),
    ...(opts.gid !== undefined ? { gid: opts.gid } : {}),
    ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
    ...(opts.onStarted !== undefined ? { onStarted: opts.onStarted } : {}),
  };
}

/**
 * Runs `restic backup --json --tag T ... -- <paths>` and returns what happened. Never throws for
 * restic's own failures (wrong password, missing or locked repository, unreadable files,
 * interruption, inactivity): they are outcomes. When restic cannot be started at all, the
 * result is `failed` with reason `spawn-failed` (still no throw).
 *
 * @example
 * const r = await runBackup({ repository: '/srv/restic', password: { file: '/etc/restic/pw' },
 *   paths: ['/srv/nfs'], tags: ['daily'], excludeIfPresent: ['.nobackup'], cpuLimit: 1 });
 * if (r.outcome === 'success') console.log(r.summary?.snapshotId);
 */
export async function runBackup(opts: RunBackupOptions): Promise<BackupResult> {
  if (opts.paths.length === 0 && (opts.filesFrom ?? []).length === 0)
    throw new RangeError('runBackup: paths or filesFrom must name at least one file or directory');
  const now = opts.now ?? Date.now;
  const parser = createBackupParser({
    ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    ...(opts.onItemError ? { onItemError: opts.onItemError } : {}),
    ...(opts.onLog ? { onLog: opts.onLog } : {}),
    ...(opts.maxErrors !== undefined ? { maxErrors: opts.maxErrors } : {}),
  });
  const startedAt = now();
  const t0 = performance.now();
  let proc: SpawnResticResult;
  try {
    proc = await spawnRestic({
      ...commonSpawnOptions(opts),
      args: buildBackupArgs(opts),
      onStdoutLine: (l) => parser.push(l, 'stdout'),
      onStdoutBytes: parser.pushBytes,
      onStderrLine: (l) => parser.push(l, 'stderr'),
    });
  } catch (err) {
    if (!(err instanceof ResticError)) throw err;
    const durationMs = performance.now() - t0;
    return {
      outcome: 'failed',
      reason: 'spawn-failed',
      message: err.message,
      exitCode: null,
      errors: [],
      errorCount: 0,
      durationMs,
      startedAt,
      endedAt: now(),
      stderrTail: '',
      nonJsonLines: 0,
    };
  }
  const durationMs = performance.now() - t0;
  const endedAt = now();
  const parsed = parser.result();
  const cls = classifyResticExit({
    command: 'backup',
    exitCode: proc.exitCode,
    signal: proc.signal,
    ...(proc.stopReason !== undefined ? { stopReason: proc.stopReason } : {}),
    ...(opts.inactivityTimeoutMs !== undefined ? { inactivityTimeoutMs: opts.inactivityTimeoutMs } : {}),
    stderr: parsed.stderrTail,
    ...(parsed.exitError ? { exitError: parsed.exitError } : {}),
    errorCount: parsed.errorCount,
    ...(parsed.summary?.snapshotId !== undefined ? { snapshotId: parsed.summary.snapshotId } : {}),
  });
  let message = cls.message;
  if (parsed.malformedLines > 0) {
    message += `; ${parsed.malformedLines} malformed JSON line(s) from restic, first: ${parsed.malformedSamples[0]}`;
  }
  const result: BackupResult = {
    outcome: cls.outcome,
    message,
    exitCode: proc.exitCode,
    errors: parsed.errors,
    errorCount: parsed.errorCount,
    durationMs,
    startedAt,
    endedAt,
    stderrTail: parsed.stderrTail,
    nonJsonLines: parsed.nonJsonLines,
  };
  if (cls.reason !== undefined) result.reason = cls.reason;
  if (proc.signal !== null) result.signal = proc.signal;
  if (parsed.summary) result.summary = parsed.summary;
  if (parsed.malformedLines > 0) result.malformedLines = parsed.malformedLines;
  return result;
}
