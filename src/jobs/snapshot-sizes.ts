/**
 * Snapshot sizes at a cost that grows with new snapshots, not with all of them.
 *
 * `restic stats --mode restore-size` over every snapshot walks every snapshot's trees
 * (the exporters' method: minutes on a long history). A snapshot never changes, so
 * its size is measured once and kept in `<state-dir>/snapshot-sizes.json` (per
 * profile, by snapshot id; ids no longer in the repository are dropped). Where it
 * comes from:
 *
 * 1. the cache;
 * 2. for each tier's newest snapshot, `restic stats --mode restore-size ID` (exact:
 *    what restoring it writes);
 * 3. the summary restic 0.17+ records in each snapshot (`total_bytes_processed`:
 *    the bytes of the files the backup read, which is the restored size except for
 *    hard links, counted once by restore-size);
 * 4. for an older snapshot without a summary (written by restic before 0.17),
 *    `restic stats --mode restore-size ID`, once.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ResticCommandOptions } from '../restic/backup.js';
import type { Snapshot } from '../restic/snapshots.js';
import { runStats } from '../restic/stats.js';
import { writeFileAtomic } from '../state/dir.js';

/** Where a snapshot's size came from. */
export type SizeSource = 'cache' | 'restore-size' | 'summary';

/** The sizes of a repository's snapshots, and how many restic runs they took. */
export interface SnapshotSizes {
  /** Bytes by snapshot id. */
  bytes: Map<string, number>;
  /** How many sizes came from each source this time. */
  sources: Record<SizeSource, number>;
}

/** The cache file of snapshot sizes. */
export function snapshotSizesPath(stateDir: string): string {
  return join(stateDir, 'snapshot-sizes.json');
}

async function readCache(stateDir: string): Promise<Record<string, Record<string, number>>> {
  try {
    const v = JSON.parse(await readFile(snapshotSizesPath(stateDir), 'utf8')) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v)
      ? (v as Record<string, Record<string, number>>)
      : {};
  } catch {
    return {};
  }
}

/**
 * Sizes every snapshot of a profile's repository, measuring only what the cache and the
 * summaries do not tell, and stores what it measured.
 * @param exact snapshot ids measured with restore-size even when their summary tells (each tier's newest)
 */
export async function resolveSnapshotSizes(
  restic: ResticCommandOptions,
  opts: { stateDir: string; profile: string; snapshots: readonly Snapshot[]; exact: ReadonlySet<string> },
): Promise<SnapshotSizes> {
  const all = await readCache(opts.stateDir);
  const cached = all[opts.profile] ?? {};
  const kept: Record<string, number> = {};
  const bytes = new Map<string, number>();
  const sources: Record<SizeSource, number> = { cache: 0, 'restore-size': 0, summary: 0 };
  let isChanged = false;
  for (const s of opts.snapshots) {
    const hit = cached[s.id];
    if (typeof hit === 'number') {
      bytes.set(s.id, hit);
      kept[s.id] = hit;
      sources.cache++;
      continue;
    }
    const summary = s.summary?.totalBytesProcessed;
    if (summary !== undefined && !opts.exact.has(s.id)) {
      // Not cached: a summary is free to read again, and an exact figure may replace it later.
      bytes.set(s.id, summary);
      sources.summary++;
      continue;
    }
    const measured = await runStats({ ...restic, mode: 'restore-size', snapshotIds: [s.id] });
    bytes.set(s.id, measured.totalSize);
    kept[s.id] = measured.totalSize;
    sources['restore-size']++;
    isChanged = true;
  }
  if (isChanged || Object.keys(kept).length !== Object.keys(cached).length) {
    all[opts.profile] = kept;
    await writeFileAtomic(snapshotSizesPath(opts.stateDir), `${JSON.stringify(all)}\n`);
  }
  return { bytes, sources };
}
