/**
 * Restores chosen files of a snapshot with `restic restore SNAPSHOT --target DIR
 * --include PATH...`, with `--verify` (restic reads every restored file back and
 * compares it with the repository's blobs) where this restic has it. restic names
 * each file it could not restore on stderr: `ignoring error for /path: message`.
 */
import type { ResticCommandOptions } from './backup.js';
import type { ResticExitClass } from './exit-codes.js';
import { runResticCommand } from './run.js';

/** Options of {@link runRestore}. */
export interface RunRestoreOptions extends ResticCommandOptions {
  /** Snapshot id. */
  snapshot: string;
  /** An empty folder the files are restored into (under their snapshot paths). */
  target: string;
  /** Snapshot paths of the files to restore (matched literally). */
  paths: readonly string[];
  /** Add `--verify`. @default false */
  verify?: boolean;
}

/** One file restic reported it could not restore (or verify). */
export interface RestoreFileError {
  /** Snapshot path, as restic names it. */
  path: string;
  message: string;
}

/** What {@link runRestore} did. */
export interface RestoreResult {
  classification: ResticExitClass;
  exitCode: number | null;
  /** Files restic reported errors for, first message per file. */
  fileErrors: RestoreFileError[];
  /** restic's last stderr lines. */
  stderrTail: string;
  durationMs: number;
}

/**
 * Escapes a path for restic's `--include` pattern (filepath.Match syntax with `\` escapes),
 * so it matches only itself.
 * @example escapeIncludePattern('/data/a*b [1].txt') // '/data/a\\*b \\[1\\].txt'
 */
export function escapeIncludePattern(path: string): string {
  return path.replace(/[\\*?[\]]/g, '\\$&');
}

/**
 * True when this restic's `restore` has `--verify`, from its help text.
 * @example hasRestoreVerify('      --verify   verify restored files content') // true
 */
export function hasRestoreVerify(helpText: string): boolean {
  return /^\s+--verify\b/m.test(helpText);
}

/** Asks restic whether its `restore` has `--verify` (`restic restore --help`). */
export async function resticRestoreHasVerify(opts: ResticCommandOptions): Promise<boolean> {
  const { signal: _ignored, ...rest } = opts;
  const run = await runResticCommand('restore', ['restore', '--help'], rest);
  return hasRestoreVerify(run.stdout.join('\n'));
}

const FILE_ERROR = /^ignoring error for (.+?): (.*)$/;

/**
 * Restores `paths` of a snapshot into `target`. Never throws for restic's failures
 * (a corrupt pack ends in `fileErrors` and a failed classification); throws
 * `ResticError` only when restic cannot be started.
 */
export async function runRestore(opts: RunRestoreOptions): Promise<RestoreResult> {
  const args = ['restore', opts.snapshot, '--target', opts.target];
  if (opts.verify) args.push('--verify');
  for (const p of opts.paths) args.push('--include', escapeIncludePattern(p));
  const fileErrors: RestoreFileError[] = [];
  const seen = new Set<string>();
  const run = await runResticCommand('restore', args, {
    ...opts,
    onLog: (line, stream) => {
      const m = stream === 'stderr' ? FILE_ERROR.exec(line) : null;
      if (m?.[1] !== undefined && !seen.has(m[1])) {
        seen.add(m[1]);
        fileErrors.push({ path: m[1], message: m[2] ?? '' });
      }
      opts.onLog?.(line, stream);
    },
  });
  return {
    classification: run.classification,
    exitCode: run.proc.exitCode,
    fileErrors,
    stderrTail: run.stderr.slice(-20).join('\n'),
    durationMs: run.durationMs,
  };
}
