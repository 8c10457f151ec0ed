/**
 * Streams the files of a snapshot with `restic ls --json SNAPSHOT`: one JSON line
 * for the snapshot, then one per node (`struct_type: node`; 0.17+ adds
 * `message_type: node`). Node paths are those inside the snapshot's tree; times
 * keep restic's nanoseconds.
 */
import { ResticCommandError } from '../errors.js';
import type { ResticCommandOptions } from './backup.js';
import { assertResticSucceeded, runResticCommand } from './run.js';

/** One regular file of a snapshot. */
export interface SnapshotFile {
  /** Path inside the snapshot (`/home/ada/notes.txt`; for a relative backup path, relative to its parent). */
  path: string;
  size: number;
  /** Modification time, nanoseconds since the epoch. */
  mtimeNs: bigint;
}

/** Options of {@link listSnapshotFiles}. */
export interface ListSnapshotFilesOptions extends ResticCommandOptions {
  /** Snapshot id (or `latest`). */
  snapshot: string;
  /** Called for every regular file, in the order restic lists them. */
  onFile: (file: SnapshotFile) => void;
}

/**
 * Parses an RFC 3339 time with up to nanosecond precision (`2024-06-15T03:00:00.123456789+02:00`)
 * to nanoseconds since the epoch; undefined when it is not one.
 */
export function parseTimeNs(text: string): bigint | undefined {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(text);
  if (!m) return undefined;
  const ms = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(ms)) return undefined;
  const frac = BigInt((m[2] ?? '').padEnd(9, '0'));
  return BigInt(ms) * 1_000_000n + frac;
}

/**
 * Lists the regular files of a snapshot without holding the listing (a snapshot may
 * hold millions of files). Throws `ResticCommandError` when restic fails.
 */
export async function listSnapshotFiles(opts: ListSnapshotFilesOptions): Promise<{ files: number }> {
  let files = 0;
  let bad = 0;
  const run = await runResticCommand('ls', ['ls', '--json', opts.snapshot], opts, {
    onStdoutLine: (line) => {
      if (!line.startsWith('{')) return;
      let v: { type?: unknown; path?: unknown; size?: unknown; mtime?: unknown; struct_type?: unknown };
      try {
        v = JSON.parse(line);
      } catch {
        bad++;
        return;
      }
      if (v.struct_type !== 'node' || v.type !== 'file' || typeof v.path !== 'string') return;
      const mtimeNs = typeof v.mtime === 'string' ? parseTimeNs(v.mtime) : undefined;
      if (typeof v.size !== 'number' || mtimeNs === undefined) {
        bad++;
        return;
      }
      files++;
      opts.onFile({ path: v.path, size: v.size, mtimeNs });
    },
  });
  assertResticSucceeded('ls', run);
  if (bad > 0 && files === 0)
    throw new ResticCommandError(`restic ls printed ${bad} line(s) that are not file nodes`, {
      command: 'ls',
      reason: 'other',
    });
  return { files };
}
