/**
 * Runs `restic forget --json` (optionally with `--prune`) and reports, per group, which
 * snapshots were kept and which removed.
 */

import { maskCredentials } from '../errors.js';
import type { ResticCommandOptions } from './backup.js';
import { resticSays } from './exit-codes.js';
import { findJsonLine, runResticCommand } from './run.js';
import type { FailureReason, RunOutcome } from './types.js';

/** How many snapshots to keep (restic's `--keep-*` flags). At least one should be set. */
export interface KeepPolicy {
  last?: number;
  hourly?: number;
  daily?: number;
  weekly?: number;
  monthly?: number;
  yearly?: number;
  /** A restic duration, e.g. `2d` or `1y5m7d2h` (`--keep-within`). */
  within?: string;
  /** Snapshots with this tag are always kept (`--keep-tag`). */
  tags?: string[];
}

/** Options of {@link runForget}. */
export interface RunForgetOptions extends ResticCommandOptions {
  /** Only snapshots with this tag (each entry one `--tag`; restic ORs them), e.g. `[tier]`. */
  tags?: string[];
  /** Only snapshots of this host (`--host`). */
  host?: string;
  keep: KeepPolicy;
  /** Also run prune (`--prune`): removes the data no snapshot uses any more. @default false */
  prune?: boolean;
  /** restic's `--group-by`, e.g. `host,paths`. @default restic's: `host,paths` */
  groupBy?: string;
  /** Only show what would be removed (`--dry-run`). @default false */
  dryRun?: boolean;
}

/** One group of snapshots restic's policy was applied to. */
export interface ForgetGroup {
  tags: string[];
  host: string;
  paths: string[];
  /** Full ids of the kept snapshots. */
  kept: string[];
  /** When each kept snapshot was taken, Unix ms (in the order of `kept`; NaN when restic gave no time). */
  keptTimes: number[];
  /** Full ids of the removed snapshots. */
  removed: string[];
  /** Full ids of the snapshots the policy removes but restic could not delete (still there). */
  notRemoved: string[];
}

/** What `restic forget` did. */
export interface ForgetResult {
  outcome: RunOutcome;
  reason?: FailureReason;
  /** One line for people. */
  message: string;
  exitCode: number | null;
  signal?: string;
  groups: ForgetGroup[];
  /** Totals over all groups. */
  keptCount: number;
  /** Snapshots really removed (those restic could not delete are in `notRemovedCount`). */
  removedCount: number;
  /** Snapshots the policy removes but restic could not delete; the outcome is then `incomplete`. */
  notRemovedCount: number;
  /** The text restic printed besides the JSON (the prune report with `--prune`). */
  log: string[];
  durationMs: number;
  startedAt: number;
  endedAt: number;
  stderrTail: string;
}

interface ResticForgetGroup {
  tags?: string[] | null;
  host?: string;
  paths?: string[] | null;
  keep?: Array<{ id?: string; time?: string }> | null;
  remove?: Array<{ id?: string }> | null;
}

/** Builds the argv of `restic forget` (no secret ever goes here). */
export function buildForgetArgs(opts: RunForgetOptions): string[] {
  const args = ['forget', '--json'];
  for (const t of opts.tags ?? []) args.push('--tag', t);
  if (opts.host !== undefined) args.push('--host', opts.host);
  const k = opts.keep;
  const counts: Array<[keyof KeepPolicy, string]> = [
    ['last', '--keep-last'],
    ['hourly', '--keep-hourly'],
    ['daily', '--keep-daily'],
    ['weekly', '--keep-weekly'],
    ['monthly', '--keep-monthly'],
    ['yearly', '--keep-yearly'],
  ];
  for (const [key, flag] of counts) {
    const n = k[key];
    if (n === undefined) continue;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) {
      throw new RangeError(`keep.${key} must be a whole number >= 0, got ${String(n)}`);
    }
    args.push(flag, String(n));
  }
  if (k.within !== undefined) args.push('--keep-within', k.within);
  for (const t of k.tags ?? []) args.push('--keep-tag', t);
  if (opts.groupBy !== undefined) args.push('--group-by', opts.groupBy);
  if (opts.prune) args.push('--prune');
  if (opts.dryRun) args.push('--dry-run');
  return args;
}

const ids = (list: Array<{ id?: string }> | null | undefined): string[] =>
  (list ?? []).map((s) => s.id).filter((id): id is string => typeof id === 'string');

// restic 0.18+ names each snapshot it could not delete on stderr (0.19 then exits 3, 0.18 exits 0);
// 0.14 retries and fails with exit 1 and no JSON.
const NOT_REMOVED = /^unable to remove snapshot\/([0-9a-f]{64}) from the repository$/;

/**
 * Runs `restic forget --json` with a keep policy for the given tags and returns the kept and
 * removed snapshots per group. restic 0.14 prints the JSON array on one line and, with
 * `--prune`, the prune report as text after it: that text is returned in `log`. Snapshots the
 * policy removes but restic could not delete are counted in `notRemovedCount`, not as removed,
 * and make the outcome `incomplete`. Never throws for restic's failures (they are outcomes);
 * throws `ResticError` only when restic cannot start.
 *
 * @example
 * const r = await runForget({ repository, password, tags: ['daily'], keep: { daily: 7 }, prune: true });
 * console.log(r.removedCount);
 */
export async function runForget(opts: RunForgetOptions): Promise<ForgetResult> {
  const run = await runResticCommand('forget', buildForgetArgs(opts), opts);
  const failed = new Set<string>();
  for (const l of run.stderr) {
    const m = NOT_REMOVED.exec(l.trim());
    if (m?.[1]) failed.add(m[1]);
  }
  const groups: ForgetGroup[] = [];
  const json = findJsonLine(run.stdout, 'array');
  if (Array.isArray(json)) {
    for (const g of json as ResticForgetGroup[]) {
      const planned = ids(g.remove);
      groups.push({
        tags: g.tags ?? [],
        host: g.host ?? '',
        paths: g.paths ?? [],
        kept: ids(g.keep),
        keptTimes: (g.keep ?? [])
          .filter((s) => typeof s.id === 'string')
          .map((s) => (typeof s.time === 'string' ? Date.parse(s.time) : Number.NaN)),
        removed: planned.filter((id) => !failed.has(id)),
        notRemoved: planned.filter((id) => failed.has(id)),
      });
    }
  }
  const keptCount = groups.reduce((n, g) => n + g.kept.length, 0);
  const removedCount = groups.reduce((n, g) => n + g.removed.length, 0);
  const notRemoved = groups.flatMap((g) => g.notRemoved);
  const cls = run.classification;
  const what = opts.dryRun ? 'would remove' : 'removed';
  let outcome = cls.outcome;
  let message = cls.message;
  if (outcome === 'success' || outcome === 'incomplete') {
    const done = `restic forget ${what} ${removedCount} snapshot(s), kept ${keptCount}`;
    if (notRemoved.length > 0 || outcome === 'incomplete') {
      // 0.19 exits 3 (prune is then skipped); 0.18 exits 0 although the snapshots are still there
      outcome = 'incomplete';
      const which =
        notRemoved.length > 0
          ? `${notRemoved.length} could not be removed (${notRemoved.map((id) => id.slice(0, 8)).join(', ')})`
          : 'some could not be removed';
      // 0.18 names no failure besides the per-snapshot lines: only an exit_error is quoted
      const says = run.exitError ? resticSays({ exitError: run.exitError }) : undefined;
      message = `${done}; ${which}${says ? `; restic: ${maskCredentials(says)}` : ''}`;
    } else message = `${done}${opts.prune && !opts.dryRun ? ', pruned' : ''}`;
  }
  const result: ForgetResult = {
    outcome,
    message,
    exitCode: run.proc.exitCode,
    groups,
    keptCount,
    removedCount,
    notRemovedCount: notRemoved.length,
    log: run.stdout.filter((l) => {
      const t = l.trim();
      return !(t.startsWith('[{') || t === '[]' || t === 'null');
    }),
    durationMs: run.durationMs,
    startedAt: run.startedAt,
    endedAt: run.endedAt,
    stderrTail: run.stderr.slice(-20).join('\n'),
  };
  if (cls.reason !== undefined) result.reason = cls.reason;
  if (run.proc.signal !== null) result.signal = run.proc.signal;
  return result;
}
