/**
 * The repository itself and what the installed restic accepts: `restic cat config`
 * (does it exist, does the password open it), `restic init`, and the flags of
 * `restic backup --help` (to check a profile's `restic-args` before a run).
 */
import { ResticCommandError } from '../errors.js';
import type { ResticCommandOptions } from './backup.js';
import { runResticCommand } from './run.js';
import type { FailureReason, RunOutcome } from './types.js';

/** How opening or creating a repository went. */
export interface RepositoryProbe {
  outcome: RunOutcome;
  /** Set when it failed: `repository-missing`, `wrong-password`, ... */
  reason?: FailureReason;
  /** One line for people; no secrets. */
  message: string;
  exitCode: number | null;
  /** restic's stdout lines (`init` prints where it created the repository). */
  stdout: string[];
}

async function probe(command: string, args: string[], opts: ResticCommandOptions): Promise<RepositoryProbe> {
  const run = await runResticCommand(command, args, opts, { maxStdoutBytes: 1024 * 1024 });
  const out: RepositoryProbe = {
    outcome: run.classification.outcome,
    message: run.classification.message,
    exitCode: run.proc.exitCode,
    stdout: run.stdout,
  };
  if (run.classification.reason !== undefined) out.reason = run.classification.reason;
  return out;
}

/**
 * Opens the repository with `restic cat config`: `success` when it exists and the
 * password works; else `failed` with `repository-missing` or `wrong-password` (or another reason).
 * Rejects with `ResticError` only when restic cannot be started.
 */
export function openRepository(opts: ResticCommandOptions): Promise<RepositoryProbe> {
  return probe('cat config', ['cat', 'config'], opts);
}

/**
 * Creates the repository with `restic init`. restic itself refuses a repository that
 * already exists (its message then says so; the outcome is `failed`).
 */
export function initRepository(opts: ResticCommandOptions): Promise<RepositoryProbe> {
  return probe('init', ['init'], opts);
}

/** The flags a restic command accepts: long names without `--`, short letters without `-`. */
export interface ResticFlags {
  long: Set<string>;
  short: Set<string>;
}

/**
 * Reads the flags (its own and the global ones) from restic's `<command> --help` text.
 * @example parseHelpFlags('  -x, --one-file-system   exclude other file systems').long.has('one-file-system') // true
 */
export function parseHelpFlags(help: string): ResticFlags {
  const long = new Set<string>();
  const short = new Set<string>();
  for (const m of help.matchAll(/^\s+(?:-([A-Za-z0-9]), )?--([a-z0-9][a-z0-9-]*)/gm)) {
    if (m[1]) short.add(m[1]);
    if (m[2]) long.add(m[2]);
  }
  return { long, short };
}

/**
 * Asks the installed restic which flags `restic backup` takes (`restic backup --help`).
 * @throws ResticCommandError when restic prints no help; ResticError when it cannot start.
 */
export async function resticBackupFlags(
  opts: Pick<ResticCommandOptions, 'resticBinary' | 'env'>,
): Promise<ResticFlags> {
  const run = await runResticCommand('backup --help', ['backup', '--help'], opts, {
    maxStdoutBytes: 1024 * 1024,
  });
  const flags = parseHelpFlags(run.stdout.join('\n'));
  if (flags.long.size === 0) {
    throw new ResticCommandError(`restic backup --help printed no flags (${run.classification.message})`, {
      command: 'backup --help',
      reason: 'other',
    });
  }
  return flags;
}
