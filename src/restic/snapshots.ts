/**
 * Lists snapshots with `restic snapshots --json`.
 */
import { ResticCommandError } from '../errors.js';
import type { ResticCommandOptions } from './backup.js';
import { assertResticSucceeded, findJsonLine, runResticCommand } from './run.js';
import type { BackupSummary } from './types.js';

/** The backup figures restic 0.17+ stores in each snapshot: a backup's summary, times in Unix ms. */
export type SnapshotSummary = Omit<
  BackupSummary,
  'totalDuration' | 'snapshotId' | 'dryRun' | 'backupStart' | 'backupEnd'
> & {
  /** Unix ms. */
  backupStart?: number;
  backupEnd?: number;
};

/** One snapshot. */
export interface Snapshot {
  /** Full id (64 hex). */
  id: string;
  /** The 8-hex short id. */
  shortId: string;
  /** When the snapshot was taken, Unix ms. */
  time: number;
  tags: string[];
  hostname: string;
  username?: string;
  paths: string[];
  /** The previous snapshot of the same paths, when there is one. */
  parent?: string;
  /** restic 0.17+. */
  summary?: SnapshotSummary;
}

/** Options of {@link listSnapshots}. */
export interface ListSnapshotsOptions extends ResticCommandOptions {
  /** Only snapshots with this tag (`--tag`, one per entry; restic ORs them). */
  tags?: string[];
  /** Only snapshots of this host. */
  host?: string;
  /** Only snapshots of these paths. */
  paths?: string[];
}

interface ResticSnapshot {
  id: string;
  short_id?: string;
  time: string;
  tags?: string[] | null;
  hostname?: string;
  username?: string;
  paths?: string[] | null;
  parent?: string;
  summary?: Record<string, unknown>;
}

function toSnapshotSummary(s: Record<string, unknown>): SnapshotSummary {
  const n = (k: string): number => (typeof s[k] === 'number' ? (s[k] as number) : 0);
  const r: SnapshotSummary = {
    filesNew: n('files_new'),
    filesChanged: n('files_changed'),
    filesUnmodified: n('files_unmodified'),
    dirsNew: n('dirs_new'),
    dirsChanged: n('dirs_changed'),
    dirsUnmodified: n('dirs_unmodified'),
    dataBlobs: n('data_blobs'),
    treeBlobs: n('tree_blobs'),
    dataAdded: n('data_added'),
    totalFilesProcessed: n('total_files_processed'),
    totalBytesProcessed: n('total_bytes_processed'),
  };
  if (typeof s.data_added_packed === 'number') r.dataAddedPacked = s.data_added_packed;
  if (typeof s.backup_start === 'string') r.backupStart = Date.parse(s.backup_start);
  if (typeof s.backup_end === 'string') r.backupEnd = Date.parse(s.backup_end);
  return r;
}

/** Converts one entry of `restic snapshots --json` to a {@link Snapshot}. */
export function toSnapshot(s: ResticSnapshot): Snapshot {
  const snap: Snapshot = {
    id: s.id,
    shortId: s.short_id ?? s.id.slice(0, 8),
    time: Date.parse(s.time),
    tags: s.tags ?? [],
    hostname: s.hostname ?? '',
    paths: s.paths ?? [],
  };
  if (s.username !== undefined) snap.username = s.username;
  if (s.parent !== undefined) snap.parent = s.parent;
  if (s.summary && typeof s.summary === 'object') snap.summary = toSnapshotSummary(s.summary);
  return snap;
}

/**
 * Lists the repository's snapshots, oldest first. Throws `ResticCommandError` (with `reason`)
 * when restic fails, `ResticError` when it cannot start.
 *
 * @example
 * const daily = await listSnapshots({ repository, password, tags: ['daily'] });
 * const newest = daily.at(-1)?.time;
 */
export async function listSnapshots(opts: ListSnapshotsOptions): Promise<Snapshot[]> {
  const args = ['snapshots', '--json'];
  for (const t of opts.tags ?? []) args.push('--tag', t);
  if (opts.host !== undefined) args.push('--host', opts.host);
  for (const p of opts.paths ?? []) args.push('--path', p);
  const run = await runResticCommand('snapshots', args, opts);
  assertResticSucceeded('snapshots', run);
  const json = findJsonLine(run.stdout, 'array');
  if (json === null) return [];
  if (!Array.isArray(json))
    throw new ResticCommandError(`restic snapshots printed no JSON list: ${run.stdout[0] ?? '(nothing)'}`, {
      command: 'snapshots',
      reason: 'other',
    });
  return (json as ResticSnapshot[]).map(toSnapshot).sort((a, b) => a.time - b.time);
}
